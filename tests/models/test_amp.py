"""--amp (bfloat16 autocast) gives results close to the fp32 path, in inference and in a training step."""
import torch

from data import create_dataloader
from models import create_model
from options.test_options import TestOptions
from options.train_options import TrainOptions
from tests.conftest import TINY, TINY_TRAIN


def test_amp_inference_is_close_to_fp32(tiny_data):
    opt = TestOptions().parse(["--dataroot", tiny_data, "--seed", "0", *TINY, "--batch_size", "3"])
    torch.manual_seed(0)
    model = create_model(opt)
    model.set_input(next(iter(create_dataloader(opt))))
    model.test()
    fp32 = {k: v.clone() for k, v in model.get_current_visuals().items()}
    opt.amp = True
    model.test()
    for name, value in model.get_current_visuals().items():
        assert value.dtype == torch.float32
        diff = (value - fp32[name]).abs()
        assert diff.mean() < 0.02 and diff.max() < 0.25, (name, float(diff.mean()), float(diff.max()))


def test_amp_training_step_losses_close_to_fp32(tiny_data):
    losses = []
    for amp in ([], ["--amp"]):
        # one sequential step: every loss is computed before any update, from the same initial weights
        opt = TrainOptions().parse(["--dataroot", tiny_data, "--seed", "0", "--pool_size", "0", "--serial_batches",
                                    "--no_flip", "--ins_max", "2", "--ins_per", "2", *TINY_TRAIN, *amp])
        torch.manual_seed(0)
        model = create_model(opt)
        model.setup()
        model.set_input(next(iter(create_dataloader(opt))))
        with model.autocast():
            model.optimize_parameters()
        losses.append(model.get_current_losses())
    for name, value in losses[0].items():
        assert abs(losses[1][name] - value) <= 0.05 * abs(value) + 0.02, (name, value, losses[1][name])
