"""The losses as small modules: InstaGAN's (Eq. 3-7), BicycleGAN's multi-scale GAN loss (also MUNIT's and UNIT's)
and KL term, and MUNIT's and UNIT's VGG loss.
InstaGAN's return means, so a batch's loss is the mean of its samples' losses; they are computed in fp32, also
under --amp."""
from __future__ import annotations

import torch
import torch.nn as nn
import torch.nn.functional as F

from util.errors import UserError, one_line
from .masks import context_weight


GAN_MODES = ("lsgan", "vanilla", "wgangp")     # --gan_mode


def saturating_bce(prediction: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """MUNIT's and UNIT's nsgan, and the InstaGAN reference's --no_lsgan (a sigmoid-ended D and BCELoss): the
    binary cross-entropy of sigmoid(D), not of the logits: where the sigmoid rounds to 0 or 1 the log is clamped at
    -100, so a saturated D gives a loss of 100 and no gradient, as theirs."""
    with torch.autocast(prediction.device.type, enabled=False):
        return F.binary_cross_entropy(torch.sigmoid(prediction.float()), target.float())


class GANLoss(nn.Module):
    """`gan_mode` (--gan_mode): lsgan (Eq. 3): mean (D - 1)^2 for real, mean D^2 for fake;
    vanilla: the original GAN's binary cross-entropy on logits (the networks end without a sigmoid); wgangp:
    pytorch-CycleGAN-and-pix2pix's Wasserstein critic loss, -mean D for real, mean D for fake (as there, without
    the gradient penalty that its name promises: its models never add it); nsgan: MUNIT's and UNIT's
    (`saturating_bce`)."""

    def __init__(self, gan_mode: str = "lsgan"):
        super().__init__()
        if gan_mode not in GAN_MODES + ("nsgan",):
            raise ValueError(f"unknown gan_mode '{gan_mode}' (one of {', '.join(GAN_MODES)}, nsgan)")
        self.gan_mode = gan_mode
        self.loss = {"lsgan": nn.MSELoss(), "vanilla": nn.BCEWithLogitsLoss(), "nsgan": saturating_bce}.get(gan_mode)

    def forward(self, prediction: torch.Tensor, target_is_real: bool) -> torch.Tensor:
        if self.loss is None:                                  # wgangp
            mean = prediction.float().mean()
            return -mean if target_is_real else mean
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


class VGGPerceptualLoss(nn.Module):
    """MUNIT's and UNIT's perceptual loss: mean((IN(f(x)) - IN(f(target)))^2), f the relu5_3 features of a VGG-16
    without the pooling between conv4_3 and conv5_1 (the authors' network: features at 1/8 size), IN an instance
    norm without affine parameters. Inputs in [-1, 1] are prepared as the authors' Caffe VGG: BGR, 0-255, minus the
    BGR means (103.939, 116.779, 123.680), no std division.

    `weights`: a file with a VGG-16 state dict, torchvision's (`features.N.*` keys; a classifier is ignored) or the
    authors' `vgg16.weight` (`conv1_1.*` ... `conv5_3.*`). The network is frozen."""

    BGR_MEAN = (103.939, 116.779, 123.680)

    def __init__(self, weights: str):
        super().__init__()
        from torchvision.models import vgg16

        from util.checkpoint import read_checkpoint

        state = read_checkpoint(weights, torch.device("cpu"))
        if not isinstance(state, dict):
            raise UserError(f"--vgg_weights {weights} is not a state dict")
        features = vgg16(weights=None).features
        # the authors' names of the 13 convs (blocks of 2, 2, 3, 3, 3) -> their indices in torchvision's features
        convs = [i for i, layer in enumerate(features) if isinstance(layer, nn.Conv2d)]
        names = [f"conv{block}_{n}" for block, size in enumerate((2, 2, 3, 3, 3), 1) for n in range(1, size + 1)]
        index = dict(zip(names, convs))

        def torchvision_key(key: str) -> str:
            if key.startswith("features."):
                return key[len("features."):]
            layer, _, rest = key.partition(".")
            return f"{index[layer]}.{rest}" if layer in index else key

        state = {torchvision_key(k): v for k, v in state.items() if not k.startswith("classifier.")}
        try:
            features.load_state_dict(state)
        except RuntimeError as e:
            raise UserError(f"--vgg_weights {weights} is not VGG-16 in torchvision's or the authors' layout: "
                            f"{one_line(e)}") from None
        self.features = nn.Sequential(*features[:23], *features[24:30]).eval()   # up to relu5_3, no 4th pooling
        self.features.requires_grad_(False)
        self.register_buffer("mean", torch.tensor(self.BGR_MEAN).view(1, 3, 1, 1), persistent=False)

    def train(self, mode: bool = True) -> "VGGPerceptualLoss":
        return super().train(False)       # always a fixed feature extractor

    def prepare(self, x: torch.Tensor) -> torch.Tensor:
        return (x.float().flip(1) + 1) * 127.5 - self.mean

    def forward(self, x: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        f_x, f_t = (F.instance_norm(self.features(self.prepare(t))) for t in (x, target))
        return (f_x - f_t).pow(2).mean()


def mean_l1(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """mean |a - b| over every element, in fp32 (MUNIT's and UNIT's reconstruction losses)."""
    return F.l1_loss(a.float(), b.float())
