"""BicycleGAN's encoders E(B) -> (mu, logvar) (`--netE resnet_128/256`, `conv_128/256`).

Both end in two linear heads on the same pooled features: `fc` gives the mean and `fcVar` the log-variance
of q(z | B) (nz values each). E always uses LeakyReLU(0.2), whatever `--nl` says, as the authors'. Their
encoders pool the last 8x8 map with an 8x8 average pool, so they take only 128 (or 256) pixel images; here the
pool is adaptive (the same mean on an 8x8 map), so any size at least the network's `min_size` works and
rectangular images too.
"""
from __future__ import annotations

import torch
import torch.nn as nn

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


class LatentEncoder(nn.Module):
    """Features (`conv`), a global average, then `fc` (mu) and `fcVar` (logvar)."""

    def __init__(self, conv: list[nn.Module], width: int, nz: int):
        super().__init__()
        self.fc = nn.Sequential(nn.Linear(width, nz))          # registered first: the authors' key order
        self.fcVar = nn.Sequential(nn.Linear(width, nz))
        self.conv = nn.Sequential(*conv)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """x (B, C, H, W) -> mu (B, nz), logvar (B, nz)."""
        features = self.conv(x).flatten(1)
        return self.fc(features), self.fcVar(features)


def resnet_encoder(input_nc: int, nz: int, nef: int, n_blocks: int, norm_layer: NormLayer | None) -> LatentEncoder:
    """`resnet_128` (n_blocks 4) / `resnet_256` (5): a 4x4 stride-2 conv, n_blocks - 1 residual down blocks
    widening nef -> 2nef -> 3nef -> 4nef (then staying at 4nef), LReLU, global average."""
    widths = [nef * min(4, n) for n in range(1, n_blocks + 1)]
    conv: list[nn.Module] = [nn.Conv2d(input_nc, nef, 4, stride=2, padding=1)]
    conv += [ResidualDownBlock(a, b, norm_layer) for a, b in zip(widths, widths[1:])]
    conv += [_lrelu(), nn.AdaptiveAvgPool2d(1)]
    return LatentEncoder(conv, widths[-1], nz)


def conv_encoder(input_nc: int, nz: int, nef: int, n_layers: int, norm_layer: NormLayer | None) -> LatentEncoder:
    """`conv_128` (n_layers 4) / `conv_256` (5): n_layers 4x4 stride-2 convs widening to at most 4nef, each but
    the first normalised, all followed by LReLU, then a global average."""
    conv: list[nn.Module] = [nn.Conv2d(input_nc, nef, 4, stride=2, padding=1), _lrelu()]
    mult = 1
    for n in range(1, n_layers):
        prev, mult = mult, min(2 ** n, 4)
        conv.append(nn.Conv2d(nef * prev, nef * mult, 4, stride=2, padding=1))
        conv += ([norm_layer(nef * mult)] if norm_layer is not None else []) + [_lrelu()]
    conv.append(nn.AdaptiveAvgPool2d(1))
    return LatentEncoder(conv, nef * mult, nz)
