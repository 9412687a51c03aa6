"""Options: the reference's flags and defaults, completion of derived values, opt.txt."""
import pytest

from options.test_options import TestOptions
from options.train_options import TrainOptions
from util.errors import OptionError


def test_reference_defaults(tmp_path):
    opt = TrainOptions().parse(["--dataroot", str(tmp_path), "--gpu_ids", "-1"])
    expected = dict(batch_size=1, loadSizeW=220, loadSizeH=220, fineSizeW=200, fineSizeH=200, input_nc=3, output_nc=3,
                    ngf=64, ndf=64, netG="set", netD="set", n_layers_D=3, name="experiment_name",
                    dataset_mode="unaligned_seg", model="insta_gan", direction="AtoB", epoch="latest", num_threads=4,
                    norm="instance", no_dropout=True, resize_or_crop="resize_and_crop", init_type="normal",
                    init_gain=0.02, display_freq=400, display_ncols=6, display_id=1, display_port=8097,
                    update_html_freq=1000, print_freq=100, save_latest_freq=5000, save_epoch_freq=5, epoch_count=1,
                    phase="train", niter=100, niter_decay=100, beta1=0.5, lr=0.0002, lr_D=0.0002, no_lsgan=False,
                    pool_size=50, lr_policy="lambda", lr_decay_iters=50, set_order="decreasing", ins_max=4, ins_per=2,
                    lambda_A=10.0, lambda_B=10.0, lambda_idt=1.0, lambda_ctx=1.0, max_instances=20)
    assert {k: getattr(opt, k) for k in expected} == expected
    assert opt.gpu_ids == [] and isinstance(opt.seed, int)


def test_test_defaults_and_forced_values(tmp_path):
    opt = TestOptions().parse(["--dataroot", str(tmp_path), "--gpu_ids", "-1", "--batch_size", "4"])
    assert (opt.results_dir, opt.phase, opt.num_test, opt.aspect_ratio) == ("./results/", "test", 50, 1.0)
    assert opt.serial_batches and opt.no_flip and opt.batch_size == 4 and not hasattr(opt, "lambda_A")


def test_lr_D_and_max_instances_follow_other_flags(tmp_path):
    opt = TrainOptions().parse(["--dataroot", str(tmp_path), "--gpu_ids", "-1", "--lr", "0.001", "--ins_max", "30",
                                "--ins_per", "3"])
    assert opt.lr_D == 0.001 and opt.max_instances == 30


def test_missing_gpu_falls_back_to_cpu_with_one_warning(tmp_path, log_records, monkeypatch):
    import torch
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    opt = TrainOptions().parse(["--dataroot", str(tmp_path), "--gpu_ids", "0"])
    assert opt.gpu_ids == [] and [r.levelname for r in log_records] == ["WARNING"]


def test_max_dataset_size_may_be_infinite(tmp_path):
    assert TrainOptions().parse(["--dataroot", str(tmp_path), "--gpu_ids", "-1"]).max_dataset_size == float("inf")


def test_aspect_ratio_nan_is_rejected(tmp_path):
    with pytest.raises(OptionError, match=r"^--aspect_ratio must be a finite number, got nan$"):
        TestOptions().parse(["--dataroot", str(tmp_path), "--gpu_ids", "-1", "--aspect_ratio", "nan"])


def test_suffix_and_opt_txt(tmp_path):
    options = TrainOptions()
    opt = options.parse(["--dataroot", str(tmp_path), "--gpu_ids", "-1", "--suffix", "{model}_ngf{ngf}", "--ngf", "8"])
    assert opt.name == "experiment_name_insta_gan_ngf8"
    path = options.save(opt, str(tmp_path / "run"))
    text = open(path).read()
    assert "ngf: 8" in text and "[default: 64]" in text and "seed:" in text


@pytest.mark.parametrize("flags, message", [
    (["--fineSizeH", "300"], "must not exceed --loadSizeH/W"),
    (["--lr", "0"], "--lr must be > 0"),
    (["--niter", "0", "--niter_decay", "0"], "at least one epoch"),
    (["--gpu_ids", "a"], "--gpu_ids: expected comma-separated integers"),
    (["--ins_max", "0"], "--ins_per (2) must not exceed --ins_max (0)"),
    (["--fineSizeH", "30"], "do not fit --netG set: at least 4 pixels per side, multiples of 4"),
    (["--fineSizeW", "20", "--loadSizeW", "20"], "do not fit --netD set: at least 24 pixels per side"),
    (["--n_layers_D", "7"], "do not fit --netD set: at least 384 pixels per side"),
    (["--upsample", "bilinear"], "--netG set is not one of BicycleGAN's U-Nets: it takes --upsample transpose or nearest, not bilinear"),
    (["--G_output", "residual", "--output_nc", "1"], "--G_output residual needs --input_nc == --output_nc"),
    (["--G_output", "residual", "--model", "pix2pix"], "--G_output residual is not offered by --netG unet_256 (it offers generate)"),
    (["--G_output", "paste", "--model", "cycle_gan", "--netG", "basic", "--netD", "basic"],
     "--G_output paste is not offered by --netG basic (it offers generate, residual)"),
    # numbers that are not numbers, or out of their range
    (["--lr", "nan"], "--lr must be a finite number, got nan"),
    (["--lr_D", "inf"], "--lr_D must be a finite number, got inf"),
    (["--init_gain", "nan"], "--init_gain must be a finite number"),
    (["--init_gain", "0"], "--init_gain must be > 0"),
    (["--max_dataset_size", "nan"], "--max_dataset_size must be a finite number"),
    (["--lambda_ctx", "nan"], "--lambda_ctx must be a finite number"),
    (["--lambda_L1", "nan", "--model", "pix2pix", "--dataset_mode", "aligned", "--netG", "unet_256",
      "--netD", "basic", "--fineSizeH", "256", "--fineSizeW", "256", "--loadSizeH", "286", "--loadSizeW", "286"],
     "--lambda_L1 must be a finite number"),
    (["--time_limit", "inf"], "--time_limit must be a finite number"),
    (["--beta1", "2"], "--beta1 must be in [0, 1), got 2.0"),
    (["--beta1", "-0.1"], "--beta1 must be in [0, 1)"),
    (["--display_port", "70000"], "--display_port must be in 1..65535"),
    (["--display_ncols", "-1"], "--display_ncols and --display_id must be >= 0"),
    (["--seed", "-3"], "--seed must be in [0, 2**63), got -3"),
    (["--load_iter", "-1"], "--load_iter must be >= 0"),
    (["--suffix", "{nosuchflag}"], "--suffix '{nosuchflag}' names no option"),
    (["--suffix", "{0}"], "--suffix '{0}' names no option"),
])
def test_bad_values_are_rejected_in_one_line(tmp_path, flags, message):
    with pytest.raises(OptionError) as e:
        TrainOptions().parse(["--dataroot", str(tmp_path), "--gpu_ids", "-1", *flags])
    assert message in str(e.value) and "\n" not in str(e.value)
