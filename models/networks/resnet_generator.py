"""The CycleGAN ResNet generator (`--netG basic`/`resnet_9blocks`), one `model` Sequential as in CycleGAN's checkpoints."""
from __future__ import annotations

import torch
import torch.nn as nn

from .blocks import NormLayer, resnet_decoder_layers, resnet_encoder_layers


class ResnetGenerator(nn.Module):
    def __init__(self, input_nc: int, output_nc: int, ngf: int = 64, norm_layer: NormLayer = nn.InstanceNorm2d,
                 use_dropout: bool = False, n_blocks: int = 9, upsample: str = "transpose"):
        super().__init__()
        self.model = nn.Sequential(*resnet_encoder_layers(input_nc, ngf, norm_layer, use_dropout, n_blocks),
                                   *resnet_decoder_layers(output_nc, ngf, norm_layer, upsample=upsample))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.model(x)
