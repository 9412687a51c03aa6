"""BicycleGAN's U-Net generators G(A, z) (`--netG unet_64/128/256` under `--model bicycle_gan`).

A latent code z (B, nz) is tiled over the height and width of a feature map and concatenated after its channels:
`--where_add all` does it at the input of every down block (`UnetZAllGenerator`), `--where_add input` only at the
image (`UnetZInputGenerator`). Both differ from pix2pix's U-Net (unet_generator.py) in ways their checkpoints
show: the skip is [up path output; block input], every conv has a bias, and the up path's non-linearity is `--nl`
(the down path's is always LeakyReLU(0.2)). Module nesting follows the authors' so that their state-dict keys
(`model.down.0.weight`, `model.submodule.up.1.bias`, ... for `all`; `model.model.0.weight`, ... for `input`) load.
A `None` norm layer (`--norm none`) adds no module, as theirs.
"""
from __future__ import annotations

from typing import Callable

import torch
import torch.nn as nn

from .blocks import NormLayer

NonLinearity = Callable[[], nn.Module]
NONLINEARITIES: dict[str, NonLinearity] = {    # --nl: the generator's up path
    "relu": lambda: nn.ReLU(True),
    "lrelu": lambda: nn.LeakyReLU(0.2, True),
    "elu": lambda: nn.ELU(inplace=True),
}
Z_UPSAMPLING = ("basic", "bilinear")           # --upsample of these generators


def tile_z(x: torch.Tensor, z: torch.Tensor) -> torch.Tensor:
    """[x; z tiled over x's height and width]: x (B, C, H, W), z (B, nz) -> (B, C + nz, H, W)."""
    b, nz = z.shape
    return torch.cat([x, z.view(b, nz, 1, 1).expand(b, nz, *x.shape[-2:]).to(x.dtype)], 1)


def up_layers(in_nc: int, out_nc: int, upsample: str) -> list[nn.Module]:
    """x2 upsampling: `basic` a 4x4 stride-2 transposed conv; `bilinear` bilinear x2, reflect pad, 3x3 conv."""
    if upsample == "basic":
        return [nn.ConvTranspose2d(in_nc, out_nc, 4, stride=2, padding=1)]
    if upsample == "bilinear":
        return [nn.Upsample(scale_factor=2, mode="bilinear"), nn.ReflectionPad2d(1), nn.Conv2d(in_nc, out_nc, 3)]
    raise ValueError(f"unknown upsampling '{upsample}' (one of {', '.join(Z_UPSAMPLING)})")


def _level_layers(in_nc: int, outer_nc: int, inner_nc: int, position: str, norm_layer: NormLayer | None,
                  nl: NonLinearity, upsample: str, use_dropout: bool) -> tuple[list[nn.Module], list[nn.Module]]:
    """(down, up) layers of one U-Net level; `position` is outermost, middle or innermost. The up path takes
    2 * inner_nc channels (its skip concatenated) except at the innermost level."""
    norm = (lambda c: [norm_layer(c)]) if norm_layer is not None else (lambda c: [])
    conv = nn.Conv2d(in_nc, inner_nc, 4, stride=2, padding=1)
    if position == "outermost":
        return [conv], [nl()] + up_layers(2 * inner_nc, outer_nc, upsample) + [nn.Tanh()]
    if position == "innermost":
        return [nn.LeakyReLU(0.2, True), conv], [nl()] + up_layers(inner_nc, outer_nc, upsample) + norm(outer_nc)
    up = [nl()] + up_layers(2 * inner_nc, outer_nc, upsample) + norm(outer_nc)
    return [nn.LeakyReLU(0.2, True), conv] + norm(inner_nc), up + ([nn.Dropout(0.5)] if use_dropout else [])


def _widths(num_downs: int, ngf: int) -> list[tuple[int, int, bool]]:
    """(outer width, inner width, dropout allowed) of each level, innermost first: the innermost and the
    num_downs - 5 levels around it at 8ngf (those may drop out), then 4ngf, 2ngf, ngf going out."""
    if num_downs < 5:
        raise ValueError(f"a U-Net needs at least 5 downsamplings, got {num_downs}")
    levels = [(8 * ngf, 8 * ngf, False)] + [(8 * ngf, 8 * ngf, True)] * (num_downs - 5)
    return levels + [(4 * ngf, 8 * ngf, False), (2 * ngf, 4 * ngf, False), (ngf, 2 * ngf, False)]


