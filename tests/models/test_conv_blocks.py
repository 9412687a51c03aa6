"""MUNIT's and UNIT's building blocks on small hand-checked tensors, their sizes beyond the fixtures', and the
network table's rules for them."""
import argparse

import pytest
import torch
import torch.nn.functional as F

from models import run_state
from models.networks import DISCRIMINATORS, GENERATORS, check_size, define_ms_image_D, define_translator
from models.networks.conv_blocks import (AdaptiveInstanceNorm2d, Conv2dBlock, LayerNorm, assign_adain_params,
                                         num_adain_params)
from models.networks.munit_discriminator import MsImageDiscriminator
from models.networks.munit_generator import AdaINGenerator
from models.networks.unit_generator import VAEGenerator, share_layers
from util.errors import OptionError


def test_layer_norm_uses_the_unbiased_std_with_eps_outside_the_root():
    x = torch.tensor([[[[1.0, 2.0], [3.0, 6.0]], [[0.0, 0.0], [4.0, 8.0]]]])     # (1, 2, 2, 2)
    norm = LayerNorm(2)
    with torch.no_grad():
        norm.gamma.copy_(torch.tensor([2.0, 0.5]))
        norm.beta.copy_(torch.tensor([1.0, -1.0]))
    values = [1.0, 2, 3, 6, 0, 0, 4, 8]
    mean = sum(values) / 8
    std = (sum((v - mean) ** 2 for v in values) / 7) ** 0.5            # N - 1
    expected = torch.tensor(values).view(1, 2, 2, 2).sub(mean).div(std + 1e-5)
    expected = expected * torch.tensor([2.0, 0.5]).view(1, 2, 1, 1) + torch.tensor([1.0, -1.0]).view(1, 2, 1, 1)
    torch.testing.assert_close(norm(x), expected)
    gamma = LayerNorm(1000).gamma.detach()                               # starts uniform(0, 1), as theirs
    assert 0 <= gamma.min() and gamma.max() <= 1 and abs(gamma.mean() - 0.5) < 0.05 and abs(gamma.std() - 0.289) < 0.03


def test_layer_norm_is_per_sample():
    x = torch.randn(3, 4, 5, 5)
    norm = LayerNorm(4)
    torch.testing.assert_close(norm(x), torch.cat([norm(x[i:i + 1]) for i in range(3)]))


def test_adain_takes_bias_then_weight_per_layer_in_module_order():
    net = torch.nn.Sequential(AdaptiveInstanceNorm2d(2), torch.nn.Identity(), AdaptiveInstanceNorm2d(1))
    assert num_adain_params(net) == 6
    params = torch.tensor([[1.0, 2.0, 3.0, 4.0, 5.0, 6.0], [0.0, 0.0, 1.0, 1.0, -1.0, 2.0]])   # (N=2, 6)
    assign_adain_params(params, net)
    first, second = net[0], net[2]
    torch.testing.assert_close(first.bias, params[:, :2])
    torch.testing.assert_close(first.weight, params[:, 2:4])
    torch.testing.assert_close(second.bias, params[:, 4:5])
    torch.testing.assert_close(second.weight, params[:, 5:6])
    x = torch.tensor([[1.0, 3.0], [5.0, 7.0]]).view(1, 1, 2, 2).repeat(2, 2, 1, 1)
    normalised = (x - 4.0) / (5.0 + 1e-5) ** 0.5                       # biased variance: 5, eps under the root
    expected = normalised * params[:, 2:4, None, None] + params[:, :2, None, None]
    torch.testing.assert_close(first(x), expected)
    first.eval()
    torch.testing.assert_close(first(x), expected)                   # instance statistics in eval mode too
    assert torch.equal(first.running_mean, torch.zeros(2)) and torch.equal(first.running_var, torch.ones(2))


def test_the_generator_is_one_call_per_batch_and_sizes_other_than_the_fixtures():
    gen = AdaINGenerator(3, dim=4, style_dim=3, n_downsample=3, n_res=1, mlp_dim=8).eval()
    x = torch.randn(4, 3, 48, 80)
    content, style = gen.encode(x)
    assert content.shape == (4, 32, 6, 10) and style.shape == (4, 3, 1, 1)
    out = gen.decode(content, style)
    assert out.shape == x.shape and out.abs().max() <= 1
    singles = torch.cat([gen.decode(*gen.encode(x[i:i + 1])) for i in range(4)])
    torch.testing.assert_close(out, singles, atol=1e-5, rtol=0)
    assert gen(content, style).shape == x.shape and gen(x)[1].shape == style.shape   # forward: decode / encode


def test_unit_shares_the_paper_s_layers():
    gen_a, gen_b = VAEGenerator(3, 4, 2, 3), VAEGenerator(3, 4, 2, 3)
    share_layers(gen_a, gen_b, 2)
    enc_a, enc_b = gen_a.enc.model[-1].model, gen_b.enc.model[-1].model
    dec_a, dec_b = gen_a.dec.model[0].model, gen_b.dec.model[0].model
    assert enc_a[0] is not enc_b[0] and enc_a[1] is enc_b[1] and enc_a[2] is enc_b[2]
    assert dec_a[0] is dec_b[0] and dec_a[1] is dec_b[1] and dec_a[2] is not dec_b[2]
    assert gen_b.state_dict().keys() == gen_a.state_dict().keys()     # the authors' keys, in each file
    with pytest.raises(ValueError):
        share_layers(gen_a, gen_b, 4)


