"""Learning-rate schedules of the reference (`--lr_policy`), stepped once per epoch."""
from __future__ import annotations

import argparse

from torch.optim import Optimizer, lr_scheduler


def get_scheduler(optimizer: Optimizer, opt: argparse.Namespace) -> lr_scheduler.LRScheduler | lr_scheduler.ReduceLROnPlateau:
    if opt.lr_policy in ("lambda", "linear"):
        # constant for `niter` epochs, then linear decay towards zero over `niter_decay` epochs
        def rule(epoch: int) -> float:
            return max(0.0, 1.0 - max(0, epoch + opt.epoch_count - opt.niter) / float(opt.niter_decay + 1))
        return lr_scheduler.LambdaLR(optimizer, lr_lambda=rule)
    if opt.lr_policy == "step":
        return lr_scheduler.StepLR(optimizer, step_size=opt.lr_decay_iters, gamma=0.1)
    if opt.lr_policy == "plateau":
        return lr_scheduler.ReduceLROnPlateau(optimizer, mode="min", factor=0.2, threshold=0.01, patience=5)
    if opt.lr_policy == "constant":
        return lr_scheduler.LambdaLR(optimizer, lr_lambda=lambda epoch: 1.0)
    if opt.lr_policy == "cosine":
        return lr_scheduler.CosineAnnealingLR(optimizer, T_max=opt.niter, eta_min=0)
    raise ValueError(f"unknown learning rate policy '{opt.lr_policy}'")
