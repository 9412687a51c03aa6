"""Mask-set helpers and the losses of Eq. 3-6 on small hand-checked tensors."""
import pytest
import torch

from models import create_model
from models.losses import ContextPreservingLoss, GANLoss, MultiScaleGANLoss, SetL1Loss
from models.masks import context_weight, merge_masks, nonempty, select_masks


def slot(h, w, box=None, value=1.0):
    m = -torch.ones(h, w)
    if box:
        y0, y1, x0, x1 = box
        m[y0:y1, x0:x1] = value
    return m


def test_nonempty_and_select_decreasing():
    segs = torch.stack([slot(4, 4, (0, 1, 0, 1)), slot(4, 4), slot(4, 4, (0, 4, 0, 4)), slot(4, 4, (0, 2, 0, 2))])[None]
    assert nonempty(segs).tolist() == [[True, False, True, True]]
    out = select_masks(segs, 3)
    assert out.shape == (1, 3, 4, 4)
    assert [int((s > 0).sum()) for s in out[0]] == [16, 4, 1]
    # padding when asked for more slots than there are
    padded = select_masks(segs, 6)
    assert padded.shape[1] == 6 and not nonempty(padded)[0, 3:].any()


def test_select_decreasing_ranks_equal_areas_as_the_reference():
    """The reference ranks each sample's 20 slots by `segs.mean(-1).mean(-1)` and `topk`: two masks of the same
    pixels in other places have equal means by its arithmetic (here, not by a mean over both axes at once), and
    topk then orders them its own way; a batch is ranked as each of its samples alone."""
    g = torch.Generator().manual_seed(2)
    soft = torch.rand(16, 12, generator=g) * 2 - 1
    shuffled = soft.flatten()[torch.randperm(16 * 12, generator=g)].view(16, 12)
    segs = torch.full((3, 20, 16, 12), -1.0)
    segs[0, :2] = torch.stack([soft, shuffled])
    segs[1, [0, 2, 5, 7]] = slot(16, 12, (0, 4, 0, 4))          # four equal squares, mask k in slot k
    segs[1, 5, :4, :4] = -1
    segs[1, 5, 8:12, 4:8] = 1
    segs[2, [3, 4]] = torch.stack([soft, shuffled])
    for k in (1, 2, 4):
        reference = torch.stack([sample[sample.mean(-1).mean(-1).topk(k)[1]] for sample in segs])
        assert torch.equal(select_masks(segs, k), reference)
    assert not torch.equal(segs[0].mean(dim=(-2, -1)).topk(2)[1], segs[0].mean(-1).mean(-1).topk(2)[1])


def test_select_random_keeps_instances_and_puts_empties_last():
    segs = torch.stack([slot(4, 4, (0, 1, 0, 1)), slot(4, 4), slot(4, 4, (0, 4, 0, 4)), slot(4, 4, (0, 2, 0, 2))])[None]
    seen = set()
    for seed in range(20):
        out = select_masks(segs.expand(2, -1, -1, -1), 4, "random", torch.Generator().manual_seed(seed))
        areas = [[int((s > 0).sum()) for s in sample] for sample in out]
        for a in areas:
            assert sorted(a[:3]) == [1, 4, 16] and a[3] == 0
            seen.add(tuple(a))
    assert len(seen) > 1


def test_merge_is_clamped_sum_of_foregrounds():
    a = slot(2, 2, (0, 1, 0, 2), 1.0)            # top row instance
    b = slot(2, 2, (0, 2, 0, 1), 0.0)            # left column at half strength
    merged = merge_masks(torch.stack([a, b])[None])[0, 0]
    assert merged.tolist() == [[1.0, 1.0], [0.0, -1.0]]
    counted = merge_masks(torch.stack([a, b])[None], torch.tensor([[1, 2]]))[0, 0]
    assert counted.tolist() == [[1.0, 1.0], [1.0, -1.0]]


def test_context_weight_is_one_outside_both_masks():
    a = slot(2, 3, (0, 2, 0, 1))[None, None]     # column 0
    b = slot(2, 3, (0, 1, 1, 2))[None, None]     # top of column 1
    assert context_weight(a, b)[0, 0].tolist() == [[0, 0, 1], [0, 1, 1]]


def test_lsgan_and_vanilla_losses():
    pred = torch.tensor([[0.5, -1.0]])
    assert torch.isclose(GANLoss("lsgan")(pred, True), torch.tensor((0.25 + 4.0) / 2))
    assert torch.isclose(GANLoss("lsgan")(pred, False), torch.tensor((0.25 + 1.0) / 2))
    expected = torch.nn.functional.binary_cross_entropy(torch.sigmoid(pred), torch.ones_like(pred))
    assert torch.isclose(GANLoss("vanilla")(pred, True), expected)


