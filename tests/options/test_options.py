"""Options: the reference's flags and defaults, completion of derived values, opt.txt."""
import re

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
                    phase="train", niter=100, niter_decay=100, beta1=0.5, lr=0.0002, lr_D=0.0002, gan_mode="lsgan",
                    pool_size=50, lr_policy="lambda", lr_decay_iters=50, set_order="decreasing", ins_max=4, ins_per=2,
                    lambda_A=10.0, lambda_B=10.0, lambda_idt=1.0, lambda_ctx=1.0, max_instances=20)
    assert {k: getattr(opt, k) for k in expected} == expected
    assert opt.gpu_ids == [] and isinstance(opt.seed, int) and opt.logger == ["visdom", "html"]


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
    # the authors' help example, in any spelling of the options
    spelled = TrainOptions().parse(["--dataroot", str(tmp_path), "--gpu_ids", "-1", "--load_size", "230", "--suffix",
                                    "{model}_{which_model_netG}_size{load_size}_{n_epochs}_{lambda_identity}_"
                                    "{no_lsgan}"])
    assert spelled.name == "experiment_name_insta_gan_set_size230_100_1.0_False"
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
    (["--model", "pix2pix", "--preprocess", "resize", "--load_size", "250", "--crop_size", "256"],
     "--loadSizeH/W (250x250) do not fit --netG unet_256"),      # resize: to the load size, not cropped
    (["--time_limit", "inf"], "--time_limit must be a finite number"),
    (["--beta1", "2"], "--beta1 must be in [0, 1), got 2.0"),
    (["--beta1", "-0.1"], "--beta1 must be in [0, 1)"),
    (["--display_port", "70000"], "--display_port must be in 1..65535"),
    (["--display_ncols", "-1"], "--display_ncols must be >= 0, got -1"),
    (["--seed", "-3"], "--seed must be in [0, 2**63), got -3"),
    (["--load_iter", "-1"], "--load_iter must be >= 0"),
    (["--suffix", "{nosuchflag}"], "--suffix '{nosuchflag}' names no option"),
    (["--suffix", "{0}"], "--suffix '{0}' names no option"),
    (["--model", "cycle_gan", "--output_nc", "1"],
     "--lambda_identity 0.5 needs --input_nc == --output_nc, got 3 and 1 (or --lambda_identity 0)"),
    (["--model", "munit", "--vgg_w", "1"], "--vgg_w > 0 needs --vgg_weights FILE: the authors' vgg16.weight, or "
                                           "torchvision's VGG-16 (https://download.pytorch.org/models/vgg16-397923af.pth)"),
])
def test_bad_values_are_rejected_in_one_line(tmp_path, flags, message):
    with pytest.raises(OptionError) as e:
        TrainOptions().parse(["--dataroot", str(tmp_path), "--gpu_ids", "-1", *flags])
    assert message in str(e.value) and "\n" not in str(e.value)


# -- both spellings: the InstaGAN reference's (2018, some of 2017) and pytorch-CycleGAN-and-pix2pix's current ones --
OLD = ["--loadSizeH", "72", "--loadSizeW", "72", "--fineSizeH", "64", "--fineSizeW", "64", "--niter", "3",
       "--niter_decay", "2", "--no_lsgan", "--resize_or_crop", "resize", "--which_direction", "BtoA", "--which_epoch",
       "5", "--which_model_netG", "basic", "--which_model_netD", "n_layers", "--batchSize", "2", "--nThreads", "0",
       "--lambda_idt", "0.3"]
NEW = ["--load_size", "72", "--crop_size", "64", "--n_epochs", "3", "--n_epochs_decay", "2", "--gan_mode", "vanilla",
       "--preprocess", "resize", "--direction", "BtoA", "--epoch", "5", "--netG", "basic", "--netD", "n_layers",
       "--batch_size", "2", "--num_threads", "0", "--lambda_identity", "0.3"]


