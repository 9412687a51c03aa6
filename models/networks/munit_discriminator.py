"""The multi-scale discriminator of MUNIT and UNIT (the authors' `MsImageDis`).

`num_scales` identical PatchGANs; scale k+1 judges scale k's input average-pooled (3x3, stride 2, padding 1 not
counted; the same pooling as BicycleGAN's multi-scale discriminator). Each: a 4x4 stride-2 conv without norm,
`n_layer - 1` more doubling the channels with `norm`, all followed by `activ`, then a 1x1 conv to one channel (raw
scores). Every conv pads with `pad_type`. Keys `cnns.S.I.conv.*`, the last conv `cnns.S.{n_layer}.*`.
"""
from __future__ import annotations

import torch
import torch.nn as nn

from .conv_blocks import Conv2dBlock
from .multiscale_discriminator import downsample


class MsImageDiscriminator(nn.Module):
    def __init__(self, input_dim: int, dim: int = 64, n_layer: int = 4, num_scales: int = 3, norm: str = "none",
                 activ: str = "lrelu", pad_type: str = "reflect"):
        super().__init__()
        self.cnns = nn.ModuleList([self._patch_gan(input_dim, dim, n_layer, norm, activ, pad_type)
                                   for _ in range(num_scales)])

    @staticmethod
    def _patch_gan(input_dim: int, dim: int, n_layer: int, norm: str, activ: str, pad_type: str) -> nn.Sequential:
        layers: list[nn.Module] = [Conv2dBlock(input_dim, dim, 4, 2, 1, "none", activ, pad_type)]
        for _ in range(n_layer - 1):
            layers.append(Conv2dBlock(dim, dim * 2, 4, 2, 1, norm, activ, pad_type))
            dim *= 2
        layers.append(nn.Conv2d(dim, 1, 1, 1, 0))
        return nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> list[torch.Tensor]:
        """x (N, C, H, W) -> one (N, 1, h_k, w_k) map per scale, the finest first."""
        maps = []
        for k, cnn in enumerate(self.cnns):
            if k:
                x = downsample(x)
            maps.append(cnn(x))
        return maps
