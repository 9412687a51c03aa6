"""The pix2pix U-Net generator (`--netG unet_256`: 8 downsamplings, `unet_128`: 7).

Built inside out as nested skip blocks so that the state-dict keys are pix2pix's (`model.model.0.weight`,
`model.model.1.model.1.weight`, ...) and its checkpoints load. Every block but the outermost returns
[input; decoded], which is the skip connection the next decoder level sees.
"""
from __future__ import annotations

import torch
import torch.nn as nn

from .blocks import NormLayer, uses_bias


class UnetSkipBlock(nn.Module):
    """One level: a stride-2 4x4 conv down, the `inner` levels, a stride-2 4x4 transposed conv back up.

    The outermost level reads the image and ends in tanh; the innermost has no inner level (and so no skip
    to concatenate in its decoder); the others normalise both convs, with dropout after the up conv if asked.
    """

    def __init__(self, outer_nc: int, inner_nc: int, norm_layer: NormLayer, inner: UnetSkipBlock | None = None,
                 input_nc: int | None = None, outermost: bool = False, use_dropout: bool = False):
        super().__init__()
        self.outermost = outermost
        bias = uses_bias(norm_layer)
        down_conv = nn.Conv2d(input_nc or outer_nc, inner_nc, 4, stride=2, padding=1, bias=bias)
        up_in = inner_nc if inner is None else 2 * inner_nc
        if outermost:
            layers = [down_conv, inner, nn.ReLU(True), nn.ConvTranspose2d(up_in, outer_nc, 4, 2, 1), nn.Tanh()]
        else:
            down = [nn.LeakyReLU(0.2, True), down_conv] + ([] if inner is None else [norm_layer(inner_nc), inner])
            up = [nn.ReLU(True), nn.ConvTranspose2d(up_in, outer_nc, 4, 2, 1, bias=bias), norm_layer(outer_nc)]
            layers = down + up + ([nn.Dropout(0.5)] if use_dropout else [])
        self.model = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.model(x) if self.outermost else torch.cat([x, self.model(x)], 1)


class UnetGenerator(nn.Module):
    """Widths ngf, 2ngf, 4ngf, then 8ngf for the remaining `num_downs - 3` levels. With `use_dropout`, the
    `num_downs - 5` 8ngf levels wrapping the innermost one drop out after their up conv (pix2pix's only
    noise source: 3 levels for unet_256, 2 for unet_128)."""

    def __init__(self, input_nc: int, output_nc: int, num_downs: int, ngf: int = 64,
                 norm_layer: NormLayer = nn.BatchNorm2d, use_dropout: bool = False):
        super().__init__()
        if num_downs < 5:
            raise ValueError(f"a U-Net needs at least 5 downsamplings, got {num_downs}")
        self.num_downs = num_downs
        block = UnetSkipBlock(ngf * 8, ngf * 8, norm_layer)
        for _ in range(num_downs - 5):
            block = UnetSkipBlock(ngf * 8, ngf * 8, norm_layer, block, use_dropout=use_dropout)
        for mult in (4, 2, 1):
            block = UnetSkipBlock(ngf * mult, ngf * mult * 2, norm_layer, block)
        self.model = UnetSkipBlock(output_nc, ngf, norm_layer, block, input_nc=input_nc, outermost=True)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        side = 2 ** self.num_downs
        if x.shape[-2] % side or x.shape[-1] % side:
            raise ValueError(f"a U-Net with {self.num_downs} downsamplings needs heights and widths divisible by "
                             f"{side}, got {x.shape[-2]}x{x.shape[-1]}")
        return self.model(x)