def test_current_flag_names_give_the_same_options_as_the_old_ones(tmp_path):
    base = ["--dataroot", str(tmp_path), "--gpu_ids", "-1", "--model", "cycle_gan", "--seed", "1"]
    old_options, new_options = TrainOptions(), TrainOptions()
    old, new = old_options.parse(base + OLD), new_options.parse(base + NEW)
    assert vars(old) == vars(new)
    assert (new.loadSizeH, new.fineSizeW, new.niter, new.gan_mode, new.resize_or_crop, new.direction, new.epoch,
            new.netD, new.batch_size, new.lambda_idt) == (72, 64, 3, "vanilla", "resize", "BtoA", "5", "n_layers", 2,
                                                          0.3)
    assert old_options.format_options(old) == new_options.format_options(new)   # opt.txt: one name each
    assert "load_size" not in vars(new) and "preprocess" not in vars(new) and "no_lsgan" not in vars(new)
    test = TestOptions().parse(["--dataroot", str(tmp_path), "--gpu_ids", "-1", "--how_many", "7"])
    assert test.num_test == 7
    insta = TrainOptions().parse(["--dataroot", str(tmp_path), "--gpu_ids", "-1", "--lambda_identity", "0.3"])
    assert (insta.model, insta.lambda_idt) == ("insta_gan", 0.3)


def test_two_spellings_with_one_value_are_said_once(tmp_path, log_records):
    opt = TrainOptions().parse(["--dataroot", str(tmp_path), "--gpu_ids", "-1", "--niter", "3", "--n_epochs", "3",
                                "--load_size", "240", "--loadSizeH", "240", "--loadSizeW", "240"])
    assert opt.niter == 3 and (opt.loadSizeH, opt.loadSizeW) == (240, 240)
    assert sorted(r.getMessage() for r in log_records) == [
        "--load_size and --loadSizeH are spellings of one option: loadSizeH = 240",
        "--load_size and --loadSizeW are spellings of one option: loadSizeW = 240",
        "--niter and --n_epochs are spellings of one option: niter = 3"]


@pytest.mark.parametrize("flags, message", [
    (["--niter", "3", "--n_epochs", "4"], "--niter 3 and --n_epochs 4 set one option (niter) to different values"),
    (["--crop_size", "64", "--fineSizeW", "48"], "--crop_size 64 and --fineSizeW 48 set one option (fineSizeW)"),
    (["--gan_mode", "lsgan", "--no_lsgan"], "--gan_mode lsgan and --no_lsgan vanilla set one option (gan_mode)"),
    (["--preprocess", "crop", "--resize_or_crop", "resize"], "--preprocess crop and --resize_or_crop resize set one"),
])
def test_two_spellings_that_disagree_are_one_line_errors(tmp_path, flags, message):
    with pytest.raises(OptionError) as e:
        TrainOptions().parse(["--dataroot", str(tmp_path), "--gpu_ids", "-1", *flags])
    assert str(e.value).startswith(message) and str(e.value).endswith("give one of them") and "\n" not in str(e.value)


@pytest.mark.parametrize("model, shown", [
    ("cycle_gan", ["--lambda_A", "--lambda_idt LAMBDA_IDT, --lambda_identity LAMBDA_IDT", "(default: resnet_9blocks)",
                   "(default: unaligned)", "(default: 286)"]),
    ("pix2pix", ["--lambda_L1", "(default: unet_256)", "(default: aligned)", "(default: vanilla)", "(default: 0)"]),
    ("insta_gan", ["--ins_max INS_MAX maximum number of instances per image (default: 4)",
                   "--ins_per INS_PER instances translated per sequential step (default: 2)", "--lambda_ctx LAMBDA_CTX",
                   "(default: set)", "(default: unaligned_seg)", "(default: 220)",
                   "train.py --config CONFIG.yaml [--output_path PATH] [--trainer MUNIT|UNIT] [--resume]"]),
])
def test_help_shows_the_models_flags_and_defaults(model, shown, capsys):
    with pytest.raises(SystemExit) as e:
        TrainOptions().parse(["--model", model, "--help"])      # no --dataroot needed to read the help
    out = " ".join(capsys.readouterr().out.split())
    assert e.value.code == 0 and all(" ".join(s.split()) in out for s in shown), out


def test_dataroot_is_still_required(tmp_path):
    with pytest.raises(OptionError, match="^the following arguments are required: --dataroot$"):
        TrainOptions().parse(["--gpu_ids", "-1"])


