"""The InstaGAN set discriminator (Eq. 2 of the paper), batched.

    h = [f_img(x); sum_i f_seg(a_i)] -> classifier -> PatchGAN logits

f_img and f_seg are the strided convs of a PatchGAN, the classifier its last two convs (doubled width). Every
conv is spectral-normalised (torch's parametrization). Instances of all samples are encoded as one batch, the
per-sample sum skips empty slots, so the output is invariant to the slot order and per sample.
"""
from __future__ import annotations

import re

import torch
import torch.nn as nn

from .blocks import NormLayer, encode_set, patch_layers


class NLayerSetDiscriminator(nn.Module):
    def __init__(self, input_nc: int, ndf: int = 64, n_layers: int = 3, norm_layer: NormLayer = nn.InstanceNorm2d):
        super().__init__()
        self.input_nc = input_nc
        self.feature_img = nn.Sequential(*patch_layers(input_nc, ndf, n_layers, norm_layer, use_sn=True)[0])
        self.feature_seg = nn.Sequential(*patch_layers(1, ndf, n_layers, norm_layer, use_sn=True)[0])
        self.classifier = nn.Sequential(*patch_layers(input_nc, 2 * ndf, n_layers, norm_layer, use_sn=True)[1])

    def forward(self, img: torch.Tensor, segs: torch.Tensor) -> torch.Tensor:
        """img (B, C, H, W), segs (B, K, H, W) -> logits (B, 1, h, w)."""
        _, f_sum, _ = encode_set(self.feature_seg, segs)
        return self.classifier(torch.cat([self.feature_img(img), f_sum], 1))


def convert_reference_state_dict(state: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """Rename a reference discriminator checkpoint (its own SpectralNorm wrapper: `N.module.weight_bar`,
    `weight_u`, `weight_v`, `N.module.bias`) to torch's parametrization keys. Other keys pass unchanged."""
    names = {"weight_bar": "parametrizations.weight.original", "weight_u": "parametrizations.weight.0._u",
             "weight_v": "parametrizations.weight.0._v", "bias": "bias"}
    out = {}
    for key, value in state.items():
        m = re.fullmatch(r"(.*)\.module\.(weight_bar|weight_u|weight_v|bias)", key)
        out[f"{m.group(1)}.{names[m.group(2)]}" if m else key] = value
    return out
