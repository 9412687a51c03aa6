"""Weight files in the packages' own formats, with random weights, written once per session: the real loading
code reads them as it would read the published ones (which cannot be downloaded here)."""
from __future__ import annotations

from pathlib import Path
from unittest import mock

import numpy as np
import pytest
import torch
import torchvision
from PIL import Image


@pytest.fixture(autouse=True)
def two_threads(one_thread):
    """The measuring networks are large: unlike the tiny models of the other tests, they gain from the cores."""
    torch.set_num_threads(2)
    yield


def variance_keeping(net: torch.nn.Module, seed: int) -> torch.nn.Module:
    """He-initialised convolutions and linear layers: with PyTorch's default initialisation the activations of a
    deep random network shrink to ~1e-8 and every distance between features would be ~0."""
    g = torch.Generator().manual_seed(seed)
    for m in net.modules():
        if isinstance(m, (torch.nn.Conv2d, torch.nn.Linear)):
            torch.nn.init.kaiming_normal_(m.weight, nonlinearity="relu", generator=g)
            if m.bias is not None:
                torch.nn.init.zeros_(m.bias)
    return net


def session_file(tmp_path_factory, name: str, write) -> str:
    """`name` in the session's temporary folder, written by `write(path)` the first time only (test modules of
    other folders ask for the same files through their own fixtures)."""
    path = tmp_path_factory.getbasetemp() / "weights" / name
    if not path.is_file():
        path.parent.mkdir(exist_ok=True)
        write(str(path) + ".tmp")
        path.with_name(name + ".tmp").rename(path)
    return str(path)


def write_inception(path: str) -> None:
    """torch-fidelity's Inception-v3 (weights-inception-2015-12-05 format), randomly initialised. Its constructor
    loads weights; here it is built with that step (and the download) skipped, to write such a file."""
    import torch_fidelity.feature_extractor_inceptionv3 as fe
    with mock.patch.object(fe.FeatureExtractorInceptionV3, "load_state_dict", lambda self, state, strict=True: None), \
            mock.patch.object(fe, "load_state_dict_from_url", lambda *a, **k: {}):
        net = fe.FeatureExtractorInceptionV3("inception-v3-compat", ["2048"])
    torch.save(variance_keeping(net, 0).state_dict(), path)


@pytest.fixture(scope="session")
def inception_file(tmp_path_factory) -> str:
    return session_file(tmp_path_factory, "inception_random.pth", write_inception)


def write_alexnet(path: str) -> None:
    """torchvision's AlexNet file layout (the LPIPS backbone), randomly initialised."""
    torch.save(variance_keeping(torchvision.models.alexnet(), 1).state_dict(), path)


@pytest.fixture(scope="session")
def alexnet_file(tmp_path_factory) -> str:
    return session_file(tmp_path_factory, "alexnet_random.pth", write_alexnet)


def write_vgg16(path: str) -> None:
    """torchvision's VGG-16 file layout (528 MB; the classifier's backbone), randomly initialised."""
    torch.save(variance_keeping(torchvision.models.vgg16(), 2).state_dict(), path)


@pytest.fixture(scope="session")
def vgg16_file(tmp_path_factory) -> str:
    return session_file(tmp_path_factory, "vgg16_random.pth", write_vgg16)


def write_images(folder: Path, n: int, seed: int, colour: tuple[int, int, int] | None = None,
                 size: tuple[int, int] = (48, 40), suffix: str = ".png") -> list[Path]:
    """`n` noisy images (around `colour`, or random colours), width x height `size`."""
    rng = np.random.default_rng(seed)
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for i in range(n):
        base = np.array(colour if colour else rng.integers(0, 256, 3))
        pixels = np.clip(base + rng.normal(0, 25, (size[1], size[0], 3)), 0, 255).astype(np.uint8)
        paths.append(folder / f"{i:04d}{suffix}")
        Image.fromarray(pixels).save(paths[-1])
    return paths


def write_two_domains(root: Path, phases: tuple[str, ...] = ("train", "test"), n: int = 6) -> Path:
    """Reddish images in {phase}A, bluish ones in {phase}B, each with one square instance mask in {phase}X_seg."""
    for p, phase in enumerate(phases):
        for d, (domain, colour) in enumerate((("A", (200, 40, 40)), ("B", (40, 40, 200)))):
            paths = write_images(root / f"{phase}{domain}", n, seed=10 * p + d, colour=colour, size=(40, 32))
            (root / f"{phase}{domain}_seg").mkdir(parents=True, exist_ok=True)
            for i, path in enumerate(paths):
                mask = np.zeros((32, 40), np.uint8)
                mask[4 + i % 8:20 + i % 8, 6:30] = 255
                Image.fromarray(mask).save(root / f"{phase}{domain}_seg" / f"{path.stem}_0.png")
    return root
