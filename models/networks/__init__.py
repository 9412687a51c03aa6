"""The table of networks: every `--netG` / `--netD` / `--netE` value, declared once with its family, depth and
size rule; the options take their choices and checks from it, and the `define_*` factories build from it."""
from __future__ import annotations

import argparse
from dataclasses import dataclass

import torch.nn as nn

from util.errors import OptionError
from .blocks import OUTPUTS, get_norm_layer, patch_min_size
from .init import init_weights
from .latent_encoder import conv_encoder, resnet_encoder
from .multiscale_discriminator import MultiScaleDiscriminator
from .munit_discriminator import MsImageDiscriminator
from .munit_generator import AdaINGenerator
from .patch_discriminator import NLayerDiscriminator, PixelDiscriminator
from .resnet_generator import ResnetGenerator
from .set_discriminator import NLayerSetDiscriminator
from .set_generator import ResnetSetGenerator
from .unet_generator import UnetGenerator
from .unet_z_generator import NONLINEARITIES, UnetZAllGenerator, UnetZInputGenerator
from .unit_generator import VAEGenerator


@dataclass(frozen=True)
class Net:
    """One `--net*` value. `depth`: residual blocks (None: --n_blocks), U-Net downsamplings, strided PatchGAN
    convs (None: --n_layers_D; 0: the 1x1 PatchGAN, 1x1 convs only) or encoder stages; `outputs`: the --G_output
    values a generator offers. MUNIT's and UNIT's networks take their depths from --n_downsample, --n_layers_D and
    --num_scales."""
    family: str
    depth: int | None
    help: str
    outputs: tuple[str, ...] = ("generate",)

    def size_rule(self, n_layers_D: int = 3, n_downsample: int = 2, num_scales: int = 1) -> tuple[int, int]:
        """(smallest side, what every side must be a multiple of) of the images this network takes."""
        if self.family == "munit":                             # the style encoder halves 4 times (reflect pads)
            return max(16, 2 ** n_downsample), 2 ** n_downsample
        if self.family == "unit":
            return max(4, 2 ** n_downsample), 2 ** n_downsample
        if self.family == "ms_image":                          # the coarsest scale's last conv sees >= 2 pixels
            return 2 ** (n_layers_D + num_scales - 1), 1
        if self.family in ("set", "resnet"):
            return 4, 4                                        # two stride-2 convs down, two up
        if self.family == "unet":
            return 2 ** self.depth, 2 ** self.depth
        if self.family == "patch" and self.depth == 0:
            return 1, 1                                        # 1x1 convs: any size
        if self.family in ("set_patch", "patch", "multi_patch"):
            return patch_min_size(self.depth or n_layers_D), 1
        return 2 ** self.depth, 1                              # encoders: depth halvings, then a pool


GENERATORS: dict[str, Net] = {
    "set": Net("set", None, "InstaGAN's set generator (--n_blocks residual blocks)", OUTPUTS),
    "basic": Net("resnet", None, "CycleGAN's ResNet generator, --n_blocks residual blocks", OUTPUTS[:2]),
    "resnet_9blocks": Net("resnet", 9, "ResNet generator, 9 residual blocks", OUTPUTS[:2]),
    "resnet_6blocks": Net("resnet", 6, "ResNet generator, 6 residual blocks", OUTPUTS[:2]),
    "unet_64": Net("unet", 6, "U-Net, 6 downsamplings (sides: multiples of 64)"),
    "unet_128": Net("unet", 7, "U-Net, 7 downsamplings (sides: multiples of 128)"),
    "unet_256": Net("unet", 8, "U-Net, 8 downsamplings (sides: multiples of 256)"),
    "adain": Net("munit", None, "MUNIT's content and style encoders with an AdaIN decoder (--n_downsample, --n_res)"),
    "vae": Net("unit", None, "UNIT's VAE: an encoder and a decoder (--n_downsample, --n_res)"),
}
DISCRIMINATORS: dict[str, Net] = {
    "set": Net("set_patch", None, "InstaGAN's set discriminator, --n_layers_D strided convs"),
    "basic": Net("patch", 3, "70x70 PatchGAN (3 strided convs)"),
    "n_layers": Net("patch", None, "PatchGAN with --n_layers_D strided convs"),
    "basic_128": Net("patch", 2, "PatchGAN with 2 strided convs (BicycleGAN's for 128 pixels)"),
    "basic_256": Net("patch", 3, "PatchGAN with 3 strided convs (BicycleGAN's for 256 pixels)"),
    "pixel": Net("patch", 0, "1x1 PatchGAN (PixelGAN): 1x1 convs, one decision per pixel"),
    "basic_128_multi": Net("multi_patch", 2, "--num_Ds PatchGANs of 2 strided convs on ever coarser scales"),
    "basic_256_multi": Net("multi_patch", 3, "--num_Ds PatchGANs of 3 strided convs on ever coarser scales"),
    "ms_image": Net("ms_image", None, "MUNIT's and UNIT's --num_scales PatchGANs of --n_layers_D strided convs on ever "
                                      "coarser scales"),
}
ENCODERS: dict[str, Net] = {
    "resnet_128": Net("resnet_encoder", 4, "conv and 3 residual down blocks"),
    "resnet_256": Net("resnet_encoder", 5, "conv and 4 residual down blocks"),
    "conv_128": Net("conv_encoder", 4, "4 strided convs"),
    "conv_256": Net("conv_encoder", 5, "5 strided convs"),
}


