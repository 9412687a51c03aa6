"""BicycleGAN (Zhu et al., NeurIPS 2017): multimodal paired translation A -> B with a latent code z.

Two cycles share G(A, z) and the encoder E(B) -> (mu, logvar):
- cVAE-GAN (B -> z -> B): z = mu + eps * exp(logvar / 2) from E(B1); G(A1, z) must match B1 (L1) and fool D;
  KL pulls q(z | B) towards N(0, I).
- cLR-GAN (z -> B -> z): G(A1, z_random) must fool D2, and E must find z_random again in it (latent L1, which
  updates G only: E's weights are frozen for it, as the authors').
Each batch is split in halves as the authors': the first (A1, B1) feeds both branches, the second's B2 is
D2's real image (and A2 its condition with --conditional_D). The authors need an even batch; here an odd batch
of n takes its first (n + 1) / 2 samples as the first half and its last (n + 1) / 2 as the second, the middle
sample serving in both (a batch of 1 is its own two halves); even batches are split as theirs. Under torchrun
each process halves its own batch: N processes take the step of one process whose batch is their first halves
followed by their second halves (tests/test_distributed.py).

`--variant cvae_gan` / `clr_gan` trains one cycle alone (the paper's ablations): the other's losses and
discriminator are dropped. In cLR-GAN alone the latent L1 also trains E (nothing else would).

test.py writes, per input i, the authors' `input_{i:03d}_{input, ground truth, encoded, random_sampleKK}.png`
into `--results_dir/{phase}[_sync]/images/`, with z drawn from a generator seeded by --seed (the authors'
samples cannot be repeated).
"""
from __future__ import annotations

import argparse
from collections import OrderedDict

import torch
import torch.nn as nn

from util import distributed
from util.errors import OptionError
from . import register_model
from .base_model import BaseModel
from .losses import MultiScaleGANLoss, kl_divergence_sum
from .networks import (DISCRIMINATORS, ENCODERS, GENERATORS, check_size, define_D, define_E, define_latent_G,
                       describe)
from .networks.unet_z_generator import NONLINEARITIES, Z_UPSAMPLING

VARIANTS = ("bicycle", "cvae_gan", "clr_gan")


