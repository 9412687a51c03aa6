"""Building blocks shared by the ResNet generators and PatchGAN discriminators.

Layer lists are returned (not Sequentials) so that callers can assemble them into `nn.Sequential`s whose
indices, and hence state-dict keys, equal the reference's.
"""
from __future__ import annotations

import functools
from typing import Callable

import torch
import torch.nn as nn
import torch.nn.functional as F

from models.masks import nonempty
from .spectral_norm import SpectralNorm

NormLayer = Callable[[int], nn.Module]
UPSAMPLING = ("transpose", "nearest")  # the ResNet decoders' x2 upsampling (--upsample)
# what a ResNet generator outputs (--G_output): a new image (the reference's), its input changed (add_to_input), or
# (set generator) the new image inside the translated masks pasted onto the input's background (paste)
OUTPUTS = ("generate", "residual", "paste")


def get_norm_layer(norm_type: str = "instance") -> NormLayer:
    """`instance`: InstanceNorm without affine parameters or running stats (the reference's choice)."""
    if norm_type == "batch":
        return functools.partial(nn.BatchNorm2d, affine=True, track_running_stats=True)
    if norm_type == "instance":
        return functools.partial(nn.InstanceNorm2d, affine=False, track_running_stats=False)
    if norm_type == "none":
        return lambda _channels: nn.Identity()
    raise ValueError(f"unknown norm layer '{norm_type}'")


def uses_bias(norm_layer: NormLayer) -> bool:
    """Convolutions before a norm carry a bias only before an instance norm, as pytorch-CycleGAN-and-pix2pix's
    (a batch norm has its own shift; with --norm none there its convs have none either, so its keys hold none)."""
    return getattr(norm_layer, "func", norm_layer) is nn.InstanceNorm2d


class ResnetBlock(nn.Module):
    """x + [pad, conv3x3, norm, ReLU, (dropout), pad, conv3x3, norm](x); the convs sit at indices 1 and 5 (6 with dropout)."""

    def __init__(self, dim: int, norm_layer: NormLayer, use_dropout: bool, use_bias: bool):
        super().__init__()
        layers: list[nn.Module] = [nn.ReflectionPad2d(1), nn.Conv2d(dim, dim, 3, bias=use_bias), norm_layer(dim),
                                   nn.ReLU(True)]
        if use_dropout:
            layers.append(nn.Dropout(0.5))
        layers += [nn.ReflectionPad2d(1), nn.Conv2d(dim, dim, 3, bias=use_bias), norm_layer(dim)]
        self.conv_block = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.conv_block(x)


def resnet_encoder_layers(input_nc: int, ngf: int, norm_layer: NormLayer, use_dropout: bool, n_blocks: int,
                          n_downsampling: int = 2) -> list[nn.Module]:
    """7x7 conv, `n_downsampling` stride-2 convs, then `n_blocks` residual blocks at width ngf * 2**n_downsampling."""
    bias = uses_bias(norm_layer)
    layers: list[nn.Module] = [nn.ReflectionPad2d(3), nn.Conv2d(input_nc, ngf, 7, bias=bias), norm_layer(ngf),
                               nn.ReLU(True)]
    for i in range(n_downsampling):
        c = ngf * 2 ** i
        layers += [nn.Conv2d(c, 2 * c, 3, stride=2, padding=1, bias=bias), norm_layer(2 * c), nn.ReLU(True)]
    width = ngf * 2 ** n_downsampling
    layers += [ResnetBlock(width, norm_layer, use_dropout, bias) for _ in range(n_blocks)]
    return layers


