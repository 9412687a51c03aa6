"""The PatchGAN discriminator (`--netD basic`: 3 layers, 70x70 patches), one `model` Sequential as in CycleGAN."""
from __future__ import annotations

import torch
import torch.nn as nn

from .blocks import NormLayer, patch_layers, uses_bias


class NLayerDiscriminator(nn.Module):
    def __init__(self, input_nc: int, ndf: int = 64, n_layers: int = 3, norm_layer: NormLayer = nn.InstanceNorm2d):
        super().__init__()
        features, classifier = patch_layers(input_nc, ndf, n_layers, norm_layer)
        self.model = nn.Sequential(*features, *classifier)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.model(x)


class PixelDiscriminator(nn.Module):
    """pytorch-CycleGAN-and-pix2pix's 1x1 PatchGAN (`--netD pixel`): each pixel judged on its own (the pix2pix paper:
    more colourful results, no sharper ones). Its `net` Sequential has that repository's keys (net.0, net.2, net.3
    for a norm with parameters, net.5), so its checkpoints load unchanged; as there, the second and third convs
    have a bias only before an instance norm."""

    def __init__(self, input_nc: int, ndf: int = 64, norm_layer: NormLayer = nn.BatchNorm2d):
        super().__init__()
        bias = uses_bias(norm_layer)
        self.net = nn.Sequential(nn.Conv2d(input_nc, ndf, 1), nn.LeakyReLU(0.2, True),
                                 nn.Conv2d(ndf, 2 * ndf, 1, bias=bias), norm_layer(2 * ndf), nn.LeakyReLU(0.2, True),
                                 nn.Conv2d(2 * ndf, 1, 1, bias=bias))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)
