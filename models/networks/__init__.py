"""Network factories: `define_G` / `define_D` look the architecture up by its `--netG` / `--netD` name."""
from __future__ import annotations

import torch.nn as nn

from .blocks import get_norm_layer
from .init import init_weights
from .patch_discriminator import NLayerDiscriminator
from .resnet_generator import ResnetGenerator
from .set_discriminator import NLayerSetDiscriminator
from .set_generator import ResnetSetGenerator
from .unet_generator import UnetGenerator


def define_G(input_nc: int, output_nc: int, ngf: int, netG: str, norm: str = "instance", use_dropout: bool = False,
             n_blocks: int = 9, init_type: str = "normal", init_gain: float = 0.02, upsample: str = "transpose",
             output: str = "generate") -> nn.Module:
    """`upsample` and `output` apply to the ResNet generators only (options reject them for U-Nets)."""
    norm_layer = get_norm_layer(norm)
    resnet = dict(norm_layer=norm_layer, use_dropout=use_dropout, upsample=upsample, output=output)
    builders = {
        "set": lambda: ResnetSetGenerator(input_nc, output_nc, ngf, n_blocks=n_blocks, **resnet),
        "basic": lambda: ResnetGenerator(input_nc, output_nc, ngf, n_blocks=n_blocks, **resnet),
        "resnet_9blocks": lambda: ResnetGenerator(input_nc, output_nc, ngf, n_blocks=9, **resnet),
        "resnet_6blocks": lambda: ResnetGenerator(input_nc, output_nc, ngf, n_blocks=6, **resnet),
        "unet_128": lambda: UnetGenerator(input_nc, output_nc, 7, ngf, norm_layer, use_dropout),
        "unet_256": lambda: UnetGenerator(input_nc, output_nc, 8, ngf, norm_layer, use_dropout),
    }
    if netG not in builders:
        raise ValueError(f"unknown generator '{netG}'")
    return init_weights(builders[netG](), init_type, init_gain)


def define_D(input_nc: int, ndf: int, netD: str, n_layers_D: int = 3, norm: str = "instance",
             init_type: str = "normal", init_gain: float = 0.02) -> nn.Module:
    norm_layer = get_norm_layer(norm)
    builders = {
        "set": lambda: NLayerSetDiscriminator(input_nc, ndf, n_layers_D, norm_layer),
        "basic": lambda: NLayerDiscriminator(input_nc, ndf, 3, norm_layer),
        "n_layers": lambda: NLayerDiscriminator(input_nc, ndf, n_layers_D, norm_layer),
    }
    if netD not in builders:
        raise ValueError(f"unknown discriminator '{netD}'")
    return init_weights(builders[netD](), init_type, init_gain)
