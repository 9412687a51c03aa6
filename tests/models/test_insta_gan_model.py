"""InstaGAN's sequential training and inference (Section 2.3) on a tiny generated data set."""
import pytest
import torch

from data import create_dataloader
from models import create_model
from models.sequential import SetTranslation, num_steps
from options.test_options import TestOptions
from options.train_options import TrainOptions
from tests.conftest import TINY, TINY_TRAIN
from util.seed import seed_all


def make(tiny_data, tmp_path, train=True, extra=()):
    parser, flags = (TrainOptions(), TINY_TRAIN + ["--pool_size", "0"]) if train else (TestOptions(), TINY)
    opt = parser.parse(["--dataroot", tiny_data, "--checkpoints_dir", str(tmp_path / "ck"), "--serial_batches",
                        "--seed", "3", *flags, *extra])
    seed_all(opt.seed)
    model = create_model(opt)
    if train:
        model.setup()
    return opt, model


def batch(opt, n):
    opt.batch_size = n
    return next(iter(create_dataloader(opt)))


def test_num_steps_are_the_references_and_a_remainder_is_not_translated(tiny_data, tmp_path, log_records):
    """The reference's ins_max // ins_per steps: with --ins_max 3 --ins_per 2 one step, so the translations are those
    of --ins_max 2 (the largest masks come first), while the real mask sets keep their third mask."""
    assert num_steps(4, 2) == 2 and num_steps(6, 2) == 3 and num_steps(5, 2) == 2 and num_steps(1, 1) == 1
    visuals = {}
    for ins_max in ("3", "2"):
        opt, model = make(tiny_data, tmp_path, train=False, extra=["--ins_max", ins_max, "--ins_per", "2"])
        model.set_input(batch(opt, 2))          # A images with 1 and 3 instances
        model.test()
        visuals[ins_max] = model.get_current_visuals()
    assert any("the last 1 are left as they are" in r.getMessage() for r in log_records)
    for name in ("fake_B_img", "rec_A_img", "fake_B_seg", "rec_A_seg"):
        assert torch.equal(visuals["3"][name], visuals["2"][name]), name
    assert not torch.equal(visuals["3"]["real_A_seg"], visuals["2"]["real_A_seg"])


def test_inference_batch_of_n_equals_n_batches_of_one(tiny_data, tmp_path):
    opt, model = make(tiny_data, tmp_path, train=False, extra=["--ins_max", "4", "--ins_per", "1"])
    model.eval()
    data = batch(opt, 3)     # A images with 1, 3 and 0 instances
    model.set_input(data)
    model.test()
    full = {k: v.clone() for k, v in model.get_current_visuals().items()}
    for i in range(3):
        model.set_input({k: v[i:i + 1] if torch.is_tensor(v) else v[i:i + 1] for k, v in data.items()})
        model.test()
        for name, value in model.get_current_visuals().items():
            torch.testing.assert_close(value, full[name][i:i + 1], atol=1e-5, rtol=0, msg=name)


def test_sample_without_instances_is_left_unchanged(tiny_data, tmp_path):
    opt, model = make(tiny_data, tmp_path, train=False)
    model.set_input(batch(opt, 3))
    model.test()
    assert torch.equal(model.fake_B_img[2], model.real_A_img[2])        # third A image has no mask
    assert torch.equal(model.rec_A_img[2], model.real_A_img[2])
    assert not torch.allclose(model.fake_B_img[0], model.real_A_img[0])


def test_step_with_empty_subset_leaves_image_unchanged():
    calls = []

    def G(img, segs):
        calls.append(img.shape[0])
        return img + 1, segs

    img = torch.zeros(2, 3, 4, 4)
    segs = -torch.ones(2, 4, 4, 4)
    segs[0, :3] = 1           # sample 0: three instances, sample 1: one
    segs[1, 0] = 1
    state = SetTranslation(img, segs, ins_per=2)
    for m in range(2):
        state.commit(state.step(G, G, m), m)
    assert state.step(G, G, 2) is None
    assert state.img[0].eq(2).all() and state.img[1].eq(1).all()     # sample 1 skipped the second step
    assert calls == [2, 2, 1, 1]                                     # forward and back: both, then sample 0 only


def test_training_steps_and_detached_inputs(tiny_data, tmp_path, monkeypatch):
    opt, model = make(tiny_data, tmp_path, extra=["--ins_max", "4", "--ins_per", "1", "--batch_size", "2"])
    data = batch(opt, 2)   # A: 1 and 3 instances, B: 2 and 5 (4 kept) -> 3 steps for A, 4 for B
    counts = {"G": 0, "D": 0}
    for key, o in (("G", model.optimizer_G), ("D", model.optimizer_D)):
        original = o.step
        monkeypatch.setattr(o, "step", lambda *a, _o=original, _k=key, **k: (counts.__setitem__(_k, counts[_k] + 1),
                                                                          _o(*a, **k))[1])
    inputs = []
    original_step = SetTranslation.step

    def spy(self, G, G_back, m, identity=False):
        s = original_step(self, G, G_back, m, identity)
        if s is not None:
            inputs.append((s.real_img.requires_grad, self.img.requires_grad, self.fake_segs.requires_grad))
        return s

    monkeypatch.setattr(SetTranslation, "step", spy)
    model.set_input(data)
    model.optimize_parameters()
    assert counts == {"G": 4, "D": 4}
    # every step starts from detached tensors: the graph never reaches back into an earlier step
    assert len(inputs) == 3 + 4 and not any(any(flags) for flags in inputs)
    assert set(model.get_current_losses()) == set(model.loss_names)
    assert all(torch.isfinite(torch.tensor(v)) for v in model.get_current_losses().values())