@register_model("bicycle_gan")
class BicycleGANModel(BaseModel):
    loss_names = ["G_GAN", "D", "G_GAN2", "D2", "G_L1", "z_L1", "kl"]
    architecture_flags = ("netG", "ngf", "nz", "where_add", "norm", "use_dropout", "upsample", "input_nc", "output_nc",
                          "netE", "nef", "netD", "netD2", "ndf", "num_Ds", "conditional_D")
    full_batches_only = True      # the authors' train.py skips a batch shorter than --batch_size (their is_train)

    @staticmethod
    def modify_commandline_options(parser: argparse.ArgumentParser, is_train: bool) -> argparse.ArgumentParser:
        """The authors' flags and defaults (their base, train and test options)."""
        parser.set_defaults(netG="unet_256", netD="basic_256_multi", norm="instance", init_type="xavier",
                            dataset_mode="aligned", loadSizeH=286, loadSizeW=286, fineSizeH=256, fineSizeW=256,
                            upsample="basic")
        p = parser
        p.add_argument("--nz", type=int, default=8, help="length of the latent code z")
        p.add_argument("--nef", type=int, default=64, help="# of encoder filters in the first conv layer")
        p.add_argument("--netE", type=str, default="resnet_256", choices=list(ENCODERS), help=describe(ENCODERS))
        p.add_argument("--netD2", type=str, default="basic_256_multi", choices=list(DISCRIMINATORS),
                       help="discriminator of the cLR-GAN branch (same choices as --netD)")
        p.add_argument("--num_Ds", type=int, default=2, help="scales of the multi-scale discriminators")
        p.add_argument("--where_add", type=str, default="all", choices=["all", "input", "middle"],
                       help="where z enters G: every down block (all) or the image only (input); middle is not built")
        p.add_argument("--nl", type=str, default="relu", choices=list(NONLINEARITIES),
                       help="non-linearity of G's up path (E and D always use LeakyReLU 0.2)")
        p.add_argument("--use_dropout", action="store_true", help="dropout in G's innermost 8ngf levels")
        p.add_argument("--conditional_D", action="store_true", help="the discriminators judge [A; B], not B alone")
        p.add_argument("--center_crop", action="store_true",
                       help="crop the centre, not a random place (their test scripts pass it; their 2018 code read it)")
        if is_train:
            parser.set_defaults(batch_size=2, lr_policy="linear", display_ncols=4, update_html_freq=4000,
                                save_latest_freq=10000, lr_decay_iters=100)
            p.add_argument("--variant", type=str, default="bicycle", choices=VARIANTS,
                           help="bicycle: both cycles; cvae_gan or clr_gan: one cycle alone (the paper's ablations)")
            p.add_argument("--lambda_L1", type=float, default=10.0, help="weight of |B - G(A, E(B))|")
            p.add_argument("--lambda_GAN", type=float, default=1.0, help="weight of D's loss on G(A, E(B))")
            p.add_argument("--lambda_GAN2", type=float, default=1.0, help="weight of D2's loss on G(A, z_random)")
            p.add_argument("--lambda_z", type=float, default=0.5, help="weight of |E(G(A, z_random)) - z_random|")
            p.add_argument("--lambda_kl", type=float, default=0.01, help="weight of the KL term")
            p.add_argument("--use_same_D", action="store_true", help="one discriminator judges both branches")
        else:
            parser.set_defaults(phase="val")
            p.add_argument("--n_samples", type=int, default=5, help="random samples per input")
            p.add_argument("--no_encode", action="store_true",
                           help="no encoder: the 'encoded' column is then G(A, z) for one more random z (as theirs)")
            p.add_argument("--sync", action="store_true", help="the same random codes for every input")
        return parser

    @staticmethod
    def validate_options(opt: argparse.Namespace) -> None:
        modes = ("aligned",) if opt.isTrain else ("aligned", "single")
        if opt.dataset_mode not in modes:
            raise OptionError(f"--model bicycle_gan needs --dataset_mode {' or '.join(modes)}, got {opt.dataset_mode}")
        if GENERATORS[opt.netG].family != "unet":
            raise OptionError(f"--model bicycle_gan needs a U-Net --netG (unet_64, unet_128, unet_256), got {opt.netG}")
        if opt.where_add == "middle":
            raise OptionError("--where_add middle is offered by the authors' help but not built: use all or input")
        if opt.upsample not in Z_UPSAMPLING:
            raise OptionError(f"--model bicycle_gan needs --upsample basic or bilinear, got {opt.upsample}")
        for name, low in (("nz", 0), ("nef", 1), ("num_Ds", 1)) + ((("n_samples", 0),) if not opt.isTrain else ()):
            if getattr(opt, name) < low:
                raise OptionError(f"--{name} must be >= {low}, got {getattr(opt, name)}")
        check_size(opt, f"--netE {opt.netE}", ENCODERS[opt.netE])
        if not opt.isTrain:
            return
        for flag in ("netD", "netD2"):
            net = DISCRIMINATORS[getattr(opt, flag)]
            if net.family not in ("patch", "multi_patch"):
                raise OptionError(f"--model bicycle_gan needs a PatchGAN --{flag}, got {getattr(opt, flag)}")
            check_size(opt, f"--{flag} {getattr(opt, flag)}", net)
        for name in ("lambda_L1", "lambda_GAN", "lambda_GAN2", "lambda_z", "lambda_kl"):
            if getattr(opt, name) < 0:
                raise OptionError(f"--{name} must be >= 0, got {getattr(opt, name)}")
        if opt.variant == "cvae_gan":
            opt.lambda_GAN2 = opt.lambda_z = 0.0
        elif opt.variant == "clr_gan":
            opt.lambda_GAN = opt.lambda_L1 = opt.lambda_kl = 0.0

    def __init__(self, opt: argparse.Namespace):
        super().__init__(opt)
        self.nz = opt.nz
        self.netG = self.place(define_latent_G(opt.input_nc, opt.output_nc, opt.nz, opt.ngf, opt.netG, opt.norm,
                                               opt.nl, opt.use_dropout, opt.init_type, opt.init_gain, opt.where_add,
                                               opt.upsample))
        self.net_names = ["G"]
        use_E = opt.isTrain or not opt.no_encode
        if use_E:
            self.netE = self.place(define_E(opt.output_nc, opt.nz, opt.nef, opt.netE, opt.norm, opt.init_type,
                                            opt.init_gain))
            self.net_names.append("E")
        if not self.isTrain:
            self.visual_names = []
            # one stream of codes for the whole run: the same --seed gives the same samples at any --batch_size
            self.z_stream = torch.Generator().manual_seed(opt.seed)
            self.z_sync = self.draw_z(1)[0] if opt.sync else None
            self.inputs_seen = 0
            return
        self.encoded_branch = opt.variant != "clr_gan"
        self.random_branch = opt.variant != "cvae_gan"
        d_nc = opt.input_nc + opt.output_nc if opt.conditional_D else opt.output_nc
        d = dict(norm=opt.norm, init_type=opt.init_type, init_gain=opt.init_gain, num_Ds=opt.num_Ds)
        self.netD = self.netD2 = None
        if opt.lambda_GAN > 0:
            self.netD = self.place(define_D(d_nc, opt.ndf, opt.netD, **d))
            self.net_names.append("D")
        if opt.lambda_GAN2 > 0 and not opt.use_same_D:
            self.netD2 = self.place(define_D(d_nc, opt.ndf, opt.netD2, **d))
            self.net_names.append("D2")
        self.criterionGAN = MultiScaleGANLoss(gan_mode=opt.gan_mode)
        self.criterionL1 = nn.L1Loss()
        # the authors' four Adams, in their order: G, E, D, D2
        lrs = {"G": opt.lr, "E": opt.lr, "D": opt.lr_D, "D2": opt.lr_D}
        self.optimizers = [torch.optim.Adam(net.parameters(), lr=lrs[name], betas=(opt.beta1, 0.999))
                           for name, net in self.networks().items()]
        self.optimizer = dict(zip(self.net_names, self.optimizers))
        self.visual_names = ["real_A_encoded", "real_B_encoded"] + ["fake_B_random"] * self.random_branch + [
            "fake_B_encoded"] * self.encoded_branch

    def setup(self) -> dict | None:
        resumed = super().setup()
        if not self.isTrain:
            self.eval()          # the authors' test.py always tests in eval mode
        return resumed

    # -- inputs and codes -----------------------------------------------------------------------------------------
    def set_input(self, data: dict) -> None:
        """A batch of `aligned` (A, B) pairs (A is the input side whatever --direction: the data mode swaps), or
        of `single` images A at test time."""
        self.real_A = data["A"].to(self.device)
        self.real_B = data["B"].to(self.device) if "B" in data else None
        self.image_paths = data["A_paths"]

    def draw_z(self, n: int) -> torch.Tensor:
        """n rows of n_samples + 1 codes (n, n_samples + 1, nz) from the run's stream, one input after another."""
        k = self.opt.n_samples + 1
        return torch.stack([torch.randn(k, self.nz, generator=self.z_stream) for _ in range(n)])

    def encode(self, B: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """E(B) -> (z = mu + eps * std, mu, logvar), eps ~ N(0, I) drawn on the CPU (the same on every device)."""
        mu, logvar = self.netE(B)
        eps = torch.randn(mu.shape).to(self.device)
        return eps * torch.exp(0.5 * logvar) + mu, mu, logvar

    # -- testing --------------------------------------------------------------------------------------------------
    def results_subdir(self, epoch: str) -> str:
        """The authors' test.py writes to {results_dir}/{phase}, or {phase}_sync."""
        return self.opt.phase + ("_sync" if self.opt.sync else "")

    def forward(self) -> None:
        """Per input: the encoded output G(A, mu(E(B))) and --n_samples outputs G(A, z), z ~ N(0, I), all in one
        batched call of G (n inputs x (n_samples + 1) codes)."""
        n, k = len(self.real_A), self.opt.n_samples + 1
        z = self.z_sync.expand(n, k, self.nz) if self.z_sync is not None else self.draw_z(n)
        z = z.to(self.device).clone()
        encoded = self.real_B is not None and not self.opt.no_encode
        if encoded:
            z[:, 0] = self.netE(self.real_B)[0]
        fake = self.netG(self.real_A.repeat_interleave(k, 0), z.flatten(0, 1)).unflatten(0, (n, k))
        visuals = OrderedDict(input=self.real_A)
        if self.real_B is not None:
            visuals["ground truth"] = self.real_B
        if encoded or self.opt.no_encode:
            visuals["encoded"] = fake[:, 0]
        for j in range(1, k):
            visuals[f"random_sample{j:02d}"] = fake[:, j]
        self.visuals = visuals
        self.image_paths = [f"input_{self.inputs_seen + i:03d}" for i in range(n)]
        self.inputs_seen += n

    def get_current_visuals(self) -> OrderedDict:
        return self.visuals if not self.isTrain else super().get_current_visuals()

    def translate_held_out(self) -> OrderedDict:
        """--eval_freq: G(A, z) with one random z ~ N(0, I) per held-out input, beside its ground truth."""
        with torch.no_grad(), self.autocast():
            z = torch.randn(len(self.real_A), self.nz).to(self.device)
            return OrderedDict(real_B_random=self.real_B, fake_B_random=self.netG(self.real_A, z))

    # -- training -------------------------------------------------------------------------------------------------
    def forward_train(self) -> None:
        """Both branches on the batch's halves (see the module docstring for odd batches)."""
        n = len(self.real_A)
        h = (n + 1) // 2
        self.real_A_encoded, self.real_B_encoded = self.real_A[:h], self.real_B[:h]
        self.real_A_random, self.real_B_random = self.real_A[n - h:], self.real_B[n - h:]
        if self.encoded_branch:
            z_encoded, self.mu, self.logvar = self.encode(self.real_B_encoded)
            self.fake_B_encoded = self.netG(self.real_A_encoded, z_encoded)
            self.fake_data_encoded = self.d_input(self.real_A_encoded, self.fake_B_encoded)
            self.real_data_encoded = self.d_input(self.real_A_encoded, self.real_B_encoded)
        if self.random_branch:
            self.z_random = torch.randn(h, self.nz).to(self.device)
            self.fake_B_random = self.netG(self.real_A_encoded, self.z_random)
            self.fake_data_random = self.d_input(self.real_A_encoded, self.fake_B_random)
            self.real_data_random = self.d_input(self.real_A_random, self.real_B_random)

    def d_input(self, A: torch.Tensor, B: torch.Tensor) -> torch.Tensor:
        """What a discriminator judges: B, or [A; B] with --conditional_D (the random branch's fakes are
        conditioned on A1, its reals on A2, as the authors')."""
        return torch.cat([A, B], 1) if self.opt.conditional_D else B

    def optimize_parameters(self) -> None:
        """G and E first (both branches' losses; the latent L1 with E frozen), then D and D2 on the images
        generated before that step."""
        opt = self.opt
        self.forward_train()
        D2 = self.netD if opt.use_same_D else self.netD2
        losses: dict[str, torch.Tensor] = {}
        self.set_requires_grad([d for d in (self.netD, self.netD2) if d is not None], False)
        for name in ("G", "E"):
            self.optimizer[name].zero_grad(set_to_none=True)
        if self.encoded_branch:
            if self.netD is not None:
                losses["G_GAN"] = opt.lambda_GAN * self.gan_loss(self.netD(self.fake_data_encoded), True)
            losses["G_L1"] = opt.lambda_L1 * self.criterionL1(self.fake_B_encoded, self.real_B_encoded)
            losses["kl"] = opt.lambda_kl * over_all_processes(kl_divergence_sum(self.mu, self.logvar))
        if self.random_branch:
            if D2 is not None and opt.lambda_GAN2 > 0:
                losses["G_GAN2"] = opt.lambda_GAN2 * self.gan_loss(D2(self.fake_data_random), True)
            if opt.lambda_z > 0:
                frozen = opt.variant == "bicycle"      # the hybrid's latent L1 updates G only
                self.set_requires_grad([self.netE], not frozen)
                mu2 = self.netE(self.fake_B_random)[0]
                self.set_requires_grad([self.netE], True)
                losses["z_L1"] = opt.lambda_z * (mu2 - self.z_random).abs().mean()
        sum(losses.values()).backward()
        self.sync_gradients([self.netG, self.netE], mean=True)
        self.optimizer["G"].step()
        self.optimizer["E"].step()

        if self.netD is not None:
            self.set_requires_grad([self.netD], True)
            self.optimizer["D"].zero_grad(set_to_none=True)
            if self.encoded_branch:
                losses["D"] = self.backward_D(self.netD, self.real_data_encoded, self.fake_data_encoded)
            if opt.use_same_D and self.random_branch:      # as the authors', whatever --lambda_GAN2
                losses["D2"] = self.backward_D(self.netD, self.real_data_random, self.fake_data_random)
            self.sync_gradients([self.netD], mean=True)
            self.optimizer["D"].step()
        if self.netD2 is not None:
            self.set_requires_grad([self.netD2], True)
            self.optimizer["D2"].zero_grad(set_to_none=True)
            losses["D2"] = self.backward_D(self.netD2, self.real_data_random, self.fake_data_random)
            self.sync_gradients([self.netD2], mean=True)
            self.optimizer["D2"].step()
        self.share_buffers(list(self.networks().values()))   # batch-norm statistics of process 0's batches
        self.losses = {name: float(value.detach()) for name, value in losses.items()}

    def backward_D(self, netD: nn.Module, real: torch.Tensor, fake: torch.Tensor) -> torch.Tensor:
        """GAN(D(fake), 0) + GAN(D(real), 1) (a sum, not halved), backpropagated into D only."""
        loss = self.gan_loss(netD(fake.detach()), False) + self.gan_loss(netD(real), True)
        loss.backward()
        return loss

    def gan_loss(self, prediction: torch.Tensor | list[torch.Tensor], target_is_real: bool) -> torch.Tensor:
        """criterionGAN: a list of maps (--num_Ds > 1) gives means over the images, a single map a sum over them
        (models/losses.py: MultiScaleGANLoss), which counts every process's images."""
        loss = self.criterionGAN(prediction, target_is_real)
        return loss if isinstance(prediction, list) else over_all_processes(loss)


def over_all_processes(image_sum: torch.Tensor) -> torch.Tensor:
    """A loss summed over this process's images (the KL, a single-scale D's GAN loss) times the number N of
    processes: the gradients and the logged losses are averaged over the processes (sync_gradients(mean=True),
    train.py's global_losses), and N times the mean of their sums is the sum over all their images, which one
    process with all of them takes. One process: the loss itself."""
    return image_sum * distributed.world_size()