def _check_size(x: torch.Tensor, num_downs: int) -> None:
    side = 2 ** num_downs
    if x.shape[-2] % side or x.shape[-1] % side:
        raise ValueError(f"a U-Net with {num_downs} downsamplings needs heights and widths divisible by {side}, "
                         f"got {x.shape[-2]}x{x.shape[-1]}")


class UnetZBlock(nn.Module):
    """One level of `--where_add all`: z joins this level's input before its down conv; the skip is the input
    without z. Keys: `down.*`, `submodule.*`, `up.*`."""

    def __init__(self, in_nc: int, outer_nc: int, inner_nc: int, nz: int, submodule: UnetZBlock | None,
                 position: str, norm_layer: NormLayer | None, nl: NonLinearity, upsample: str,
                 use_dropout: bool = False):
        super().__init__()
        self.outermost = position == "outermost"
        down, up = _level_layers(in_nc + nz, outer_nc, inner_nc, position, norm_layer, nl, upsample, use_dropout)
        self.down = nn.Sequential(*down)
        self.submodule = submodule
        self.up = nn.Sequential(*up)

    def forward(self, x: torch.Tensor, z: torch.Tensor) -> torch.Tensor:
        h = self.down(tile_z(x, z))
        if self.submodule is not None:
            h = self.submodule(h, z)
        h = self.up(h)
        return h if self.outermost else torch.cat([h, x], 1)


class UnetZAllGenerator(nn.Module):
    """G(A, z) with z at every level (`--where_add all`, BicycleGAN's default)."""

    def __init__(self, input_nc: int, output_nc: int, nz: int, num_downs: int, ngf: int,
                 norm_layer: NormLayer | None, nl: NonLinearity, use_dropout: bool = False, upsample: str = "basic"):
        super().__init__()
        self.num_downs = num_downs
        block = None
        for i, (outer, inner, drop) in enumerate(_widths(num_downs, ngf)):
            block = UnetZBlock(outer, outer, inner, nz, block, "innermost" if i == 0 else "middle", norm_layer, nl,
                               upsample, use_dropout and drop)
        self.model = UnetZBlock(input_nc, output_nc, ngf, nz, block, "outermost", norm_layer, nl, upsample)

    def forward(self, x: torch.Tensor, z: torch.Tensor) -> torch.Tensor:
        """x (B, input_nc, H, W) in [-1, 1], z (B, nz) -> (B, output_nc, H, W) in (-1, 1)."""
        _check_size(x, self.num_downs)
        return self.model(x, z)


class UnetInputBlock(nn.Module):
    """One level of `--where_add input`: one `model` Sequential [down, submodule, up] (keys `model.N.*`)."""

    def __init__(self, in_nc: int, outer_nc: int, inner_nc: int, submodule: UnetInputBlock | None, position: str,
                 norm_layer: NormLayer | None, nl: NonLinearity, upsample: str, use_dropout: bool = False):
        super().__init__()
        self.outermost = position == "outermost"
        down, up = _level_layers(in_nc, outer_nc, inner_nc, position, norm_layer, nl, upsample, False)
        layers = down + ([submodule] if submodule is not None else []) + up
        self.model = nn.Sequential(*layers, *([nn.Dropout(0.5)] if use_dropout else []))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.model(x) if self.outermost else torch.cat([self.model(x), x], 1)


class UnetZInputGenerator(nn.Module):
    """G(A, z) with z joining the image only (`--where_add input`; also what nz = 0 builds)."""

    def __init__(self, input_nc: int, output_nc: int, nz: int, num_downs: int, ngf: int,
                 norm_layer: NormLayer | None, nl: NonLinearity, use_dropout: bool = False, upsample: str = "basic"):
        super().__init__()
        self.num_downs, self.nz = num_downs, nz
        block = None
        for i, (outer, inner, drop) in enumerate(_widths(num_downs, ngf)):
            block = UnetInputBlock(outer, outer, inner, block, "innermost" if i == 0 else "middle", norm_layer, nl,
                                   upsample, use_dropout and drop)
        self.model = UnetInputBlock(input_nc + nz, output_nc, ngf, block, "outermost", norm_layer, nl, upsample)

    def forward(self, x: torch.Tensor, z: torch.Tensor | None = None) -> torch.Tensor:
        _check_size(x, self.num_downs)
        return self.model(tile_z(x, z) if self.nz > 0 else x)