def check_size(opt: argparse.Namespace, flag: str, net: Net) -> None:
    """Refuse image sizes that `net`, chosen by `flag`, cannot take (at parse time, in one line), as far as
    --resize_or_crop makes them known then: the crop (--fineSizeH/W; also without a --resize_or_crop in `opt`), for
    resize the load size;
    for scale_width the width --loadSizeW and the least height --fineSizeH, for shorter_side the shorter side
    --loadSizeW, the other side following each image's aspect ratio; for none nothing, each image keeping its size
    (rounded to multiples of 4). Sizes known only per image are checked by the data in training against
    `opt.size_multiple`, set here: the largest multiple any network needs."""
    smallest, multiple = net.size_rule(opt.n_layers_D, getattr(opt, "n_downsample", 2), getattr(opt, "num_scales", 1))
    opt.size_multiple = max(getattr(opt, "size_multiple", 1), multiple)
    rule = f"at least {smallest} pixels per side" + (f", multiples of {multiple}" if multiple > 1 else "")
    mode = getattr(opt, "resize_or_crop", "crop")
    if mode == "none":
        return
    if mode in ("scale_width", "shorter_side"):
        side = opt.loadSizeW
        least = opt.fineSizeH if mode == "scale_width" else side
        if min(side, least) < smallest or side % multiple:
            sizes = f"a width of --loadSizeW {side} and heights from --fineSizeH {least} up do not" \
                if mode == "scale_width" else f"a shorter side of --loadSizeW {side} does not"
            raise OptionError(f"--preprocess {mode}: {sizes} fit {flag}: {rule}")
        return
    size = "loadSize" if mode == "resize" else "fineSize"      # resize: to the load size, not cropped
    h, w = getattr(opt, size + "H"), getattr(opt, size + "W")
    if min(h, w) < smallest or h % multiple or w % multiple:
        raise OptionError(f"--{size}H/W ({h}x{w}) do not fit {flag}: {rule}")


def describe(table: dict[str, Net]) -> str:
    """The choices of a `--net*` flag for its help text."""
    return "; ".join(f"{name}: {net.help}" for name, net in table.items())


def _lookup(table: dict[str, Net], name: str, role: str) -> Net:
    if name not in table:
        raise ValueError(f"unknown {role} '{name}' (one of {', '.join(table)})")
    return table[name]


def define_G(input_nc: int, output_nc: int, ngf: int, netG: str, norm: str = "instance", use_dropout: bool = False,
             n_blocks: int = 9, init_type: str = "normal", init_gain: float = 0.02, upsample: str = "transpose",
             output: str = "generate") -> nn.Module:
    """An image-to-image generator G(x). `upsample` and `output` apply to the ResNet families only."""
    net = _lookup(GENERATORS, netG, "generator")
    norm_layer = get_norm_layer(norm)
    resnet = dict(norm_layer=norm_layer, use_dropout=use_dropout, upsample=upsample, output=output,
                  n_blocks=n_blocks if net.depth is None else net.depth)
    if net.family == "set":
        model = ResnetSetGenerator(input_nc, output_nc, ngf, **resnet)
    elif net.family == "resnet":
        model = ResnetGenerator(input_nc, output_nc, ngf, **resnet)
    else:
        model = UnetGenerator(input_nc, output_nc, net.depth, ngf, norm_layer, use_dropout)
    return init_weights(model, init_type, init_gain)


