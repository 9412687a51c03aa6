"""The reference's spectral normalisation (models/networks/spectral_norm.py), alone and in the set discriminator."""
import copy
import os

import pytest
import torch
from torch.nn.utils.parametrizations import spectral_norm as torch_spectral_norm

from models.run_state import load_state
from tests.models.test_set_networks import masks
from models.networks import define_D
from models.networks.spectral_norm import SpectralNorm

INIT = os.path.join(os.path.dirname(os.path.dirname(__file__)), "fixtures", "train_parity", "init")


def normalize(x):
    return x / (x.norm() + 1e-12)


def test_power_iteration_takes_v_from_u_first_in_eval_too():
    torch.manual_seed(0)
    sn = SpectralNorm(torch.nn.Conv2d(3, 5, 4)).eval()
    w = sn.module.weight_bar.detach().reshape(5, -1)
    u = sn.module.weight_u.clone()
    sn.module.weight_v.normal_()                                   # the stored v is never read
    with torch.no_grad():
        sn(torch.rand(1, 3, 8, 8))
    v = normalize(w.t() @ u)
    torch.testing.assert_close(sn.module.weight_v, v)
    torch.testing.assert_close(sn.module.weight_u, normalize(w @ v))


def test_output_and_gradient_equal_the_formula_with_sigma_differentiable():
    """After the iteration, conv(x, W / (u.Wv)) with u, v constant: torch's parametrization in eval mode computes
    exactly that from given u, v (it does not iterate in eval), gradient through sigma included."""
    torch.manual_seed(0)
    conv = torch.nn.Conv2d(3, 5, 4, padding=1)
    ours, theirs = SpectralNorm(copy.deepcopy(conv)), torch_spectral_norm(copy.deepcopy(conv)).eval()
    x = torch.rand(2, 3, 8, 8)
    out = ours(x)
    theirs.parametrizations.weight.original.data.copy_(ours.module.weight_bar.data)
    theirs.parametrizations.weight[0]._u.copy_(ours.module.weight_u)
    theirs.parametrizations.weight[0]._v.copy_(ours.module.weight_v)
    expected = theirs(x)
    torch.testing.assert_close(out, expected)
    grad = torch.rand_like(out)
    out.backward(grad)
    expected.backward(grad)
    torch.testing.assert_close(ours.module.weight_bar.grad, theirs.parametrizations.weight.original.grad)
    torch.testing.assert_close(ours.module.bias.grad, theirs.bias.grad)


def test_ranked_rows_equal_one_call_per_row():
    """rank j: the sigma after j + 1 iterations, as if each row were its own call; the vectors end n further on."""
    torch.manual_seed(0)
    sn = SpectralNorm(torch.nn.Conv2d(1, 4, 4, stride=2, padding=1))
    x, rank = torch.rand(5, 1, 16, 16), torch.tensor([0, 1, 2, 0, 1])
    one_by_one = copy.deepcopy(sn)
    batched = sn(x, rank, 3)
    expected = {}
    for j in range(3):
        expected[j] = one_by_one(x)                                # every row at the sigma of call j + 1
    for i, j in enumerate(rank.tolist()):
        torch.testing.assert_close(batched[i], expected[j][i])
    assert torch.equal(sn.module.weight_u, one_by_one.module.weight_u)
    assert torch.equal(sn.module.weight_v, one_by_one.module.weight_v)


def test_compiled_calls_before_one_backward_equal_eager():
    """A discriminator is called on real and fake images before its loss goes backward; between the calls u moves.
    Compiled, the moved u must not be what the first call saved for its backward."""
    torch.manual_seed(0)
    eager = SpectralNorm(torch.nn.Conv2d(3, 4, 4, stride=2, padding=1))
    compiled = copy.deepcopy(eager)
    run = torch.compile(compiled)
    x, rank = torch.rand(3, 3, 8, 8), torch.tensor([0, 1, 0])
    (eager(x).square().sum() + eager(x, rank, 2).sum()).backward()
    (run(x).square().sum() + run(x, rank, 2).sum()).backward()
    torch.testing.assert_close(compiled.module.weight_bar.grad, eager.module.weight_bar.grad)
    assert torch.equal(compiled.module.weight_u, eager.module.weight_u)


def test_sigma_converges_to_the_largest_singular_value():
    torch.manual_seed(0)
    sn = SpectralNorm(torch.nn.Conv2d(3, 6, 3))
    with torch.no_grad():
        sigma = sn.sigmas(300)
    largest = torch.linalg.matrix_norm(sn.module.weight_bar.detach().reshape(6, -1), ord=2)
    torch.testing.assert_close(sigma[-1], largest, rtol=1e-5, atol=0)
    assert (sigma[1:] - sigma[:-1]).min() > -1e-6                  # it grows towards it


