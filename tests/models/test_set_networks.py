"""Set generator and discriminator: symmetry, per-sample batching, empty slots, reference key layout (the
discriminator's spectral norm: test_spectral_norm.py)."""
import os

import pytest
import torch

from models.networks import define_D, define_G
from models.networks.blocks import fill_holes, get_norm_layer, paste, resnet_decoder_layers
from tests.conftest import FIXTURE


def masks(b, k, h=32, w=24, empty=(), seed=0):
    """Random soft masks in [-1, 1]; the (sample, slot) pairs in `empty` are all -1."""
    g = torch.Generator().manual_seed(seed)
    segs = torch.rand(b, k, h, w, generator=g) * 2 - 1
    for i, j in empty:
        segs[i, j] = -1
    return segs


@pytest.fixture(scope="module", params=[("transpose", "generate"), ("nearest", "generate"), ("nearest", "residual"),
                                        ("transpose", "paste")], ids="-".join)
def G(request):
    torch.manual_seed(0)
    upsample, output = request.param
    return define_G(3, 3, 4, "set", n_blocks=1, upsample=upsample, output=output).eval()


def test_generator_shapes_and_empty_slots_pass_through(G):
    img, segs = torch.rand(2, 3, 32, 24) * 2 - 1, masks(2, 3, empty=[(0, 1), (1, 2)])
    with torch.no_grad():
        out_img, out_segs = G(img, segs)
    assert out_img.shape == (2, 3, 32, 24) and out_segs.shape == (2, 3, 32, 24)
    assert torch.equal(out_segs[0, 1], segs[0, 1]) and torch.equal(out_segs[1, 2], segs[1, 2])
    assert not torch.allclose(out_segs[0, 0], segs[0, 0])


def test_generator_permutation_equivariant_masks_invariant_image(G):
    img, segs = torch.rand(1, 3, 32, 24) * 2 - 1, masks(1, 4, empty=[(0, 2)])
    perm = torch.tensor([3, 0, 2, 1])
    with torch.no_grad():
        out_img, out_segs = G(img, segs)
        p_img, p_segs = G(img, segs[:, perm])
    torch.testing.assert_close(p_img, out_img, atol=1e-5, rtol=0)
    torch.testing.assert_close(p_segs, out_segs[:, perm], atol=1e-5, rtol=0)


def test_generator_batch_of_n_equals_n_batches_of_one(G):
    img, segs = torch.rand(4, 3, 32, 24) * 2 - 1, masks(4, 3, empty=[(0, 2), (2, 0), (2, 1), (2, 2), (3, 1)])
    with torch.no_grad():
        out_img, out_segs = G(img, segs)
        for i in range(4):
            one_img, one_segs = G(img[i:i + 1], segs[i:i + 1])
            torch.testing.assert_close(out_img[i:i + 1], one_img, atol=1e-5, rtol=0)
            torch.testing.assert_close(out_segs[i:i + 1], one_segs, atol=1e-5, rtol=0)


def test_generator_without_any_instance(G):
    img, segs = torch.rand(2, 3, 32, 24) * 2 - 1, -torch.ones(2, 2, 32, 24)
    with torch.no_grad():
        out_img, out_segs = G(img, segs)
    assert out_img.shape == img.shape and torch.equal(out_segs, segs)


@pytest.mark.parametrize("upsample, checkerboard", [("transpose", True), ("nearest", False)])
def test_nearest_upsampling_has_no_checkerboard(upsample, checkerboard):
    """A constant feature map decodes to a constant interior with nearest + conv; the stride-2 transposed conv's
    uneven kernel overlap paints a period-2 pattern on it instead."""
    torch.manual_seed(0)
    decoder = torch.nn.Sequential(*resnet_decoder_layers(3, 4, get_norm_layer("none"), upsample=upsample))
    with torch.no_grad():
        out = decoder(torch.ones(1, 16, 8, 8))[..., 8:-8, 8:-8]
    spread = (out - out.mean((2, 3), keepdim=True)).abs().max().item()
    assert (spread > 1e-3) == checkerboard, spread
    assert any(isinstance(m, torch.nn.ConvTranspose2d) for m in decoder) == (upsample == "transpose")


@pytest.mark.parametrize("netG", ["set", "basic"])
def test_residual_output_with_zero_change_copies_the_input(netG):
    """--G_output residual: a decoder whose last conv outputs 0 leaves image and masks as they came in (up to the
    pull of +-1 to +-0.99); the reference's generators would output tanh(0) = 0, a grey image."""
    torch.manual_seed(0)
    G = define_G(3, 3, 4, netG, n_blocks=1, output="residual").eval()
    assert not any(isinstance(m, torch.nn.Tanh) for m in G.modules())
    for m in G.modules():
        if isinstance(m, torch.nn.Conv2d) and m.kernel_size == (7, 7) and m.in_channels > m.out_channels:
            torch.nn.init.zeros_(m.weight), torch.nn.init.zeros_(m.bias)   # the decoders' last convs
    img, segs = torch.rand(2, 3, 32, 24) * 2 - 1, masks(2, 3, empty=[(1, 2)]).sign()
    with torch.no_grad():
        if netG == "set":
            out_img, out_segs = G(img, segs)
            expected = segs.clamp(-0.99, 0.99)
            expected[1, 2] = -1                                        # an empty slot stays exactly -1
            torch.testing.assert_close(out_segs, expected, atol=1e-6, rtol=0)
        else:
            out_img = G(img)
    torch.testing.assert_close(out_img, img.clamp(-0.99, 0.99), atol=1e-6, rtol=0)
    with pytest.raises(ValueError, match="input_nc == output_nc"):
        define_G(3, 1, 4, netG, output="residual")


