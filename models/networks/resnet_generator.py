"""The CycleGAN ResNet generator (`--netG basic`/`resnet_9blocks`), one `model` Sequential as in CycleGAN's checkpoints.

With `output="residual"` the output is the input changed (`add_to_input`); this needs input_nc == output_nc."""
from __future__ import annotations

import torch
import torch.nn as nn

from .blocks import NormLayer, add_to_input, check_output, resnet_decoder_layers, resnet_encoder_layers


class ResnetGenerator(nn.Module):
    def __init__(self, input_nc: int, output_nc: int, ngf: int = 64, norm_layer: NormLayer = nn.InstanceNorm2d,
                 use_dropout: bool = False, n_blocks: int = 9, upsample: str = "transpose",
                 output: str = "generate"):
        super().__init__()
        check_output(output, ("generate", "residual"), input_nc, output_nc, "ResNet generator")  # paste: no masks
        self.output = output
        self.model = nn.Sequential(*resnet_encoder_layers(input_nc, ngf, norm_layer, use_dropout, n_blocks),
                                   *resnet_decoder_layers(output_nc, ngf, norm_layer, upsample=upsample,
                                                          tanh=output != "residual"))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return add_to_input(self.model(x), x) if self.output == "residual" else self.model(x)