# -- in the set discriminator ------------------------------------------------------------------------------------------
def sn_vectors(D):
    return [b.clone() for name, b in D.named_buffers() if name.endswith(("weight_u", "weight_v"))]


def loop_reference(D, img, segs):
    """The reference's order of work, one sample: f_img once, f_seg once per non-empty mask in slot order (each
    call one power iteration), sum, classify."""
    f_seg = sum(D.feature_seg(segs[:, k:k + 1]) for k in range(segs.shape[1]) if segs[0, k].max() > -1)
    return D.classifier(torch.cat([D.feature_img(img), f_seg], 1))


@pytest.fixture
def D():
    torch.manual_seed(0)
    return define_D(3, 4, "set")


def test_keys_and_shapes_equal_the_reference_checkpoint_in_its_order(D):
    reference = torch.load(os.path.join(INIT, "0_net_D_A.pth"), weights_only=True)
    assert [(k, v.shape) for k, v in D.state_dict().items()] == [(k, v.shape) for k, v in reference.items()]
    assert all(isinstance(D.feature_seg[i], SpectralNorm) for i in (0, 2, 5))


def test_one_batched_call_equals_the_reference_loop_over_masks(D):
    img, segs = torch.rand(1, 3, 32, 24) * 2 - 1, masks(1, 4, empty=[(0, 1)])
    loop = copy.deepcopy(D)
    out = D(img, segs)
    torch.testing.assert_close(out, loop_reference(loop, img, segs), atol=1e-6, rtol=0)
    for ours, theirs in zip(sn_vectors(D), sn_vectors(loop)):
        torch.testing.assert_close(ours, theirs, atol=1e-7, rtol=0)


def test_batch_of_n_equals_n_batches_of_one_from_the_same_vectors(D):
    img, segs = torch.rand(3, 3, 32, 24) * 2 - 1, masks(3, 4, empty=[(1, 3), (2, 0), (2, 1), (2, 2), (2, 3)])
    start = copy.deepcopy(D)
    out = D(img, segs)
    for i in range(3):
        one = copy.deepcopy(start)
        torch.testing.assert_close(one(img[i:i + 1], segs[i:i + 1]), out[i:i + 1], atol=1e-6, rtol=0)
        if i == 0:    # the sample with most instances: its call moves the vectors as far as the batch's
            for a, b in zip(sn_vectors(one), sn_vectors(D)):
                torch.testing.assert_close(a, b, atol=1e-7, rtol=0)
    # `advance` moves them further without changing the output (several processes agree on it)
    further = copy.deepcopy(start)
    torch.testing.assert_close(further(img, segs, advance=6), out, atol=1e-6, rtol=0)
    u = [net.feature_seg[0].module.weight_u for net in (further, D)]
    assert not torch.allclose(*u, atol=1e-7, rtol=0)


def test_empty_slots_add_nothing_and_order_stops_mattering_once_converged(D):
    img, segs = torch.rand(2, 3, 32, 24) * 2 - 1, masks(2, 3, empty=[(1, 2)])
    with torch.no_grad():
        out = copy.deepcopy(D)(img, segs)
        padded = copy.deepcopy(D)(img, torch.cat([segs, -torch.ones(2, 1, 32, 24)], 1))
        torch.testing.assert_close(padded, out, atol=1e-6, rtol=0)
        permuted = copy.deepcopy(D)(img, segs[:, [2, 0, 1]])
        assert not torch.allclose(permuted, out, atol=1e-6, rtol=0)   # early sigmas differ by the mask's rank
        for m in D.modules():
            if isinstance(m, SpectralNorm):
                m.sigmas(500)
        out = copy.deepcopy(D)(img, segs)
        torch.testing.assert_close(copy.deepcopy(D)(img, segs[:, [2, 0, 1]]), out, atol=1e-5, rtol=0)


def test_checkpoints_of_torchs_parametrization_still_load(D):
    """Earlier versions of this project saved torch's keys (`N.parametrizations.weight.original/0._u/0._v`,
    `N.bias`); they load into the reference's layout."""
    legacy = {}
    for key, value in D.state_dict().items():
        key = key.replace("module.weight_bar", "parametrizations.weight.original").replace(".module.bias", ".bias")
        key = key.replace("module.weight_u", "parametrizations.weight.0._u")
        legacy[key.replace("module.weight_v", "parametrizations.weight.0._v")] = value + 1
    fresh = define_D(3, 4, "set")
    load_state(fresh, legacy, "old.pth")
    for key, value in D.state_dict().items():
        assert torch.equal(fresh.state_dict()[key], value + 1), key
