"""The measuring networks' weight files. torch-fidelity, lpips and torchvision download them at first use; here
they come from a file (a flag, or the file those packages would have downloaded, in their cache folder), so that
machines without internet (clusters) measure too, and a missing one ends with one line: what to get, where."""
from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass

import torch

from util.errors import UserError, one_line


class MissingWeights(UserError):
    """A weight file that is neither given nor in the packages' cache."""


@dataclass(frozen=True)
class WeightsFile:
    what: str    # the network, as the message names it
    url: str     # where its package downloads it from
    flag: str    # the flag that gives its path

    @property
    def cache_path(self) -> str:
        """Where torch.hub (used by torch-fidelity and torchvision) keeps the download: $TORCH_HOME/hub/checkpoints,
        ~/.cache/torch/hub/checkpoints by default."""
        return os.path.join(torch.hub.get_dir(), "checkpoints", os.path.basename(self.url))

    def resolve(self, path: str | None) -> str:
        """`path` if given, else the cached download; else `MissingWeights`."""
        if path:
            if not os.path.isfile(path):
                raise MissingWeights(f"{self.flag} {path}: no such file (the {self.what} weights: {self.url})")
            return path
        if os.path.isfile(self.cache_path):
            return self.cache_path
        raise MissingWeights(f"no {self.what} weights (nothing is downloaded): get {self.url} and pass it with "
                             f"{self.flag} PATH, or put it at {self.cache_path}")


def inception() -> WeightsFile:
    from torch_fidelity.feature_extractor_inceptionv3 import URL_INCEPTION_V3
    return WeightsFile("Inception-v3 (torch-fidelity, for FID/KID/IS)", URL_INCEPTION_V3, "--inception_weights")


def torchvision_backbone(net: str, flag: str) -> WeightsFile:
    """torchvision's ImageNet weights of `net` ('alex' or 'vgg', lpips's names), the file torchvision downloads."""
    from torchvision.models import AlexNet_Weights, VGG16_Weights
    weights = {"alex": AlexNet_Weights.IMAGENET1K_V1, "vgg": VGG16_Weights.IMAGENET1K_V1}[net]
    return WeightsFile(f"torchvision {'AlexNet' if net == 'alex' else 'VGG-16'} ImageNet", weights.url, flag)


def load_state_dict(path: str, what: str) -> dict[str, torch.Tensor]:
    """A state dict from `path` (memory-mapped: VGG-16's is 528 MB), or one line naming the file."""
    try:
        state = torch.load(path, map_location="cpu", weights_only=True, mmap=True)
    except Exception as e:  # torch.load fails in many ways on a file of the wrong kind
        raise UserError(f"cannot read {what} weights {path}: {type(e).__name__}: {one_line(e)}") from None
    if not isinstance(state, dict) or not all(torch.is_tensor(v) for v in state.values()):
        raise UserError(f"{what} weights {path} are not a state dict (names -> tensors)")
    return state


def sha256(path: str) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 22), b""):
            digest.update(block)
    return digest.hexdigest()