def test_paste_output_composes_the_generated_image_with_the_input():
    """--G_output paste: the decoder's image (that of --G_output generate, same weights) composed by blocks.paste."""
    torch.manual_seed(0)
    G = define_G(3, 3, 4, "set", n_blocks=1, output="paste").eval()
    generate = define_G(3, 3, 4, "set", n_blocks=1).eval()
    generate.load_state_dict(G.state_dict())                         # the same weights, the same keys
    img, segs = torch.rand(2, 3, 32, 24) * 2 - 1, masks(2, 2, empty=[(1, 0), (1, 1)]).sign()
    with torch.no_grad():
        out, out_segs = G(img, segs)
        new, new_segs = generate(img, segs)
    torch.testing.assert_close(out, paste(new, img, segs, out_segs), atol=1e-6, rtol=0)
    assert torch.equal(out_segs, new_segs)
    assert torch.equal(out[1], img[1]) and torch.equal(out_segs[1], segs[1])  # no instance: nothing changes
    with pytest.raises(ValueError, match="not one of the ResNet generator's"):
        define_G(3, 3, 4, "basic", output="paste")


def test_paste_takes_instances_from_the_translated_masks_and_fills_what_they_left():
    h = w = 20
    yy, xx = torch.meshgrid(torch.arange(h), torch.arange(w), indexing="ij")
    disk = (yy - 9.5) ** 2 + (xx - 9.5) ** 2 <= 36                  # input instance
    square = (yy >= 6) & (yy < 14) & (xx >= 6) & (xx < 14)            # translated instance, inside the disk
    background = torch.tensor([0.1, -0.2, 0.3]).view(1, 3, 1, 1)
    img = torch.where(disk, torch.tensor([0.9, -0.9, 0.0]).view(1, 3, 1, 1), background)

    def to_segs(m):  # one instance, one empty slot
        return torch.stack([m.float() * 2 - 1, -torch.ones(h, w)])[None]

    generated = torch.rand(1, 3, h, w) * 2 - 1
    out = paste(generated, img, to_segs(disk), to_segs(square))
    assert torch.equal(out[..., square], generated[..., square])
    assert torch.equal(out[..., ~disk], img[..., ~disk])
    left = disk & ~square                                             # where the instance was and is no more
    expected = background.view(1, 3, 1).expand(1, 3, int(left.sum()))
    torch.testing.assert_close(out[..., left], expected, atol=1e-6, rtol=0)


@pytest.mark.parametrize("size", [(64, 64), (37, 23)])
def test_fill_holes_keeps_known_pixels_and_reaches_across_any_hole(size):
    img = torch.rand(2, 3, *size) * 2 - 1
    assert torch.equal(fill_holes(img, torch.zeros(2, 1, *size)), img)
    hole = torch.ones(2, 1, *size)
    hole[0, :, 0, 0] = 0                                               # one known pixel per image
    hole[1, :, -1, -1] = 0
    filled = fill_holes(img, hole)
    torch.testing.assert_close(filled[0], img[0, :, :1, :1].expand(3, *size), atol=1e-5, rtol=0)
    torch.testing.assert_close(filled[1], img[1, :, -1:, -1:].expand(3, *size), atol=1e-5, rtol=0)


@pytest.mark.parametrize("n_layers", [2, 3, 4])
def test_discriminator_depth_follows_n_layers_D(n_layers):
    D = define_D(3, 4, "set", n_layers_D=n_layers).eval()
    strided = [m for m in D.feature_img.modules() if isinstance(m, torch.nn.Conv2d) and m.stride == (2, 2)]
    assert len(strided) == n_layers
    side = 64 // 2 ** n_layers
    with torch.no_grad():
        out = D(torch.rand(2, 3, 64, 64) * 2 - 1, masks(2, 2, 64, 64))
    assert out.shape == (2, 1, side - 2, side - 2)


def test_batch_norm_discriminator_keeps_the_references_classifier_bias():
    """The reference's set discriminator drops the biases before batch norms in its feature extractors, not in its
    classifier's first conv."""
    keys = define_D(3, 4, "set", norm="batch").state_dict().keys()
    assert "classifier.0.module.bias" in keys
    assert "feature_img.2.module.bias" not in keys and "feature_seg.2.module.bias" not in keys


def test_generator_keys_equal_the_reference():
    with open(os.path.join(FIXTURE, "..", "set_generator_state_dict_ngf16.txt")) as f:
        expected = [line.strip() for line in f.read().splitlines()[1:] if line.strip()]
    ours = [f"{k} {tuple(v.shape)}" for k, v in define_G(3, 3, 16, "set").state_dict().items()]
    assert ours == expected