def test_nsgan_saturates_as_munits():
    """MUNIT's and UNIT's nsgan takes the cross-entropy of sigmoid(D): equal to the logits' form while the sigmoid
    is not rounded to 0 or 1; beyond, its log is clamped at -100 and the gradient is 0 (the logits' form: 30, -1)."""
    moderate = torch.tensor([[0.5, -3.0, 6.0]])
    for real in (True, False):
        assert torch.isclose(GANLoss("nsgan")(moderate, real), GANLoss("vanilla")(moderate, real))
    saturated = torch.tensor([[30.0]], requires_grad=True)
    loss = GANLoss("nsgan")(saturated, False)
    loss.backward()
    assert loss.item() == 100.0 and saturated.grad.item() == 0.0
    assert torch.isclose(GANLoss("vanilla")(saturated, False), torch.tensor(30.0))


def test_wgangp_is_the_critics_mean_without_target_or_sigmoid():
    pred = torch.tensor([[[[0.5, -2.0], [3.0, 1.5]]]], requires_grad=True)     # mean 0.75
    wgan = GANLoss(gan_mode="wgangp")
    assert wgan(pred, True).item() == -0.75 and wgan(pred, False).item() == 0.75
    wgan(pred, True).backward()
    assert torch.equal(pred.grad, torch.full_like(pred, -0.25))
    # BicycleGAN's: the sum over scales, and over the images of a single map
    multi = MultiScaleGANLoss(gan_mode="wgangp")
    assert multi([pred, 2 * pred], False).item() == 0.75 + 1.5
    assert multi(torch.cat([pred, 3 * pred]), True).item() == -0.75 - 2.25
    with pytest.raises(ValueError, match="unknown gan_mode 'wgan'"):
        GANLoss(gan_mode="wgan")


@pytest.mark.parametrize("model, flags", [
    ("insta_gan", ["--fineSizeH", "32", "--fineSizeW", "32", "--loadSizeH", "32", "--loadSizeW", "32"]),
    ("cycle_gan", ["--netG", "basic", "--crop_size", "32", "--load_size", "32"]),
    ("pix2pix", ["--netG", "unet_64", "--crop_size", "64", "--load_size", "64"]),
    ("bicycle_gan", ["--netG", "unet_64", "--crop_size", "64", "--load_size", "64", "--netD", "basic_128",
                     "--netD2", "basic_128", "--netE", "conv_128"]),
])
def test_every_model_of_gan_mode_takes_wgangp(tmp_path, model, flags):
    from options.train_options import TrainOptions

    opt = TrainOptions().parse(["--dataroot", str(tmp_path), "--model", model, "--gan_mode", "wgangp", "--ngf", "2",
                                "--ndf", "2", "--n_blocks", "1", "--gpu_ids", "-1", *flags])
    assert create_model(opt).criterionGAN.gan_mode == "wgangp"


@pytest.mark.parametrize("model, flags, form", [
    ("insta_gan", ["--fineSizeH", "32", "--fineSizeW", "32", "--loadSizeH", "32", "--loadSizeW", "32"], "nsgan"),
    ("cycle_gan", ["--netG", "basic", "--crop_size", "32", "--load_size", "32"], "vanilla"),
])
def test_no_lsgan_is_each_references_cross_entropy(tmp_path, model, flags, form):
    """The InstaGAN reference (2018) ends D with a sigmoid and takes BCELoss, which saturates; today's
    pytorch-CycleGAN-and-pix2pix takes the cross-entropy of the logits."""
    from options.train_options import TrainOptions

    opt = TrainOptions().parse(["--dataroot", str(tmp_path), "--model", model, "--no_lsgan", "--ngf", "2", "--ndf",
                                "2", "--n_blocks", "1", "--gpu_ids", "-1", *flags])
    assert create_model(opt).criterionGAN(torch.tensor([[30.0]]), False).item() == (100.0 if form == "nsgan" else 30.0)


def test_set_l1_runs_over_image_and_mask_channels():
    img, segs = torch.zeros(1, 3, 2, 2), -torch.ones(1, 1, 2, 2)
    img2, segs2 = img.clone(), segs.clone()
    segs2[0, 0, 0, 0] = 1.0                      # one mask pixel off by 2
    assert torch.isclose(SetL1Loss()(img2, segs2, img, segs), torch.tensor(2.0 / 16))


def test_context_loss_ignores_both_instances():
    real_img, fake_img = torch.zeros(1, 3, 1, 3), torch.ones(1, 3, 1, 3)
    real_segs = torch.tensor([[[[1.0, -1.0, -1.0]]]])
    fake_segs = torch.tensor([[[[-1.0, 1.0, -1.0]]]])
    # only the third pixel is background in both: |0 - 1| * 1 over 3 channels, mean over 9 values
    assert torch.isclose(ContextPreservingLoss()(real_img, real_segs, fake_img, fake_segs), torch.tensor(3 / 9))
