"""FID, KID and IS on torch-fidelity's Inception-v3: its network, weights format, TensorFlow-compatible resize to
299x299 and its statistics, so that the numbers are comparable with the papers that use the original TensorFlow
code. Only the features of images of different sizes are computed batch by batch (images.size_batches)."""
from __future__ import annotations

import pickle
from typing import Iterable, Sequence

import torch
from tqdm import tqdm

from util.errors import UserError, one_line
from util.log import logger
from .images import size_batches

# features of torch-fidelity's "inception-v3-compat": the pool features for FID and KID, the logits (without
# the bias, as the TensorFlow Inception Score) for IS; FID may also use an earlier layer's pooled features (64, 192
# or 768 values), as pytorch-fid's --dims, for sets smaller than 2048 images (numbers comparable only at one layer)
POOL, LOGITS = "2048", "logits_unbiased"
FID_LAYERS = ("2048", "768", "192", "64")
# below these counts the numbers are unreliable: FID's 2048x2048 covariance is singular (and FID biased upwards),
# KID's subsets are smaller than its usual 1000, IS's 10 splits hold fewer than 500 images each
RELIABLE = {"fid": 2048, "kid": 1000, "is": 5000}    # FID: the number of its features


def inception(weights: str, device: torch.device, layers: Sequence[str] = (POOL, LOGITS)) -> torch.nn.Module:
    """torch-fidelity's Inception-v3, giving the features `layers`, loaded by its own code from the file `weights`
    (its format)."""
    from torch_fidelity.utils import create_feature_extractor
    try:
        net = create_feature_extractor("inception-v3-compat", list(layers), cuda=False,
                                       feature_extractor_weights_path=weights, verbose=False)
    except (RuntimeError, OSError, ValueError, KeyError, EOFError, pickle.UnpicklingError) as e:
        raise UserError(f"cannot load the Inception-v3 weights {weights} (torch-fidelity's "
                        f"weights-inception-2015-12-05 format expected): {one_line(e)}") from None
    return net.to(device)


@torch.no_grad()
def features(net: torch.nn.Module, images: Iterable[torch.Tensor], total: int, device: torch.device,
             batch_size: int = 32, desc: str = "Inception") -> dict[str, torch.Tensor]:
    """The features of `net`'s layers (e.g. pool features (N, 2048), logits (N, 1008)) of uint8 (3, H, W) images."""
    out: dict[str, list[torch.Tensor]] = {layer: [] for layer in net.features_list}
    with tqdm(total=total, desc=desc, unit="image", disable=None, leave=False) as bar:
        for batch in size_batches(images, batch_size):
            for layer, values in zip(net.features_list, net(batch.to(device))):
                out[layer].append(values.cpu().double())
            bar.update(len(batch))
    if not out[net.features_list[0]]:
        raise UserError(f"no images to compute {desc} features of")
    return {k: torch.cat(v) for k, v in out.items()}


def fid(fake: torch.Tensor, real: torch.Tensor) -> float:
    """Fréchet distance between Gaussians fitted to two feature sets (N, D)."""
    from torch_fidelity.metric_fid import fid_features_to_statistics, fid_statistics_to_metric
    key = "frechet_inception_distance"
    return fid_statistics_to_metric(fid_features_to_statistics(fake), fid_features_to_statistics(real), False)[key]


def kid(fake: torch.Tensor, real: torch.Tensor, subsets: int = 100, subset_size: int = 1000,
        seed: int = 0) -> tuple[float, float, int]:
    """KID's mean and std over `subsets` random subsets (unbiased MMD, cubic polynomial kernel), and the subset
    size used: `subset_size`, or the smaller set's size when it has fewer."""
    from torch_fidelity.metric_kid import kid_features_to_metric
    size = min(subset_size, len(fake), len(real))
    if size < 2:
        raise UserError(f"KID needs at least 2 images on each side, got {len(fake)} and {len(real)}")
    out = kid_features_to_metric(fake, real, kid_subsets=subsets, kid_subset_size=size, rng_seed=seed,
                                 verbose=False)
    return out["kernel_inception_distance_mean"], out["kernel_inception_distance_std"], size


def inception_score(logits: torch.Tensor, splits: int = 10, seed: int = 0) -> tuple[float, float]:
    """IS's mean and std over `splits` splits of the (shuffled) images."""
    from torch_fidelity.metric_isc import isc_features_to_metric
    out = isc_features_to_metric(logits, splits=splits, shuffle=True, rng_seed=seed)
    return out["inception_score_mean"], out["inception_score_std"]


def warn_if_few(metric: str, n: int, needed: int | None = None) -> str | None:
    """The warning (logged, and returned for the report) when `n` images are fewer than `metric` needs."""
    needed = needed or RELIABLE[metric]
    if n >= needed:
        return None
    message = (f"{metric.upper()} on {n} images: fewer than the {needed} it is reliable for; compare only "
               f"with numbers on the same n")
    logger.warning("%s", message)
    return message
