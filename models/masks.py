"""Mask-set conventions, written once.

A *mask set* is a tensor `(B, K, H, W)` in [-1, 1]: K slots per sample, each one instance mask with -1 for
background and +1 for the instance (in-between values at resized edges). A slot is *empty* when no pixel is
above -1; empty slots are placeholders that the set networks skip (a generator passes them through
unchanged). Slots are ordered as `select_masks` left them (largest instance first by default). Images are
`(B, C, H, W)` in [-1, 1].
"""
from __future__ import annotations

import torch


def nonempty(segs: torch.Tensor) -> torch.Tensor:
    """(B, K) bool: which slots hold an instance."""
    return segs.flatten(2).amax(-1) > -1


def empty_like_slots(segs: torch.Tensor, k: int) -> torch.Tensor:
    """`k` empty slots with the batch size, size, dtype and device of `segs`."""
    b, _, h, w = segs.shape
    return segs.new_full((b, k, h, w), -1.0)


def select_masks(segs: torch.Tensor, k: int, order: str = "decreasing",
                 generator: torch.Generator | None = None) -> torch.Tensor:
    """Keep the `k` largest instances of each sample, largest first, empty slots last.

    `order="random"` keeps the same instances but shuffles the non-empty ones of each sample, as the paper's
    random-order ablation. Returns `(B, k, H, W)`; pads with empty slots when K < k.
    """
    if segs.shape[1] < k:
        segs = torch.cat([segs, empty_like_slots(segs, k - segs.shape[1])], 1)
    # (B, K) areas with the reference's arithmetic (its rounding, so its order of equal areas): of the masks in
    # decreasing order, of their [0, 2] forms in random order; an empty slot has the smallest
    area = (segs + 1 if order == "random" else segs).mean(-1).mean(-1)
    idx = area.topk(k, dim=1).indices                      # (B, k), decreasing area
    if order == "random":
        present = torch.gather(nonempty(segs), 1, idx)
        keys = torch.rand(idx.shape, generator=generator, device=idx.device)
        keys = torch.where(present, keys, 1.0 + torch.arange(k, device=idx.device).float())  # empties keep their place
        idx = torch.gather(idx, 1, keys.argsort(dim=1))
    elif order != "decreasing":
        raise ValueError(f"unknown set order '{order}'")
    return torch.gather(segs, 1, idx[:, :, None, None].expand(-1, -1, *segs.shape[2:]))


def merge_masks(segs: torch.Tensor, counts: torch.Tensor | None = None) -> torch.Tensor:
    """(B, 1, H, W) union of a mask set, as the reference: the clamped sum of the masks' [0, 1] forms, back in [-1, 1].

    For binary masks this is the pixel-wise maximum; soft edges of overlapping masks add up. `counts` (B, K)
    counts slots several times (see `SetTranslation.merged_rec_segs`).
    """
    fg = (segs + 1) / 2
    if counts is not None:
        fg = fg * counts[:, :, None, None].to(fg.dtype)
    return fg.sum(1, keepdim=True).clamp(0, 1) * 2 - 1


def context_weight(segs_a: torch.Tensor, segs_b: torch.Tensor) -> torch.Tensor:
    """(B, 1, H, W) weight of the context-preserving loss (Eq. 6): 1 where a pixel is background in both the
    input masks `segs_a` and the translated masks `segs_b`, 0 inside either, i.e. 1 - union(a, b') in [0, 1]."""
    return (1 - merge_masks(torch.cat([segs_a, segs_b], 1))) / 2
