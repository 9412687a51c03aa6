"""`--dataset_mode colorization`: lightness in, colour out, in pytorch-CycleGAN-and-pix2pix's Lab scaling."""
import numpy as np
import pytest
import torch
from skimage import color

from data.colorization_dataset import ColorizationDataset, lab_to_rgb
from options.train_options import TrainOptions
from tests.data.helpers import make_opt, random_rgb, save
from util.errors import OptionError

# white, black, red, grey: (L / 50 - 1, a / 110, b / 110) of scikit-image's rgb2lab (D65)
PIXELS = np.array([[[255, 255, 255], [0, 0, 0]], [[255, 0, 0], [128, 128, 128]]], np.uint8)
EXPECTED = [[[1.0, -1.0], [53.24059 / 50 - 1, 53.58501 / 50 - 1]],
            [[0.0, 0.0], [80.09231 / 110, 0.0]],
            [[0.0, 0.0], [67.20275 / 110, 0.0]]]


def test_items_are_lightness_and_colour_scaled_as_theirs(tmp_path):
    save(tmp_path / "train" / "x.png", np.kron(PIXELS, np.ones((2, 2, 1), np.uint8)))     # 4x4: none keeps it
    item = ColorizationDataset(make_opt(tmp_path, "colorization", resize_or_crop="none", no_flip=True))[0]
    assert item["A"].shape == (1, 4, 4) and item["B"].shape == (2, 4, 4) and item["A"].dtype == torch.float32
    lab = torch.cat([item["A"], item["B"]])[:, ::2, ::2]
    torch.testing.assert_close(lab, torch.tensor(EXPECTED), atol=1e-4, rtol=0)
    assert item["A_paths"] == item["B_paths"] == str(tmp_path / "train" / "x.png")


def test_lab_to_rgb_gives_the_picture_back():
    rgb = torch.from_numpy(random_rgb(6, 8)).permute(2, 0, 1).float() / 127.5 - 1
    lab = torch.from_numpy(color.rgb2lab((rgb.permute(1, 2, 0).numpy() + 1) / 2)).permute(2, 0, 1).float()
    A, B = lab[None, :1] / 50 - 1, lab[None, 1:] / 110
    back = lab_to_rgb(torch.cat([A, A]), torch.cat([B, B]))
    assert back.dtype == torch.float64     # as the authors' lab2rgb, for their pixels
    torch.testing.assert_close(back.float(), torch.stack([rgb, rgb]), atol=1e-4, rtol=0)


@pytest.mark.parametrize("flags, message", [
    (["--output_nc", "3"], "--dataset_mode colorization gives 1 input channel (L) and 2 output channels (ab), AtoB: "
                           "got --input_nc 1 --output_nc 3 --direction AtoB"),
    (["--direction", "BtoA"], "got --input_nc 1 --output_nc 2 --direction BtoA"),
])
def test_other_channels_or_direction_are_one_line_errors(tmp_path, flags, message):
    with pytest.raises(OptionError) as e:
        TrainOptions().parse(["--dataroot", str(tmp_path), "--model", "colorization", "--gpu_ids", "-1", *flags])
    assert message in str(e.value) and "\n" not in str(e.value)
