"""The losses as small modules: InstaGAN's (Eq. 3-7), and BicycleGAN's multi-scale GAN loss and KL term.
InstaGAN's return means, so a batch's loss is the mean of its samples' losses; they are computed in fp32, also
under --amp."""
from __future__ import annotations

import torch
import torch.nn as nn

from .masks import context_weight


class GANLoss(nn.Module):
    """LSGAN (Eq. 3): mean (D - 1)^2 for real, mean D^2 for fake; `use_lsgan=False`: the vanilla GAN's binary
    cross-entropy on logits (the networks end without a sigmoid)."""

    def __init__(self, use_lsgan: bool = True):
        super().__init__()
        self.loss = nn.MSELoss() if use_lsgan else nn.BCEWithLogitsLoss()

    def forward(self, prediction: torch.Tensor, target_is_real: bool) -> torch.Tensor:
        target = torch.ones_like(prediction) if target_is_real else torch.zeros_like(prediction)
        return self.loss(prediction, target)


class MultiScaleGANLoss(GANLoss):
    """BicycleGAN's: the sum over a discriminator's scales (a list of maps) of each scale's mean loss. A single map
    is taken image by image, as the authors' loss iterates over whatever the discriminator returns: with one
    scale the loss is the sum over the batch of each image's mean."""

    def forward(self, predictions: torch.Tensor | list[torch.Tensor], target_is_real: bool) -> torch.Tensor:
        return sum(super(MultiScaleGANLoss, self).forward(p, target_is_real) for p in predictions)


def kl_divergence_sum(mu: torch.Tensor, logvar: torch.Tensor) -> torch.Tensor:
    """KL(N(mu, exp(logvar)) || N(0, I)) summed over the batch and the latent dimensions (BicycleGAN's, a sum,
    not a mean): -0.5 * sum(1 + logvar - mu^2 - exp(logvar))."""
    mu, logvar = mu.float(), logvar.float()
    return -0.5 * torch.sum(1 + logvar - mu.pow(2) - logvar.exp())


class SetL1Loss(nn.Module):
    """L1 between two (image, mask set) pairs taken as one tensor [image; masks], as the reference's cycle (Eq. 4)
    and identity (Eq. 5) losses: the mean runs over image and mask channels together."""

    def forward(self, img: torch.Tensor, segs: torch.Tensor, img_target: torch.Tensor,
                segs_target: torch.Tensor) -> torch.Tensor:
        return (torch.cat([img, segs], 1).float() - torch.cat([img_target, segs_target], 1).float()).abs().mean()


class ContextPreservingLoss(nn.Module):
    """Eq. 6: L1 between the input image and its translation, weighted by 1 where the pixel is background in
    both the input masks and the translated masks, 0 inside either."""

    def forward(self, real_img: torch.Tensor, real_segs: torch.Tensor, fake_img: torch.Tensor,
                fake_segs: torch.Tensor) -> torch.Tensor:
        weight = context_weight(real_segs.float(), fake_segs.float())
        return (weight * (real_img.float() - fake_img.float()).abs()).mean()
