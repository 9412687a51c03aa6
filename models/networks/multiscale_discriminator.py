"""Multi-scale PatchGAN (`--netD basic_128_multi` / `basic_256_multi`, with `--num_Ds` scales): BicycleGAN's.

Scale i judges the input average-pooled i times (3x3, stride 2, padding 1 not counted) with a PatchGAN of
round(ndf / 2**i) filters; the output is a list of maps, the finest first. Every conv has a bias (also before a
batch norm), as the authors'. Keys: `model_0.*`, `model_1.*`, ...; with one scale the single PatchGAN is `model.*`
and the output a tensor, as theirs (see `models/losses.py: MultiScaleGANLoss` for what a loss makes of it).
"""
from __future__ import annotations

import torch
import torch.nn as nn
import torch.nn.functional as F

from .blocks import NormLayer, patch_layers


def downsample(x: torch.Tensor) -> torch.Tensor:
    """The next scale's input: a 3x3 average, stride 2, the zero padding not counted."""
    return F.avg_pool2d(x, 3, stride=2, padding=1, count_include_pad=False)


class MultiScaleDiscriminator(nn.Module):
    def __init__(self, input_nc: int, ndf: int, n_layers: int, norm_layer: NormLayer, num_D: int):
        super().__init__()
        self.num_D = num_D
        for i in range(num_D):
            features, classifier = patch_layers(input_nc, int(round(ndf / 2 ** i)), n_layers, norm_layer, bias=True)
            self.add_module("model" if num_D == 1 else f"model_{i}", nn.Sequential(*features, *classifier))

    def forward(self, x: torch.Tensor) -> torch.Tensor | list[torch.Tensor]:
        """x (B, C, H, W) -> one (B, 1, h_i, w_i) map per scale (a tensor when num_D is 1)."""
        if self.num_D == 1:
            return self.model(x)
        maps = []
        for i in range(self.num_D):
            maps.append(getattr(self, f"model_{i}")(x))
            if i < self.num_D - 1:
                x = downsample(x)
        return maps
