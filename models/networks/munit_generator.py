"""MUNIT's generator (Huang et al., ECCV 2018): an image is a content code and a style code.

`encode(x)` -> (content (N, dim * 2**n_downsample, H / 2**n_downsample, W / 2**n_downsample), style (N, style_dim,
1, 1)); `decode(content, style)` -> image (N, C, H, W): the MLP turns the style into the decoder's AdaIN
parameters. Keys as the authors' `AdaINGen`: `enc_style.*`, `enc_content.*`, `dec.*`, `mlp.*`, built in that
order.
"""
from __future__ import annotations

import torch
import torch.nn as nn

from .conv_blocks import MLP, Conv2dBlock, ContentEncoder, Decoder, assign_adain_params, num_adain_params

STYLE_DOWNSAMPLINGS = 4   # the authors' style encoder always halves the image four times


class StyleEncoder(nn.Module):
    """x (N, C, H, W) -> (N, style_dim, 1, 1): a 7x7 conv, 4 stride-2 convs (channels doubled by the first two),
    all without norm, a global average and a 1x1 conv. Keys `model.0-4` (blocks), `model.6` (the 1x1 conv)."""

    def __init__(self, n_downsample: int, input_dim: int, dim: int, style_dim: int, activation: str,
                 pad_type: str):
        super().__init__()
        layers: list[nn.Module] = [Conv2dBlock(input_dim, dim, 7, 1, 3, "none", activation, pad_type)]
        for i in range(n_downsample):
            out = dim * 2 if i < 2 else dim
            layers.append(Conv2dBlock(dim, out, 4, 2, 1, "none", activation, pad_type))
            dim = out
        layers += [nn.AdaptiveAvgPool2d(1), nn.Conv2d(dim, style_dim, 1, 1, 0)]
        self.model = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.model(x)


class AdaINGenerator(nn.Module):
    """Encoders of content and style, an AdaIN decoder and the MLP feeding it."""

    def __init__(self, input_dim: int, dim: int = 64, style_dim: int = 8, n_downsample: int = 2, n_res: int = 4,
                 mlp_dim: int = 256, activ: str = "relu", pad_type: str = "reflect"):
        super().__init__()
        self.enc_style = StyleEncoder(STYLE_DOWNSAMPLINGS, input_dim, dim, style_dim, activ, pad_type)
        self.enc_content = ContentEncoder(n_downsample, n_res, input_dim, dim, "in", activ, pad_type)
        self.dec = Decoder(n_downsample, n_res, self.enc_content.output_dim, input_dim, "adain", activ, pad_type)
        self.mlp = MLP(style_dim, num_adain_params(self.dec), mlp_dim, 3, activ)

    def encode(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        return self.enc_content(x), self.enc_style(x)

    def decode(self, content: torch.Tensor, style: torch.Tensor) -> torch.Tensor:
        assign_adain_params(self.mlp(style), self.dec)
        return self.dec(content)

    def forward(self, x: torch.Tensor, style: torch.Tensor | None = None):
        """`encode(x)`, or `decode(x, style)` when a style is given: both as module calls, which DataParallel and
        torch.compile wrap."""
        return self.encode(x) if style is None else self.decode(x, style)