def test_test_time_load_size_is_the_crop_size_unless_given(tmp_path):
    base = ["--dataroot", str(tmp_path), "--gpu_ids", "-1"]
    assert vars_of(TestOptions().parse(base + ["--model", "pix2pix"])) == (256, 256, 256, 256)
    assert vars_of(TestOptions().parse(base + ["--model", "cycle_gan", "--crop_size", "128"])) == (128, 128, 128, 128)
    assert vars_of(TestOptions().parse(base + ["--fineSizeH", "240", "--fineSizeW", "160"])) == (240, 160, 240, 160)
    assert vars_of(TestOptions().parse(base + ["--loadSizeH", "220", "--loadSizeW", "200"])) == (220, 200, 200, 200)
    assert vars_of(TrainOptions().parse(base + ["--model", "pix2pix"])) == (286, 286, 256, 256)


def vars_of(opt):
    return opt.loadSizeH, opt.loadSizeW, opt.fineSizeH, opt.fineSizeW


@pytest.mark.parametrize("flags, loggers, display_id, no_html", [
    ([], ["visdom", "html"], 1, False),
    (["--display_id", "0"], ["html"], 0, False),
    (["--display_id", "-1"], ["html"], 0, False),           # pytorch-CycleGAN-and-pix2pix's notebooks' spelling
    (["--no_html", "--display_id", "2"], ["visdom"], 2, True),
    (["--logger", "tensorboard"], ["tensorboard"], 0, True),
    (["--logger", "html,tensorboard,html", "--use_wandb"], ["html", "tensorboard", "wandb"], 0, False),
    (["--use_wandb", "--logger", "wandb"], ["wandb"], 0, True),
    (["--logger", ""], [], 0, True),
])
def test_logger_list_is_the_one_record_of_the_loggers(tmp_path, flags, loggers, display_id, no_html):
    opt = TrainOptions().parse(["--dataroot", str(tmp_path), "--gpu_ids", "-1", *flags])
    assert (opt.logger, opt.display_id, opt.no_html) == (loggers, display_id, no_html)
    assert not hasattr(opt, "use_wandb")


@pytest.mark.parametrize("flags, message", [
    (["--logger", "visdom,mlflow"],
     "argument --logger: unknown logger mlflow (choose among visdom, html, tensorboard, wandb)"),
    (["--logger", "visdom", "--display_id", "0"], "--display_id 0 switches visdom off but --logger names it"),
    (["--logger", "html", "--no_html"], "--no_html switches the HTML page off but --logger names html"),
])
def test_logger_conflicts_are_one_line_errors(tmp_path, flags, message):
    with pytest.raises(OptionError, match=f"^{re.escape(message)}"):
        TrainOptions().parse(["--dataroot", str(tmp_path), "--gpu_ids", "-1", *flags])


# -- pytorch-CycleGAN-and-pix2pix's --preprocess modes: what parse time can check of the sizes they give -----------
CYCLE = ["--model", "cycle_gan", "--netG", "basic", "--gpu_ids", "-1"]


@pytest.mark.parametrize("flags", [
    ["--preprocess", "scale_width", "--load_size", "288"],                  # 288 wide, heights from 256 up
    ["--preprocess", "scale_width_and_crop", "--load_size", "286"],        # 256x256 crops of 286 wide pictures
    ["--preprocess", "none", "--load_size", "30", "--crop_size", "30"],    # the pictures' sizes, rounded to 4
])
def test_their_preprocess_modes_parse(tmp_path, flags):
    assert TrainOptions().parse(["--dataroot", str(tmp_path), *CYCLE, *flags]).resize_or_crop == flags[1]


@pytest.mark.parametrize("flags, message", [
    (["--preprocess", "scale_width"], "--preprocess scale_width: a width of --loadSizeW 286 and heights from "
                                      "--fineSizeH 256 up do not fit --netG basic: at least 4 pixels per side, "
                                      "multiples of 4"),
    (["--preprocess", "scale_width", "--load_size", "288", "--crop_size", "2"], "heights from --fineSizeH 2 up do "
                                                                                "not fit --netG basic"),
    (["--preprocess", "scale_width_and_crop", "--crop_size", "300"], "--fineSizeW 300 must not exceed --loadSizeW 286"),
    (["--preprocess", "scale_width_and_crop", "--crop_size", "30"], "--fineSizeH/W (30x30) do not fit --netG basic"),
    (["--gan_mode", "wgan"], "argument --gan_mode: invalid choice: 'wgan'"),
])
def test_their_preprocess_modes_and_gan_modes_are_checked_in_one_line(tmp_path, flags, message):
    with pytest.raises(OptionError) as e:
        TrainOptions().parse(["--dataroot", str(tmp_path), *CYCLE, *flags])
    assert message in str(e.value) and "\n" not in str(e.value)
