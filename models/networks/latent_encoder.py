"""BicycleGAN's encoders E(B) -> (mu, logvar) (`--netE resnet_128/256`, `conv_128/256`).

Both end in two linear heads on the same pooled features: `fc` gives the mean and `fcVar` the log-variance
of q(z | B) (nz values each). E always uses LeakyReLU(0.2), whatever `--nl` says, as the authors'. Their
encoders end with an 8x8 average pool, which works for last maps of 8 to 15 pixels a side (it averages the
top-left 8x8 window); `LastMapPool` gives that there, and the whole map's mean at the sizes where theirs fails, so
any size at least the network's `min_size` works, rectangular images too.
"""
from __future__ import annotations

import torch
import torch.nn as nn
import torch.nn.functional as F

from .blocks import NormLayer


def _lrelu() -> nn.Module:
    return nn.LeakyReLU(0.2, True)


class ResidualDownBlock(nn.Module):
    """[norm, LReLU, conv3x3, norm, LReLU, conv3x3 + avg pool 2](x) + conv1x1(avg pool 2(x)): halves the size.
    Keys as the authors': `conv.2`, `conv.5.0`, `shortcut.1` (norm layers present)."""

    def __init__(self, in_nc: int, out_nc: int, norm_layer: NormLayer | None):
        super().__init__()
        def norm() -> list[nn.Module]:
            return [norm_layer(in_nc)] if norm_layer is not None else []

        self.conv = nn.Sequential(*norm(), _lrelu(), nn.Conv2d(in_nc, in_nc, 3, padding=1), *norm(), _lrelu(),
                                  nn.Sequential(nn.Conv2d(in_nc, out_nc, 3, padding=1), nn.AvgPool2d(2)))
        self.shortcut = nn.Sequential(nn.AvgPool2d(2), nn.Conv2d(in_nc, out_nc, 1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.conv(x) + self.shortcut(x)


class LastMapPool(nn.Module):
    """(B, C, H, W) -> (B, C, 1, 1): the authors' nn.AvgPool2d(8) where it gives them one value per channel (H and
    W from 8 to 15: the top-left 8x8 window's mean), the mean of the whole map at every other size."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if all(8 <= side < 16 for side in x.shape[-2:]):
            x = x[..., :8, :8]
        return F.adaptive_avg_pool2d(x, 1)


class LatentEncoder(nn.Module):
    """Features (`conv`, ending in `LastMapPool`), then `fc` (mu) and `fcVar` (logvar), registered in the authors'
    order: `fc`, `fcVar`, `conv` for the ResNet encoders, `conv` first for the others."""

    def __init__(self, conv: list[nn.Module], width: int, nz: int, conv_first: bool = False):
        super().__init__()
        parts = {"fc": nn.Sequential(nn.Linear(width, nz)), "fcVar": nn.Sequential(nn.Linear(width, nz)),
                 "conv": nn.Sequential(*conv, LastMapPool())}
        for name in ("conv", "fc", "fcVar") if conv_first else ("fc", "fcVar", "conv"):
            self.add_module(name, parts[name])

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """x (B, C, H, W) -> mu (B, nz), logvar (B, nz)."""
        features = self.conv(x).flatten(1)
        return self.fc(features), self.fcVar(features)


def resnet_encoder(input_nc: int, nz: int, nef: int, n_blocks: int, norm_layer: NormLayer | None) -> LatentEncoder:
    """`resnet_128` (n_blocks 4) / `resnet_256` (5): a 4x4 stride-2 conv, n_blocks - 1 residual down blocks
    widening nef -> 2nef -> 3nef -> 4nef (then staying at 4nef), LReLU, the pool."""
    widths = [nef * min(4, n) for n in range(1, n_blocks + 1)]
    conv: list[nn.Module] = [nn.Conv2d(input_nc, nef, 4, stride=2, padding=1)]
    conv += [ResidualDownBlock(a, b, norm_layer) for a, b in zip(widths, widths[1:])]
    conv.append(_lrelu())
    return LatentEncoder(conv, widths[-1], nz)


def conv_encoder(input_nc: int, nz: int, nef: int, n_layers: int, norm_layer: NormLayer | None) -> LatentEncoder:
    """`conv_128` (n_layers 4) / `conv_256` (5): n_layers 4x4 stride-2 convs widening to at most 4nef, each but
    the first normalised, all followed by LReLU, then the pool."""
    conv: list[nn.Module] = [nn.Conv2d(input_nc, nef, 4, stride=2, padding=1), _lrelu()]
    mult = 1
    for n in range(1, n_layers):
        prev, mult = mult, min(2 ** n, 4)
        conv.append(nn.Conv2d(nef * prev, nef * mult, 4, stride=2, padding=1))
        conv += ([norm_layer(nef * mult)] if norm_layer is not None else []) + [_lrelu()]
    return LatentEncoder(conv, nef * mult, nz, conv_first=True)
