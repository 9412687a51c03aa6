"""The CycleGAN ResNet generator (`--netG basic`/`resnet_9blocks`), one `model` Sequential as in CycleGAN's checkpoints.

With `output="residual"` the output is the input changed (`add_to_input`); this needs input_nc == output_nc."""
from __future__ import annotations

import torch
import torch.nn as nn

from .blocks import NormLayer, add_to_input, resnet_decoder_layers, resnet_encoder_layers


class ResnetGenerator(nn.Module):
    def __init__(self, input_nc: int, output_nc: int, ngf: int = 64, norm_layer: NormLayer = nn.InstanceNorm2d,
                 use_dropout: bool = False, n_blocks: int = 9, upsample: str = "transpose",
                 output: str = "generate"):
        super().__init__()
        if output not in ("generate", "residual"):
            raise ValueError(f"output '{output}' is not one of the ResNet generator's: generate, residual")
        if output == "residual" and input_nc != output_nc:
            raise ValueError(f"output 'residual' needs input_nc == output_nc, got {input_nc} and {output_nc}")
        self.residual_output = output == "residual"
        self.model = nn.Sequential(*resnet_encoder_layers(input_nc, ngf, norm_layer, use_dropout, n_blocks),
                                   *resnet_decoder_layers(output_nc, ngf, norm_layer, upsample=upsample,
                                                          tanh=not self.residual_output))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return add_to_input(self.model(x), x) if self.residual_output else self.model(x)
