"""The PatchGAN discriminator (`--netD basic`: 3 layers, 70x70 patches), one `model` Sequential as in CycleGAN."""
from __future__ import annotations

import torch
import torch.nn as nn

from .blocks import NormLayer, patch_layers


class NLayerDiscriminator(nn.Module):
    def __init__(self, input_nc: int, ndf: int = 64, n_layers: int = 3, norm_layer: NormLayer = nn.InstanceNorm2d,
                 use_sn: bool = False):
        super().__init__()
        features, classifier = patch_layers(input_nc, ndf, n_layers, norm_layer, use_sn)
        self.model = nn.Sequential(*features, *classifier)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.model(x)