def resnet_decoder_layers(output_nc: int, ngf: int, norm_layer: NormLayer, n_downsampling: int = 2,
                          upsample: str = "transpose", tanh: bool = True) -> list[nn.Module]:
    """`n_downsampling` x2 upsamplings from width ngf * 2**n_downsampling, then 7x7 conv and tanh (unless not `tanh`:
    `add_to_input` applies it).

    `upsample`: "transpose" (3x3 stride-2 transposed conv, the reference's) or "nearest" (nearest-neighbour x2,
    then a 3x3 conv: no checkerboard pattern from uneven kernel overlap; Odena et al., Distill 2016).
    """
    bias = uses_bias(norm_layer)
    layers: list[nn.Module] = []
    for i in range(n_downsampling):
        c = ngf * 2 ** (n_downsampling - i)
        if upsample == "transpose":
            layers.append(nn.ConvTranspose2d(c, c // 2, 3, stride=2, padding=1, output_padding=1, bias=bias))
        elif upsample == "nearest":
            layers += [nn.Upsample(scale_factor=2, mode="nearest"), nn.Conv2d(c, c // 2, 3, padding=1, bias=bias)]
        else:
            raise ValueError(f"unknown upsampling '{upsample}'")
        layers += [norm_layer(c // 2), nn.ReLU(True)]
    layers += [nn.ReflectionPad2d(3), nn.Conv2d(ngf, output_nc, 7)] + ([nn.Tanh()] if tanh else [])
    return layers


def check_output(output: str, allowed: tuple[str, ...], input_nc: int, output_nc: int, generator: str) -> None:
    """Reject an `output` (OUTPUTS) that `generator` cannot give: not in `allowed`, or a change of an input of
    another channel count."""
    if output not in allowed:
        raise ValueError(f"output '{output}' is not one of the {generator}'s: {', '.join(allowed)}")
    if output != "generate" and input_nc != output_nc:
        raise ValueError(f"output '{output}' needs input_nc == output_nc, got {input_nc} and {output_nc}")


def add_to_input(change: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    """tanh(atanh(x) + change) in float32 (--G_output residual): the generator's output is its input `x` (in [-1, 1])
    changed, so a zero change copies it and only what must change has to be learnt. x is first pulled 0.5% in from
    +-1, where atanh is infinite (1.3 of 255 levels at the extremes)."""
    return torch.tanh(torch.atanh(x.float().clamp(-0.99, 0.99)) + change.float())


def fill_holes(img: torch.Tensor, hole: torch.Tensor) -> torch.Tensor:
    """img (B, C, H, W) with its pixels where hole (B, 1, H, W) is 1 replaced by a smooth fill from the pixels
    around them (push-pull: weighted means over a pyramid of 2x2 average pools, then, coarse to fine, each level
    keeps its known share and takes the rest from the level above, bilinearly upsampled). Reaches across holes of
    any size; pixels with hole 0 keep their value, soft holes blend."""
    levels = [(img * (1 - hole), 1 - hole)]                  # (sum of known values, known share) per cell
    while max(levels[-1][0].shape[-2:]) > 1:
        levels.append(tuple(F.avg_pool2d(t, 2, ceil_mode=True) for t in levels[-1]))
    known, share = levels[-1]
    filled = known / share.clamp_min(1e-6)
    for known, share in reversed(levels[:-1]):
        filled = known + (1 - share) * F.interpolate(filled, size=known.shape[-2:], mode="bilinear",
                                                     align_corners=False)
    return filled


def paste(generated: torch.Tensor, img: torch.Tensor, segs: torch.Tensor, segs_out: torch.Tensor) -> torch.Tensor:
    """--G_output paste: the generated image inside the translated masks `segs_out`, the input image `img`
    outside the input masks `segs`, and where an instance left (inside an input mask, outside every translated
    one) the background filled in from around it (`fill_holes`). Masks (B, K, H, W) in [-1, 1] count softly.
    The background is kept by construction, and the image's instances have exactly the translated masks' shapes."""
    inside_out = (segs_out.amax(1, keepdim=True) + 1) / 2
    inside_in = (segs.amax(1, keepdim=True) + 1) / 2
    return inside_out * generated + (1 - inside_out) * fill_holes(img, inside_in)


def patch_layers(input_nc: int, ndf: int, n_layers: int, norm_layer: NormLayer,
                 bias: bool | None = None) -> tuple[list[nn.Module], list[nn.Module]]:
    """PatchGAN (70x70 for n_layers=3) split as in the paper: the strided convs extract features, the last two
    (stride 1) classify. Returns (feature layers, classifier layers), built in that order; the classifier expects
    the feature width. The convs before a norm layer have a bias only before an instance norm (`uses_bias`;
    `bias` given: as it says)."""
    features = patch_features(input_nc, ndf, n_layers, norm_layer, bias=bias)
    return features, patch_classifier(ndf, n_layers, norm_layer, bias=bias)


def patch_features(input_nc: int, ndf: int, n_layers: int, norm_layer: NormLayer, use_sn: bool = False,
                   bias: bool | None = None) -> list[nn.Module]:
    """The strided convs of `patch_layers`: (B, input_nc, H, W) -> (B, ndf * min(2^(n_layers-1), 8), H', W')."""
    bias = uses_bias(norm_layer) if bias is None else bias
    sn = SpectralNorm if use_sn else (lambda m: m)
    features: list[nn.Module] = [sn(nn.Conv2d(input_nc, ndf, 4, stride=2, padding=1)), nn.LeakyReLU(0.2, True)]
    mult = 1
    for n in range(1, n_layers):
        prev, mult = mult, min(2 ** n, 8)
        features += [sn(nn.Conv2d(ndf * prev, ndf * mult, 4, stride=2, padding=1, bias=bias)), norm_layer(ndf * mult),
                     nn.LeakyReLU(0.2, True)]
    return features


def patch_classifier(ndf: int, n_layers: int, norm_layer: NormLayer, use_sn: bool = False,
                     bias: bool | None = None) -> list[nn.Module]:
    """The two stride-1 convs of `patch_layers`, from the features of `patch_features(..., ndf, n_layers)`."""
    bias = uses_bias(norm_layer) if bias is None else bias
    sn = SpectralNorm if use_sn else (lambda m: m)
    prev, mult = min(2 ** (n_layers - 1), 8), min(2 ** n_layers, 8)
    return [sn(nn.Conv2d(ndf * prev, ndf * mult, 4, stride=1, padding=1, bias=bias)), norm_layer(ndf * mult),
            nn.LeakyReLU(0.2, True), sn(nn.Conv2d(ndf * mult, 1, 4, stride=1, padding=1))]


def patch_min_size(n_layers: int) -> int:
    """Smallest input side a PatchGAN with `n_layers` strided convs accepts (the last conv needs 1 pixel out)."""
    def out(n: int) -> int:
        for _ in range(n_layers):
            n = (n - 2) // 2 + 1           # 4x4 conv, stride 2, padding 1
        return n - 2                       # two 4x4 convs, stride 1, padding 1

    size = 1
    while out(size) < 1:
        size += 1
    return size


def encode_set(encoder: nn.Module, segs: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Encode a mask set as one batch of its non-empty slots and sum the features per sample.

    Returns (features (N, D, h, w) of the N non-empty slots in (sample, slot) order, per-sample sums
    (B, D, h, w) to which empty slots add nothing, the (B*K,) non-empty flags).
    """
    b, k, h, w = segs.shape
    present = nonempty(segs).flatten()
    x = segs.reshape(b * k, 1, h, w)[present]
    if x.shape[0] == 0:
        return _encode_no_instance(encoder, x, present, b, k)
    f_seg = run_on_instances(encoder, x)
    return f_seg, _sum_per_sample(f_seg, present, b, k), present


def _sum_per_sample(f_seg: torch.Tensor, present: torch.Tensor, b: int, k: int) -> torch.Tensor:
    """The (B, D, h, w) sums of the features (N, D, h, w) of the `present` slots of B samples of K slots."""
    per_slot = f_seg.new_zeros(b * k, *f_seg.shape[1:])
    per_slot[present] = f_seg
    return per_slot.view(b, k, *f_seg.shape[1:]).sum(1)


def run_on_instances(part: nn.Module, x: torch.Tensor) -> torch.Tensor:
    """part(x) for x (N, ...), a batch of N instances. Under --compile (`base_model.compile_network`) the part takes
    any N >= 2 with one graph: N is marked dynamic (outside a compiled region: inside one the marks are not allowed,
    and the whole network is compiled per shape); N = 0 runs eagerly (`run_eager`)."""
    if len(x) == 0:
        return run_eager(part, x)
    if not torch.compiler.is_compiling():
        torch._dynamo.maybe_mark_dynamic(x, 0)
    return part(x)


@torch.compiler.disable
def _encode_no_instance(encoder: nn.Module, x: torch.Tensor, present: torch.Tensor, b: int,
                        k: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """`encode_set` for a batch of no mask, never compiled (`run_eager`); a whole compiled network (--compile under
    DataParallel) would also trace the empty scatter's backward, and AOTAutograd printed an anomaly-mode warning."""
    f_seg = run_eager(encoder, x)
    return f_seg, _sum_per_sample(f_seg, present, b, k), present


@torch.compiler.disable
def run_eager(part: nn.Module, x: torch.Tensor) -> torch.Tensor:
    """part(x) for a batch of no instance (x (0, ...): samples without masks), never compiled: under --compile,
    inductor's CPU layout optimisation saves the conv weights channels-last, and for an empty batch its prediction
    of convolution_backward's grad_weight strides (contiguous) differs from what the eager kernel returns
    (channels-last), an assertion error in the backward. Eagerly it computes what it computes without --compile:
    zero (not None) gradients for the part's weights (and a discriminator's spectral norms moved on by its
    `advance`). A compiled part (`base_model.compile_network` sets a compiled forward on it) runs its class's
    forward: the compiled one would still compile within this function."""
    return type(part).forward(part, x) if isinstance(part, nn.Module) else part(x)
