"""LPIPS through the lpips package's own network and linear-layer loading, with a backbone file in torchvision's
layout (random weights), and BicycleGAN's diversity protocol on groups of outputs."""
import os
from pathlib import Path

import pytest
import torch

from metrics import lpips_diversity
from metrics.images import sample_groups
from metrics.options import DEFAULT_GROUPS, group_pattern
from tests.metrics.conftest import write_images
from util.errors import UserError


@pytest.fixture(scope="module")
def model(alexnet_file):
    return lpips_diversity.lpips_model("alex", alexnet_file, torch.device("cpu"))


def test_the_linear_layers_are_the_wheels_and_the_backbone_the_files(model, alexnet_file):
    import lpips
    shipped = torch.load(os.path.join(os.path.dirname(lpips.__file__), "weights", "v0.1", "alex.pth"),
                         map_location="cpu", weights_only=True)
    own = model.state_dict()
    assert shipped and all(torch.equal(own[k], v) for k, v in shipped.items())
    backbone = torch.load(alexnet_file, weights_only=True)
    net = model.net.state_dict()
    assert len(net) == 10 and all(torch.equal(v, backbone["features." + k.split(".", 1)[1]]) for k, v in net.items())


def test_lpips_of_an_image_with_itself_is_zero_and_with_another_is_not(model):
    g = torch.Generator().manual_seed(0)
    x, y = (torch.randint(0, 256, (2, 3, 64, 64), dtype=torch.uint8, generator=g) for _ in range(2))
    assert torch.equal(lpips_diversity.distance(model, x, x), torch.zeros(2))
    assert (lpips_diversity.distance(model, x, y) > 1e-3).all()


def write_bicyclegan_outputs(images_dir: Path, inputs: int, samples: int, same: bool = False) -> None:
    """BicycleGAN test.py's names: input_{i:03d}_random_sample{k:02d}.png, and _encoded and _input beside them."""
    for i in range(inputs):
        for k in range(1, samples + 1):
            write_images(images_dir, 1, seed=100 * i + (0 if same else k), size=(32, 32),
                         suffix=f"input_{i:03d}_random_sample{k:02d}.png")
        write_images(images_dir, 1, seed=999, size=(32, 32), suffix=f"input_{i:03d}_encoded.png")
        write_images(images_dir, 1, seed=998, size=(32, 32), suffix=f"input_{i:03d}_input.png")
    for path in images_dir.glob("0000input_*"):        # write_images numbers its files: drop the number
        path.rename(path.with_name(path.name[len("0000"):]))


def test_diversity_groups_the_random_samples_of_each_input(model, tmp_path):
    write_bicyclegan_outputs(tmp_path / "images", inputs=3, samples=4)
    groups = sample_groups(tmp_path / "images", group_pattern(DEFAULT_GROUPS))
    assert sorted(groups) == ["input_000", "input_001", "input_002"]
    assert [p.name for p in groups["input_001"]] == [f"input_001_random_sample{k:02d}.png" for k in range(1, 5)]
    pairs = lpips_diversity.choose_pairs(groups, inputs=2, pairs=5)
    assert len(pairs) == 10 and len(set(pairs)) == 10
    assert {a.name[:9] for a, b in pairs} == {"input_000", "input_001"}
    assert all(a.name[:9] == b.name[:9] and a != b for a, b in pairs)
    assert lpips_diversity.diversity(model, pairs) > 1e-3


def test_diversity_is_zero_when_the_latent_changes_nothing(model, tmp_path):
    write_bicyclegan_outputs(tmp_path / "images", inputs=2, samples=3, same=True)
    groups = sample_groups(tmp_path / "images", group_pattern(DEFAULT_GROUPS))
    assert lpips_diversity.diversity(model, lpips_diversity.choose_pairs(groups, 100, 19)) == 0


def test_a_backbone_of_another_network_is_one_line(tmp_path):
    path = tmp_path / "vgg_like.pth"
    torch.save({"features.0.weight": torch.zeros(64, 3, 3, 3), "features.0.bias": torch.zeros(64)}, path)
    with pytest.raises(UserError, match="do not fit torchvision's AlexNet") as e:
        lpips_diversity.lpips_model("alex", str(path), torch.device("cpu"))
    assert "\n" not in str(e.value)
