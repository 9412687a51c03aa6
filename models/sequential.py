"""Sequential mini-batch translation (Section 2.3, Eq. 8-10), written once for training and inference.

The mask set a = a_1 u ... u a_M of every sample is cut into subsets of `ins_per` consecutive slots (in the
order `select_masks` left them: largest instance first by default). Step m translates the image left by step
m-1 with the next subset:  (y'_m, b'_m) = G(y'_{m-1}, a_m),  x_1 = x.  The outputs are detached before the next
step, so memory does not grow with the number of instances.

A sample whose subset is empty at step m is *inactive*: its image is left unchanged and it takes no part in
that step's losses. Only the active samples are gathered and translated, so every generator loss (and the
discriminator's fake term) is the mean over active samples, exactly as if they had been run one by one; the
discriminator's real term sees the whole batch.

In training, the backward generator G' runs twice per step: on the translation (cycle) and on the input
itself (identity, Eq. 5). With instance norm (`fold_identity`) both are one call on the two stacked as a batch:
instance norm and the set sums are per sample, so the outputs are those of two calls, for less time per sample.
"""
from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn as nn

from .masks import merge_masks, nonempty


def num_steps(ins_max: int, ins_per: int) -> int:
    """Number of sequential steps, the reference's ins_max // ins_per: when ins_per does not divide ins_max, the
    last ins_max % ins_per slots are never translated (their masks still count for the real images)."""
    return ins_max // ins_per


@dataclass
class Step:
    """One step's tensors for the active samples (`index` into the batch)."""
    index: torch.Tensor          # (n,) long
    real_img: torch.Tensor       # x_m          (n, C, H, W)
    real_segs: torch.Tensor      # a_m          (n, P, H, W)
    fake_img: torch.Tensor       # y'_m
    fake_segs: torch.Tensor      # b'_m         (n, P, H, W)
    rec_img: torch.Tensor        # G'(y'_m, b'_m) image
    rec_segs: torch.Tensor       # ... and masks
    fake_segs_all: torch.Tensor  # b'_{1:m}: earlier subsets (detached), b'_m, later slots empty  (n, K, H, W)
    idt_img: torch.Tensor | None = None   # G'(x_m, a_m) image, with `identity`
    idt_segs: torch.Tensor | None = None  # ... and masks


class SetTranslation:
    """The running state of one domain's batch (x, a) under G: the current image and the masks translated so far."""

    def __init__(self, img: torch.Tensor, segs: torch.Tensor, ins_per: int):
        self.real_img, self.real_segs, self.ins_per = img, segs, ins_per
        self.img = img                                  # y'_m for every sample (x where nothing was translated)
        self.fake_segs = torch.full_like(segs, -1.0)    # b'_{1:m}, empty where not translated yet
        self.rec_img = img                              # reconstruction from the first step (x where none)
        self.rec_segs = torch.full_like(segs, -1.0)

    def slots(self, m: int) -> slice:
        return slice(m * self.ins_per, min((m + 1) * self.ins_per, self.real_segs.shape[1]))

    def step(self, G: nn.Module, G_back: nn.Module, m: int, identity: bool = False) -> Step | None:
        """Translate the active samples with subset m and back with G_back (`identity`: also G_back on the input
        itself, in the same call); None if no sample is active."""
        sl = self.slots(m)
        subset = self.real_segs[:, sl]
        index = nonempty(subset).any(1).nonzero().flatten()
        if index.numel() == 0:
            return None
        real_img, real_segs = self.img[index].detach(), subset[index]
        fake_img, fake_segs = G(real_img, real_segs)
        if identity:
            back_img, back_segs = G_back(torch.cat([fake_img, real_img]), torch.cat([fake_segs, real_segs]))
            (rec_img, idt_img), (rec_segs, idt_segs) = back_img.chunk(2), back_segs.chunk(2)
        else:
            (rec_img, rec_segs), idt_img, idt_segs = G_back(fake_img, fake_segs), None, None
        done = self.fake_segs[index]
        fake_segs_all = torch.cat([done[:, : sl.start], fake_segs, done[:, sl.stop:]], 1)
        return Step(index, real_img, real_segs, fake_img, fake_segs, rec_img, rec_segs, fake_segs_all, idt_img,
                    idt_segs)

    def merged_rec_segs(self) -> torch.Tensor:
        """(B, 1, H, W) union of the reconstructed masks as the reference's result pages show it.

        The reference keeps a list of per-step reconstructions in which every step with no mask left repeats
        the previous step's, and merges with a clamped sum: the last subset's soft pixels count once per
        repeat. Reproduced so that its results are reproduced; only this visual is affected.
        """
        k, per = self.real_segs.shape[1], self.ins_per
        steps = num_steps(k, per)
        n_masks = nonempty(self.real_segs).sum(1)                      # non-empty slots come first
        active = ((n_masks + per - 1) // per).clamp(max=steps)         # steps in which each sample had masks
        slot_step = torch.arange(k, device=n_masks.device) // per      # (K,) step of each slot
        last = slot_step[None] == (active - 1)[:, None]                # (B, K) slots of the last active step
        repeats = (steps - active + 1)[:, None]
        return merge_masks(self.rec_segs, torch.where(last, repeats, torch.ones_like(repeats)))

    def commit(self, step: Step | None, m: int) -> None:
        """Record a step's (detached) outputs; the next step starts from them."""
        if step is None:
            return
        i, sl = step.index, self.slots(m)
        self.img = self.img.index_put((i,), step.fake_img.detach().to(self.img.dtype))
        self.fake_segs = self.fake_segs.clone()
        self.fake_segs[i, sl] = step.fake_segs.detach().to(self.fake_segs.dtype)
        self.rec_segs = self.rec_segs.clone()
        self.rec_segs[i, sl] = step.rec_segs.detach().to(self.rec_segs.dtype)
        if m == 0:
            self.rec_img = self.rec_img.index_put((i,), step.rec_img.detach().to(self.rec_img.dtype))
