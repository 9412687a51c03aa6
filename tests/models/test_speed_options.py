"""The speed options give results close to the plain fp32 path: --amp (bfloat16 autocast), --channels_last
(same math, other kernels) and --compile (torch.compile), in inference and in a training step."""
import copy
import warnings

import pytest
import torch

from data import create_dataloader
from models import base_model, create_model
from models.base_model import compile_network
from models.networks import define_D, define_G
from models.run_state import cpu_state_dict
from options.test_options import TestOptions
from options.train_options import TrainOptions
from tests.conftest import TINY, TINY_TRAIN

# flag: (mean, max) tolerated difference of the visuals in [-1, 1]
INFERENCE = {"--amp": (0.02, 0.25), "--channels_last": (1e-6, 1e-5), "--compile": (1e-5, 1e-4)}


def run_test(tiny_data, flags: list[str]) -> dict[str, torch.Tensor]:
    opt = TestOptions().parse(["--dataroot", tiny_data, "--seed", "0", *TINY, "--batch_size", "3", *flags])
    torch.manual_seed(0)
    model = create_model(opt)
    model.set_input(next(iter(create_dataloader(opt))))
    model.test()
    return model.get_current_visuals()


@pytest.mark.parametrize("flag", INFERENCE)
def test_inference_is_close_to_fp32(tiny_data, flag):
    fp32 = run_test(tiny_data, [])
    mean, most = INFERENCE[flag]
    for name, value in run_test(tiny_data, [flag]).items():
        assert value.dtype == torch.float32 and value.is_contiguous(), name
        diff = (value - fp32[name]).abs()
        assert diff.mean() <= mean and diff.max() <= most, (name, float(diff.mean()), float(diff.max()))


def train_step(tiny_data, flags: list[str]):
    # one sequential step: every loss is computed before any update, from the same initial weights
    opt = TrainOptions().parse(["--dataroot", tiny_data, "--seed", "0", "--pool_size", "0", "--serial_batches",
                                "--no_flip", "--ins_max", "2", "--ins_per", "2", *TINY_TRAIN, *flags])
    torch.manual_seed(0)
    model = create_model(opt)
    model.setup()
    model.set_input(next(iter(create_dataloader(opt))))
    with model.autocast():
        model.optimize_parameters()
    return model


def test_amp_training_step_losses_close_to_fp32(tiny_data):
    fp32, amp = train_step(tiny_data, []).get_current_losses(), train_step(tiny_data, ["--amp"]).get_current_losses()
    for name, value in fp32.items():
        assert abs(amp[name] - value) <= 0.05 * abs(value) + 0.02, (name, value, amp[name])


def test_channels_last_training_step_equals_fp32(tiny_data):
    plain, fast = train_step(tiny_data, []), train_step(tiny_data, ["--channels_last"])
    for name, value in plain.get_current_losses().items():
        assert fast.get_current_losses()[name] == pytest.approx(value, rel=1e-5, abs=1e-6), name
    # (weights after the step are not compared: Adam's first step is lr * sign(grad), which rounding flips)
    weights = [p for p in fast.netG_A.parameters() if p.dim() == 4]
    assert weights and all(p.is_contiguous(memory_format=torch.channels_last) for p in weights)
    assert cpu_state_dict(fast.netG_A).keys() == cpu_state_dict(plain.netG_A).keys()


def test_compiled_set_discriminator_backward_without_instances_equals_eager():
    """A batch without any instance (a real image with no mask) reaches the set discriminator's mask encoder as an
    empty batch; compiled, inductor mispredicted the strides of its conv backward, and AOTAutograd printed an
    anomaly-mode warning tracing its scatter's backward (blocks.run_eager)."""
    torch.manual_seed(0)
    eager = define_D(3, 4, "set", n_layers_D=2)
    img, segs = torch.rand(1, 3, 16, 16) * 2 - 1, torch.full((1, 2, 16, 16), -1.0)
    copies = compile_network(copy.deepcopy(eager)), torch.compile(copy.deepcopy(eager), dynamic=False)
    eager(img, segs).square().mean().backward()
    for compiled in copies:     # the second compiled whole, as under DataParallel
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            compiled(img, segs).square().mean().backward()
        assert not [w for w in caught if "Error detected" in str(w.message)]
        for (name, p), q in zip(eager.named_parameters(), compiled.parameters()):
            assert p.grad is not None and q.grad is not None, name     # zero for the mask encoder, but not None
            torch.testing.assert_close(q.grad, p.grad, msg=name)
        for (name, b), c in zip(eager.named_buffers(), compiled.buffers()):
            assert torch.equal(b, c), name


def test_compiled_set_generator_takes_any_number_of_instances_with_one_graph_per_part():
    """--compile compiles the set generator's four parts; the code picking the instances runs eagerly, and the
    instances' parts take any number of them (here 0, 3, 5, 8 of the 8 slots) without compiling again."""
    torch.manual_seed(0)
    eager = define_G(3, 3, 4, "set", n_blocks=1)
    compiled = compile_network(copy.deepcopy(eager))
    assert cpu_state_dict(compiled).keys() == cpu_state_dict(eager).keys()
    torch._dynamo.reset()
    torch._dynamo.utils.counters.clear()
    img = torch.rand(2, 3, 16, 16) * 2 - 1
    for n in (0, 3, 5, 8):
        segs = torch.where(torch.arange(8).view(2, 4, 1, 1) < n, 1.0, -1.0) * torch.ones(1, 1, 16, 16)
        segs[:, :, :4] = -1.0                                       # a background row in every mask
        for net in (eager, compiled):
            net.zero_grad()
            img_out, segs_out = net(img, segs)
            (img_out.square().mean() + segs_out.square().mean()).backward()
        torch.testing.assert_close(compiled(img, segs), eager(img, segs))
        for (name, p), q in zip(eager.named_parameters(), compiled.parameters()):
            assert (p.grad is None) == (q.grad is None), name
            if p.grad is not None:
                torch.testing.assert_close(q.grad, p.grad, msg=name)
    assert torch._dynamo.utils.counters["stats"]["unique_graphs"] == len(compiled.compile_parts)


@pytest.mark.parametrize("native", [True, False])
def test_amp_on_a_cpu_without_bf16_arithmetic_warns(tiny_data, monkeypatch, log_records, native):
    monkeypatch.setattr(base_model, "native_cpu_bf16", lambda: native)
    create_model(TestOptions().parse(["--dataroot", tiny_data, *TINY, "--amp"]))
    warned = [r for r in log_records if r.levelname == "WARNING" and "no bfloat16 arithmetic" in r.getMessage()]
    assert len(warned) == (0 if native else 1)