def test_training_without_any_instance_in_a_batch(tiny_data, tmp_path):
    opt, model = make(tiny_data, tmp_path, extra=["--batch_size", "1"])
    data = batch(opt, 3)
    one = {k: v[2:3] for k, v in data.items()}       # the A image without instances
    before = [p.clone() for p in model.netG_A.parameters()]
    model.set_input(one)
    model.optimize_parameters()
    assert torch.equal(model.fake_B_img, model.real_A_img)
    # B still has instances, so G_A still learns from the B->A->B cycle
    assert any(not torch.equal(a, b) for a, b in zip(before, model.netG_A.parameters()))


def test_batch_losses_are_means_of_sample_losses(tiny_data, tmp_path):
    opt, model = make(tiny_data, tmp_path, train=False, extra=["--ins_max", "2", "--ins_per", "2"])
    from models.losses import SetL1Loss
    data = batch(opt, 2)
    model.set_input(data)
    A = SetTranslation(model.real_A_img, model.real_A_segs, 2)
    with torch.no_grad():
        s = A.step(model.netG_A, model.netG_B, 0)
        full = SetL1Loss()(s.rec_img, s.rec_segs, s.real_img, s.real_segs)
        parts = [SetL1Loss()(s.rec_img[i:i + 1], s.rec_segs[i:i + 1], s.real_img[i:i + 1], s.real_segs[i:i + 1])
                 for i in range(2)]
    torch.testing.assert_close(full, sum(parts) / 2)


def test_identity_folded_into_the_cycle_call_equals_separate_calls(tiny_data, tmp_path):
    """Training runs G' on [translation; input] as one batch: the same outputs as two calls."""
    opt, model = make(tiny_data, tmp_path, train=False, extra=["--ins_max", "4", "--ins_per", "2"])
    model.set_input(batch(opt, 3))
    A = SetTranslation(model.real_A_img, model.real_A_segs, 2)
    with torch.no_grad():
        s = A.step(model.netG_A, model.netG_B, 0, identity=True)
        idt_img, idt_segs = model.netG_B(s.real_img, s.real_segs)
        rec_img, rec_segs = model.netG_B(s.fake_img, s.fake_segs)
    assert s.idt_img.shape == s.real_img.shape and s.idt_segs.shape == s.real_segs.shape
    for folded, separate in ((s.idt_img, idt_img), (s.idt_segs, idt_segs), (s.rec_img, rec_img),
                             (s.rec_segs, rec_segs)):
        torch.testing.assert_close(folded, separate, atol=1e-5, rtol=0)
    assert A.step(model.netG_A, model.netG_B, 0).idt_img is None


@pytest.mark.parametrize("bad, message", [
    (["--ins_per", "0"], "--ins_per must be >= 1"),
    (["--ins_per", "5", "--ins_max", "4"], "must not exceed --ins_max"),
    (["--batch_size", "0"], "--batch_size must be >= 1"),
    (["--model", "nope"], "invalid choice: 'nope'"),
    (["--dataset_mode", "nope"], "invalid choice: 'nope'"),
    (["--netG", "basic"], "needs --netG set"),
    (["--input_nc", "1"], "--input_nc and --output_nc must be equal, got 1 and 3"),
])
def test_invalid_options_fail_at_parse_time(tiny_data, bad, message):
    from util.errors import OptionError
    with pytest.raises(OptionError, match=message):
        TrainOptions().parse(["--dataroot", tiny_data, *TINY_TRAIN, *bad])


def graph_nodes(t: torch.Tensor) -> set:
    """The autograd nodes reachable from `t`: what backward keeps in memory."""
    seen, todo = set(), [t.grad_fn]
    while todo:
        node = todo.pop()
        if node is None or node in seen:
            continue
        seen.add(node)
        todo.extend(fn for fn, _ in node.next_functions)
    return seen


def test_graph_does_not_reach_into_earlier_steps(tiny_data, tmp_path):
    """Each step's losses share no autograd node with the step before but the parameters' leaves: the graph is
    detached between steps, so memory does not grow with the number of steps."""
    opt, model = make(tiny_data, tmp_path, extra=["--ins_max", "4", "--ins_per", "1"])
    img = torch.rand(2, 3, 32, 24) * 2 - 1
    segs = -torch.ones(2, 4, 32, 24)
    for k in range(4):
        segs[:, k, 4 * k:4 * k + 4, 2:10] = 1          # four instances in both samples: four full steps
    state = SetTranslation(img, segs, 1)
    graphs = []
    for m in range(4):
        s = state.step(model.netG_A, model.netG_B, m)
        graphs.append(graph_nodes(sum(model._generator_losses(s, model.netD_A, model.netG_B, 10.0, "A", "B").values())))
        state.commit(s, m)
    assert len(graphs[0]) > 50
    for before, now in zip(graphs, graphs[1:]):
        assert all(type(node).__name__ == "AccumulateGrad" for node in before & now)
