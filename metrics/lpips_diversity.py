"""LPIPS distances and BicycleGAN's diversity score: the mean LPIPS distance between outputs of one input under
different latent samples, over pairs drawn per input.

The lpips package builds the network and loads its linear layers from the weights inside its wheel; the backbone
(torchvision's ImageNet AlexNet or VGG-16, which torchvision would download) is read from a file in torchvision's
layout, of which lpips uses the `features.*` part."""
from __future__ import annotations

import itertools
import random
import warnings
from pathlib import Path
from typing import Mapping, Sequence

import torch
from tqdm import tqdm

from util.errors import UserError, one_line
from .images import read_rgb
from .weights import load_state_dict


def lpips_model(net: str, backbone: str, device: torch.device) -> torch.nn.Module:
    """lpips.LPIPS(net) (version 0.1) with its backbone's weights from `backbone` (torchvision's file layout)."""
    import lpips
    with warnings.catch_warnings():            # torchvision's notice about lpips's `pretrained=False`
        warnings.simplefilter("ignore", UserWarning)
        model = lpips.LPIPS(net=net, pnet_rand=True, verbose=False)
    state = load_state_dict(backbone, "LPIPS backbone")
    features = {k.removeprefix("features."): v for k, v in state.items() if k.startswith("features.")}
    # lpips splits torchvision's `features` into slices that keep the layers' indices: sliceN.<index>.weight
    own = model.net.state_dict()
    try:
        model.net.load_state_dict({k: features[k.split(".", 1)[1]] for k in own})
    except (KeyError, RuntimeError) as e:
        raise UserError(f"LPIPS backbone weights {backbone} do not fit torchvision's "
                        f"{'AlexNet' if net == 'alex' else 'VGG-16'} (--lpips_net {net}): "
                        f"{one_line(e)}") from None
    return model.eval().requires_grad_(False).to(device)


@torch.no_grad()
def distance(model: torch.nn.Module, a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """(N,) LPIPS distances between uint8 image batches (N, 3, H, W) of one size."""
    device = next(model.parameters()).device
    return model(to_unit_range(a, device), to_unit_range(b, device)).flatten().cpu()


def to_unit_range(images: torch.Tensor, device: torch.device) -> torch.Tensor:
    """uint8 pixels as lpips takes them: [-1, 1]."""
    return images.to(device).float() / 127.5 - 1


def choose_pairs(groups: Mapping[str, Sequence[Path]], inputs: int, pairs: int,
                 seed: int = 0) -> list[tuple[Path, Path]]:
    """Up to `pairs` distinct pairs of outputs for each of the first `inputs` inputs that have at least two,
    drawn at random (seeded) from all their pairs."""
    rng = random.Random(seed)
    chosen = []
    usable = [name for name in sorted(groups) if len(groups[name]) >= 2][:inputs]
    for name in usable:
        every = list(itertools.combinations(groups[name], 2))
        chosen += rng.sample(every, min(pairs, len(every)))
    return chosen


def diversity(model: torch.nn.Module, pairs: Sequence[tuple[Path, Path]]) -> float:
    """Mean LPIPS distance over `pairs` of image files."""
    if not pairs:
        raise UserError("LPIPS diversity needs at least one input with two or more outputs")
    total = 0.0
    for a, b in tqdm(pairs, desc="LPIPS", unit="pair", disable=None, leave=False):
        x, y = read_rgb(a), read_rgb(b)
        if x.shape != y.shape:
            raise UserError(f"outputs of one input differ in size: {a} and {b}")
        total += float(distance(model, x[None], y[None]))
    return total / len(pairs)