def define_latent_G(input_nc: int, output_nc: int, nz: int, ngf: int, netG: str, norm: str, nl: str,
                    use_dropout: bool, init_type: str, init_gain: float, where_add: str, upsample: str) -> nn.Module:
    """BicycleGAN's G(x, z): a U-Net with z at every level (`where_add` all) or at the input only (nz = 0
    included)."""
    net = _lookup(GENERATORS, netG, "generator")
    if net.family != "unet":
        raise ValueError(f"a generator with a latent code is a U-Net, not '{netG}'")
    norm_layer = None if norm == "none" else get_norm_layer(norm)
    build = UnetZAllGenerator if where_add == "all" and nz > 0 else UnetZInputGenerator
    model = build(input_nc, output_nc, nz, net.depth, ngf, norm_layer, NONLINEARITIES[nl], use_dropout, upsample)
    return init_weights(model, init_type, init_gain)


def define_D(input_nc: int, ndf: int, netD: str, n_layers_D: int = 3, norm: str = "instance",
             init_type: str = "normal", init_gain: float = 0.02, num_Ds: int = 1) -> nn.Module:
    """A discriminator; `num_Ds` scales for the multi-scale family."""
    net = _lookup(DISCRIMINATORS, netD, "discriminator")
    norm_layer = get_norm_layer(norm)
    depth = n_layers_D if net.depth is None else net.depth
    if net.family == "set_patch":
        model = NLayerSetDiscriminator(input_nc, ndf, depth, norm_layer)
    elif net.family == "patch" and depth == 0:
        model = PixelDiscriminator(input_nc, ndf, norm_layer)
    elif net.family == "patch":
        model = NLayerDiscriminator(input_nc, ndf, depth, norm_layer)
    else:
        model = MultiScaleDiscriminator(input_nc, ndf, depth, norm_layer, num_Ds)
    return init_weights(model, init_type, init_gain)


def define_E(input_nc: int, nz: int, nef: int, netE: str, norm: str, init_type: str, init_gain: float) -> nn.Module:
    """BicycleGAN's encoder E(x) -> (mu, logvar)."""
    net = _lookup(ENCODERS, netE, "encoder")
    norm_layer = None if norm == "none" else get_norm_layer(norm)
    build = resnet_encoder if net.family == "resnet_encoder" else conv_encoder
    return init_weights(build(input_nc, nz, nef, net.depth, norm_layer), init_type, init_gain)


def define_translator(netG: str, input_dim: int, dim: int, n_downsample: int, n_res: int, activ: str, pad_type: str,
                      style_dim: int = 8, mlp_dim: int = 256, init_type: str | None = "kaiming",
                      init_gain: float = 0.02) -> nn.Module:
    """MUNIT's (`adain`) or UNIT's (`vae`) generator of one domain; init_type None keeps PyTorch's initialisation
    (to repeat the authors' random draws, which initialise later)."""
    net = _lookup(GENERATORS, netG, "generator")
    if net.family == "munit":
        model = AdaINGenerator(input_dim, dim, style_dim, n_downsample, n_res, mlp_dim, activ, pad_type)
    elif net.family == "unit":
        model = VAEGenerator(input_dim, dim, n_downsample, n_res, activ, pad_type)
    else:
        raise ValueError(f"'{netG}' is not a MUNIT or UNIT generator")
    return init_weights(model, init_type, init_gain, batch_norms=False) if init_type else model


def define_ms_image_D(input_dim: int, dim: int, n_layer: int, num_scales: int, norm: str, activ: str, pad_type: str,
                      init_type: str | None = "normal", init_gain: float = 0.02) -> nn.Module:
    """MUNIT's and UNIT's multi-scale discriminator (`--netD ms_image`); norm in the authors' names (none, in, ln,
    bn, sn)."""
    model = MsImageDiscriminator(input_dim, dim, n_layer, num_scales, norm, activ, pad_type)
    return init_weights(model, init_type, init_gain, batch_norms=False) if init_type else model
