"""The InstaGAN paper's classification score (Section 3.1, Appendix D): the fraction of translated images that a
binary domain classifier takes for the target domain. The classifier is an ImageNet VGG-16 (torchvision's, from a
file) whose last fully connected layers are fine-tuned on the real images of the two domains; for the masked
score of Table 2 (COCO) it is trained on, and applied to, images multiplied by their masks.

A classifier file holds only what training changed (the last layers), the input size, the domains, whether it is
masked, and the SHA-256 of the VGG-16 file it was fine-tuned from: scoring needs that same file, which is
checked, since other frozen layers would give other numbers."""
from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Iterable, Sequence

import torch
import torch.nn as nn
import torch.nn.functional as F
import torchvision
from tqdm import tqdm

from util.checkpoint import read_checkpoint
from util.errors import UserError, one_line
from .images import size_batches
from .weights import load_state_dict, sha256

FORMAT = "instagan-domain-classifier/1"
DOMAINS = ("A", "B")                       # the classifier's outputs 0 and 1
_MEAN = torch.tensor([0.485, 0.456, 0.406]).view(1, 3, 1, 1)   # torchvision's ImageNet normalisation
_STD = torch.tensor([0.229, 0.224, 0.225]).view(1, 3, 1, 1)


def vgg16(path: str) -> nn.Module:
    """torchvision's VGG-16 with the weights of `path` (torchvision's layout). Built on the meta device: the
    random initialisation of 138 M weights would only be overwritten."""
    state = load_state_dict(path, "VGG-16")
    with torch.device("meta"):
        net = torchvision.models.vgg16()
    try:
        net.load_state_dict(state, assign=True)
    except RuntimeError as e:
        raise UserError(f"VGG-16 weights {path} do not fit torchvision's vgg16: "
                        f"{one_line(e)}") from None
    return net


def linear_layers(net: nn.Module) -> list[nn.Linear]:
    return [m for m in net.classifier if isinstance(m, nn.Linear)]


