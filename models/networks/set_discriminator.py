"""The InstaGAN set discriminator (Eq. 2 of the paper), batched.

    h = [f_img(x); sum_i f_seg(a_i)] -> classifier -> PatchGAN logits

f_img and f_seg are the strided convs of a PatchGAN, the classifier its last two convs (doubled width). Every
conv is spectral-normalised as the reference does it (spectral_norm.py). Instances of all samples are encoded as
one batch and the per-sample sum skips empty slots.

The reference encodes a sample's masks one call at a time, and every call moves f_seg's power iteration on: its
j-th non-empty mask is divided by the sigmas after j iterations. That is kept, batched: each mask is scaled by
the sigmas of its rank in its sample. So the output depends a little on the order of the masks until the power
iteration has converged (then all sigmas are equal and the sum is order-free, as Eq. 2), and a batch of N equals
N batches of 1 *started from the same spectral-norm vectors*: every sample sees the same sequence of sigmas, and
the vectors then move on by the largest number of instances in a sample (the reference, which encodes the slots
one by one for the whole batch, moves them as far when the non-empty slots come first, as they do here).
"""
from __future__ import annotations

import torch
import torch.nn as nn

from models.masks import nonempty
from .blocks import NormLayer, encode_set, patch_classifier, patch_features
from .spectral_norm import forward_ranked


class NLayerSetDiscriminator(nn.Module):
    # --compile: as the set generator's; f_seg runs eagerly, layer by layer with per-instance sigmas
    compile_parts = ("feature_img", "classifier")

    def __init__(self, input_nc: int, ndf: int = 64, n_layers: int = 3, norm_layer: NormLayer = nn.InstanceNorm2d):
        super().__init__()
        # built in the reference's order, nothing more (the same random draws); its classifier's first conv has a
        # bias whatever the norm
        self.feature_img = nn.Sequential(*patch_features(input_nc, ndf, n_layers, norm_layer, use_sn=True))
        self.feature_seg = nn.Sequential(*patch_features(1, ndf, n_layers, norm_layer, use_sn=True))
        self.classifier = nn.Sequential(*patch_classifier(2 * ndf, n_layers, norm_layer, use_sn=True, bias=True))

    def forward(self, img: torch.Tensor, segs: torch.Tensor, advance: int = 0) -> torch.Tensor:
        """img (B, C, H, W), segs (B, K, H, W) -> logits (B, 1, h, w).

        f_seg's spectral-norm vectors move on by the largest number of instances in a sample, or by `advance`
        if larger (several processes pass the largest over all their batches, so that their vectors agree)."""
        present = nonempty(segs)                                   # (B, K)
        rank = (present.cumsum(1) - 1)[present]                    # (N,) each instance's rank in its sample
        n = max(_most(present), advance)
        _, f_sum, _ = encode_set(lambda x: forward_ranked(self.feature_seg, x, rank, n), segs)
        return self.classifier(torch.cat([self.feature_img(img), f_sum], 1))


def instance_count(segs: torch.Tensor) -> int:
    """The largest number of instances of a sample in `segs` (B, K, H, W): how far one call moves f_seg."""
    return _most(nonempty(segs))


def _most(present: torch.Tensor) -> int:
    """The largest count of True in a row of `present` (B, K); 0 for an empty batch."""
    return int(present.sum(1).max()) if present.numel() else 0