def test_the_table_declares_their_networks_and_sizes():
    assert GENERATORS["adain"].family == "munit" and GENERATORS["vae"].family == "unit"
    assert DISCRIMINATORS["ms_image"].family == "ms_image"
    opt = argparse.Namespace(fineSizeH=64, fineSizeW=64, n_layers_D=4, num_scales=3, n_downsample=2)
    check_size(opt, "--netD ms_image", DISCRIMINATORS["ms_image"])     # the authors' D at 64: 2 pixels left
    check_size(opt, "--netG adain", GENERATORS["adain"])
    opt.fineSizeH = 32
    with pytest.raises(OptionError, match="at least 64"):
        check_size(opt, "--netD ms_image", DISCRIMINATORS["ms_image"])
    opt.fineSizeW = 30
    with pytest.raises(OptionError, match="multiples of 4"):
        check_size(opt, "--netG vae", GENERATORS["vae"])
    # the smallest sizes the table allows do run
    gen = define_translator("adain", 3, 4, 2, 1, "relu", "reflect", 2, 4)
    assert gen.decode(*gen.encode(torch.randn(1, 3, 16, 16))).shape == (1, 3, 16, 16)
    dis = define_ms_image_D(3, 4, 4, 3, "none", "lrelu", "reflect")
    assert [m.shape[-1] for m in dis(torch.randn(1, 3, 64, 64))] == [4, 2, 1]


# -- dis.norm sn: the authors' SpectralNorm wrapper (models/networks/spectral_norm.py) ---------------------------------
def unit_vector(x):
    return x / (x.norm() + 1e-12)


def test_sn_block_draws_keys_and_one_power_iteration_per_call():
    torch.manual_seed(0)
    block = Conv2dBlock(3, 4, 4, 2, 1, "sn", "lrelu", "reflect")
    torch.manual_seed(0)
    conv = torch.nn.Conv2d(3, 4, 4, 2)               # their draws: the conv's default initialisation, then u, then v
    u, v = unit_vector(torch.randn(4)), unit_vector(torch.randn(48))
    assert block.norm is None
    state = block.state_dict()
    assert sorted(state) == [f"conv.module.{name}" for name in ("bias", "weight_bar", "weight_u", "weight_v")]
    for key, want in (("weight_bar", conv.weight), ("bias", conv.bias), ("weight_u", u), ("weight_v", v)):
        assert torch.equal(state[f"conv.module.{key}"], want), key
    # their optimiser lists bias, weight_bar (u and v do not require gradients): the same order as ours
    assert [n for n, _ in block.named_parameters()] == ["conv.module.bias", "conv.module.weight_bar"]
    x = torch.randn(2, 3, 8, 8)
    w = conv.weight.detach().flatten(1)
    for _ in range(2):                               # every call: v from u, u from v, W / (u . W v), then the bias
        v = unit_vector(w.t() @ u)
        u = unit_vector(w @ v)
        expected = F.leaky_relu(F.conv2d(F.pad(x, (1,) * 4, mode="reflect"), conv.weight / (u @ w @ v), conv.bias,
                                         stride=2), 0.2)
        torch.testing.assert_close(block(x), expected)
        torch.testing.assert_close(block.conv.module.weight_u, u)
        torch.testing.assert_close(block.conv.module.weight_v, v)


def test_sn_convs_keep_their_default_initialisation_and_load_the_authors_layout():
    """As the authors' trainer: its initialisation (`init`, then N(0, 0.02) for D) skips a wrapped conv, which has no
    `weight` any more; the first conv of each scale and the last are not wrapped (theirs neither)."""
    torch.manual_seed(1)
    constructed = MsImageDiscriminator(3, 4, 3, 2, "sn", "lrelu", "reflect").state_dict()
    torch.manual_seed(1)
    dis = define_ms_image_D(3, 4, 3, 2, "sn", "lrelu", "reflect")
    state = dis.state_dict()
    wrapped = [k for k in state if ".conv.module." in k]
    assert len(wrapped) == 2 * 2 * 4 and [k for k in state if "weight_bar" in k][0] == "cnns.0.1.conv.module.weight_bar"
    for key, value in state.items():
        assert torch.equal(value, constructed[key]) == (key in wrapped), key
    # a state dict in their order (weight_u, weight_v registered before weight_bar) loads strictly
    theirs = {}
    for key in state:
        if key.endswith("conv.module.bias"):
            prefix = key[: -len("bias")]
            theirs.update({prefix + name: torch.randn(state[prefix + name].shape)
                           for name in ("bias", "weight_u", "weight_v", "weight_bar")})
        elif ".conv.module." not in key:
            theirs[key] = torch.randn(state[key].shape)
    run_state.load_state(dis, theirs, "dis_00000001.pt")
    assert all(torch.equal(dis.state_dict()[k], v) for k, v in theirs.items())