@dataclass
class DomainClassifier:
    net: nn.Module
    size: int                  # images are resized to size x size
    masked: bool               # trained on (and applied to) images multiplied by their masks
    train_layers: int          # the last fully connected layers that were fine-tuned (1 to 3)
    backbone_sha256: str

    @classmethod
    def new(cls, backbone: str, size: int, masked: bool, train_layers: int,
            digest: str | None = None) -> "DomainClassifier":
        """VGG-16 from `backbone` (whose SHA-256 is `digest`, computed if not given) with a 2-way last layer; only
        the last `train_layers` linear layers train."""
        net = vgg16(backbone)
        net.classifier[-1] = nn.Linear(net.classifier[-1].in_features, len(DOMAINS))
        net.requires_grad_(False)
        for layer in linear_layers(net)[-train_layers:]:
            layer.requires_grad_(True)
        return cls(net, size, masked, train_layers, digest or sha256(backbone))

    def prepare(self, images: torch.Tensor) -> torch.Tensor:
        """uint8 (N, 3, H, W) -> the network's input: size x size, ImageNet-normalised, on its device."""
        device = next(self.net.parameters()).device
        x = images.to(device).float() / 255
        if x.shape[-2:] != (self.size, self.size):
            x = F.interpolate(x, size=(self.size, self.size), mode="bilinear", antialias=True, align_corners=False)
        return (x - _MEAN.to(device)) / _STD.to(device)

    @torch.no_grad()
    def predict(self, images: Iterable[torch.Tensor], total: int, batch_size: int = 16) -> torch.Tensor:
        """(N,) predicted domain indices (0: A, 1: B) of uint8 (3, H, W) images."""
        self.net.eval()
        out = []
        with tqdm(total=total, desc="classifier", unit="image", disable=None, leave=False) as bar:
            for batch in size_batches(images, batch_size):
                out.append(self.net(self.prepare(batch)).argmax(1).cpu())
                bar.update(len(batch))
        if not out:
            raise UserError("no images to classify")
        return torch.cat(out)

    def fit(self, images: Sequence[torch.Tensor], labels: Sequence[int], epochs: int, batch_size: int, lr: float,
            seed: int) -> list[float]:
        """Fine-tune on uint8 (3, size, size) images with random horizontal flips; returns each epoch's mean loss.

        The frozen layers (all the convolutions, and the first fully connected ones) are the costly part and do
        not change: their outputs for every image and its mirror image are computed once, and the epochs train
        the last layers on them."""
        g = torch.Generator().manual_seed(seed)
        frozen, head = self._split()
        bar = tqdm(total=2 * len(images), desc="frozen layers", unit="image", disable=None, leave=False)

        @torch.no_grad()
        def outputs(mirror: bool) -> torch.Tensor:
            out = []
            for i in range(0, len(images), batch_size):
                batch = torch.stack(list(images[i:i + batch_size]))
                out.append(frozen(self.prepare(batch.flip(-1) if mirror else batch)))
                bar.update(len(batch))
            return torch.cat(out)

        self.net.eval()
        inputs = [outputs(False), outputs(True)]
        bar.close()
        y = torch.tensor(list(labels), device=inputs[0].device)
        optimiser = torch.optim.Adam([p for p in head.parameters() if p.requires_grad], lr=lr)
        head.train()
        losses = []
        for epoch in tqdm(range(epochs), desc="epochs", unit="epoch", disable=None):
            order, total = torch.randperm(len(y), generator=g), 0.0
            for start in range(0, len(y), batch_size):
                idx = order[start:start + batch_size]
                mirror = (torch.rand(len(idx), generator=g) < 0.5).to(y.device)[:, None]
                x = torch.where(mirror, inputs[1][idx.to(y.device)], inputs[0][idx.to(y.device)])
                loss = F.cross_entropy(head(x), y[idx.to(y.device)])
                optimiser.zero_grad()
                loss.backward()
                optimiser.step()
                total += loss.item() * len(idx)
            losses.append(total / len(y))
        self.net.eval()
        return losses

    def _split(self) -> tuple[nn.Module, nn.Module]:
        """(frozen part, trained part) of the network: the trained part starts with the dropout before the first
        fine-tuned layer."""
        first = self._linear_indices()[-self.train_layers]
        cut = max(first - 1, 0)
        frozen = nn.Sequential(self.net.features, self.net.avgpool, nn.Flatten(1), *self.net.classifier[:cut])
        return frozen, self.net.classifier[cut:]

    def resize(self, image: torch.Tensor) -> torch.Tensor:
        """A uint8 (3, H, W) image at size x size (for keeping a training set in memory)."""
        x = F.interpolate(image[None].float(), size=(self.size, self.size), mode="bilinear", antialias=True,
                          align_corners=False)
        return x[0].round().clamp(0, 255).to(torch.uint8)

    def save(self, path: str, meta: dict) -> None:
        """Write the fine-tuned layers and what scoring needs to `path` (aside, then moved into place)."""
        trained = {k: v.detach().cpu() for k, v in self.net.state_dict().items()
                   if k in {f"classifier.{i}.{p}" for i in self._linear_indices()[-self.train_layers:]
                            for p in ("weight", "bias")}}
        state = {"format": FORMAT, "size": self.size, "masked": self.masked, "train_layers": self.train_layers,
                 "backbone_sha256": self.backbone_sha256, "domains": list(DOMAINS), "state_dict": trained, **meta}
        os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
        torch.save(state, path + ".tmp")
        os.replace(path + ".tmp", path)

    def _linear_indices(self) -> list[int]:
        return [i for i, m in enumerate(self.net.classifier) if isinstance(m, nn.Linear)]

    @classmethod
    def load(cls, path: str, backbone: str, device: torch.device) -> "DomainClassifier":
        """A classifier written by scripts/train_classifier.py, on the VGG-16 file it was fine-tuned from."""
        state = read_checkpoint(path, "cpu")
        if not isinstance(state, dict) or state.get("format") != FORMAT:
            raise UserError(f"{path} is not a domain classifier written by scripts/train_classifier.py")
        digest = sha256(backbone)
        if digest != state["backbone_sha256"]:
            raise UserError(f"classifier {path} was fine-tuned from another VGG-16 file than {backbone}: pass that "
                            f"one with --vgg_weights")
        clf = cls.new(backbone, state["size"], state["masked"], state["train_layers"], digest)
        result = clf.net.load_state_dict(state["state_dict"], strict=False)
        if result.unexpected_keys or len(state["state_dict"]) != 2 * clf.train_layers:
            raise UserError(f"classifier {path} holds other layers than its {clf.train_layers} fine-tuned ones")
        clf.net.to(device).eval()
        return clf
