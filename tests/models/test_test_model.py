"""`--model test`: a generator file in pytorch-CycleGAN-and-pix2pix's key layout translates a folder of images."""
import os

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from PIL import Image

import test as test_script
import train as train_script
from data.transforms import normalise
from util.cli import run_cli
from util.errors import OptionError
from util.image import tensor2im

NGF, BLOCKS, SIZE = 4, 9, 32


def their_state_dict(seed: int = 0) -> dict[str, torch.Tensor]:
    """A `latest_net_G.pth` as that repository's ResnetGenerator (9 blocks, instance norm, no dropout) names its
    weights: one `model` Sequential of pad, conv, norm, ReLU, two strided convs, the blocks (`conv_block` convs at 1
    and 5), two transposed convs, pad, conv, tanh; plus the instance-norm statistics files of PyTorch 0.3 carry."""
    g = torch.Generator().manual_seed(seed)
    shapes = {"model.1": (NGF, 3, 7, 7), "model.4": (2 * NGF, NGF, 3, 3), "model.7": (4 * NGF, 2 * NGF, 3, 3)}
    for b in range(10, 10 + BLOCKS):
        shapes.update({f"model.{b}.conv_block.{i}": (4 * NGF, 4 * NGF, 3, 3) for i in (1, 5)})
    shapes.update({"model.19": (4 * NGF, 2 * NGF, 3, 3), "model.22": (2 * NGF, NGF, 3, 3),   # transposed: (in, out)
                   "model.26": (3, NGF, 7, 7)})
    state = {}
    for name, shape in shapes.items():
        out = shape[1] if name in ("model.19", "model.22") else shape[0]
        state[name + ".weight"] = torch.randn(shape, generator=g) * 0.2
        state[name + ".bias"] = torch.randn(out, generator=g) * 0.1
    state.update({"model.2.running_mean": torch.zeros(NGF), "model.2.running_var": torch.ones(NGF)})
    return state


def their_forward(state: dict[str, torch.Tensor], x: torch.Tensor) -> torch.Tensor:
    """That generator's computation, written out from the layer list above."""
    def conv(t, name, pad=0, **kw):
        t = F.pad(t, (pad,) * 4, mode="reflect") if pad else t
        return F.conv2d(t, state[name + ".weight"], state[name + ".bias"], **kw)

    def up(t, name):
        return F.conv_transpose2d(t, state[name + ".weight"], state[name + ".bias"], stride=2, padding=1,
                                  output_padding=1)

    y = F.relu(F.instance_norm(conv(x, "model.1", pad=3)))
    y = F.relu(F.instance_norm(conv(y, "model.4", stride=2, padding=1)))
    y = F.relu(F.instance_norm(conv(y, "model.7", stride=2, padding=1)))
    for b in range(10, 10 + BLOCKS):
        r = F.relu(F.instance_norm(conv(y, f"model.{b}.conv_block.1", pad=1)))
        y = y + F.instance_norm(conv(r, f"model.{b}.conv_block.5", pad=1))
    y = F.relu(F.instance_norm(up(y, "model.19")))
    y = F.relu(F.instance_norm(up(y, "model.22")))
    return torch.tanh(conv(y, "model.26", pad=3))


@pytest.fixture
def photos(tmp_path) -> str:
    """datasets/horse2zebra/testA in miniature: two photos of other sizes than the model's."""
    folder = tmp_path / "horse2zebra" / "testA"
    os.makedirs(folder)
    rng = np.random.default_rng(1)
    for name, size in (("n02381460_20", (40, 30)), ("n02381460_120", (32, 48))):
        Image.fromarray(rng.integers(0, 256, (size[1], size[0], 3), dtype=np.uint8)).save(folder / f"{name}.jpg")
    return str(folder)


def flags(photos, tmp_path, *extra):
    return ["--dataroot", photos, "--name", "horse2zebra_pretrained", "--model", "test", "--checkpoints_dir",
            str(tmp_path / "ck"), "--results_dir", str(tmp_path / "res"), "--ngf", str(NGF), "--crop_size", str(SIZE),
            "--gpu_ids", "-1", "--num_threads", "0", *extra]


@pytest.mark.parametrize("suffix", ["", "_A"])
def test_their_checkpoint_translates_a_folder(photos, tmp_path, suffix):
    state = their_state_dict()
    os.makedirs(tmp_path / "ck" / "horse2zebra_pretrained")
    torch.save(state, tmp_path / "ck" / "horse2zebra_pretrained" / f"latest_net_G{suffix}.pth")
    assert test_script.main(flags(photos, tmp_path, "--no_dropout", "--model_suffix", suffix)) == 0
    page = tmp_path / "res" / "horse2zebra_pretrained" / "test_latest"
    assert (page / "index.html").is_file()
    stems = ("n02381460_20", "n02381460_120")
    assert {p.name for p in (page / "images").iterdir()} == {f"{s}_{v}.png" for s in stems for v in ("real", "fake")}
    for stem in stems:
        with Image.open(os.path.join(photos, f"{stem}.jpg")) as photo:   # resized to the crop size, not cropped
            pixels = np.asarray(photo.convert("RGB").resize((SIZE, SIZE), Image.Resampling.BICUBIC))
        with torch.no_grad():
            expected = tensor2im(their_forward(state, normalise(pixels).permute(2, 0, 1)[None])[0])
        fake = np.asarray(Image.open(page / "images" / f"{stem}_fake.png"))
        assert fake.shape == (SIZE, SIZE, 3) and fake.std() > 5
        assert np.abs(fake.astype(int) - expected).max() <= 1


def test_their_checkpoint_needs_no_dropout_as_there(photos, tmp_path, log_records):
    """Without --no_dropout the blocks have a dropout layer, which moves their second conv to index 6: the file
    does not fit, and says so in one line."""
    os.makedirs(tmp_path / "ck" / "horse2zebra_pretrained")
    torch.save(their_state_dict(), tmp_path / "ck" / "horse2zebra_pretrained" / "latest_net_G.pth")
    assert run_cli(test_script.main, flags(photos, tmp_path)) == 2
    (error,) = [r.getMessage() for r in log_records if r.levelname == "ERROR"]
    assert "latest_net_G.pth does not fit the network built from the flags" in error
    assert not (tmp_path / "res").exists()


def test_test_model_is_for_test_py_only(photos):
    with pytest.raises(OptionError, match="--model test only runs in test.py"):
        train_script.main(["--dataroot", photos, "--model", "test", "--gpu_ids", "-1"])
