"""InstaGAN (Mo, Cho, Shin, ICLR 2019): CycleGAN over (image, instance-mask set) pairs.

G_A = G_XY translates domain A to B, G_B = G_YX back; D_A judges domain B, D_B domain A (the reference's
naming, kept for its users). Training and inference are sequential over mask subsets (models/sequential.py).
"""
from __future__ import annotations

import argparse
from dataclasses import dataclass, field

import torch

from util import distributed
from util.errors import OptionError
from util.image_pool import ImagePool
from util.log import logger
from . import register_model
from .base_model import BaseModel
from .losses import ContextPreservingLoss, GANLoss, SetL1Loss
from .masks import merge_masks, select_masks
from .networks import define_D, define_G
from .networks.set_discriminator import instance_count
from .sequential import SetTranslation, Step, num_steps


@register_model("insta_gan")
class InstaGANModel(BaseModel):
    loss_names = ["D_A", "G_A", "cyc_A", "idt_A", "ctx_A", "D_B", "G_B", "cyc_B", "idt_B", "ctx_B"]
    visual_names = ["real_A_img", "fake_B_img", "rec_A_img", "real_A_seg", "fake_B_seg", "rec_A_seg",
                    "real_B_img", "fake_A_img", "rec_B_img", "real_B_seg", "fake_A_seg", "rec_B_seg"]

    @staticmethod
    def modify_commandline_options(parser: argparse.ArgumentParser, is_train: bool) -> argparse.ArgumentParser:
        parser.set_defaults(no_dropout=True)
        parser.add_argument("--set_order", type=str, default="decreasing", choices=["decreasing", "random"],
                            help="order of the instance subsets: by decreasing area or random")
        parser.add_argument("--ins_max", type=int, default=4, help="maximum number of instances per image")
        parser.add_argument("--ins_per", type=int, default=2, help="instances translated per sequential step")
        if is_train:
            parser.add_argument("--lambda_A", type=float, default=10.0, help="weight of the A->B->A cycle loss")
            parser.add_argument("--lambda_B", type=float, default=10.0, help="weight of the B->A->B cycle loss")
            parser.add_argument("--lambda_idt", "--lambda_identity", type=float, default=1.0,
                                help="identity loss weight, relative to lambda_A/lambda_B")
            parser.add_argument("--lambda_ctx", type=float, default=1.0,
                                help="context-preserving loss weight, relative to lambda_A/lambda_B")
        return parser

    @staticmethod
    def validate_options(opt: argparse.Namespace) -> None:
        if opt.ins_per < 1:
            raise OptionError(f"--ins_per must be >= 1, got {opt.ins_per}")
        if opt.ins_per > opt.ins_max:
            raise OptionError(f"--ins_per ({opt.ins_per}) must not exceed --ins_max ({opt.ins_max})")
        if opt.ins_max % opt.ins_per:
            logger.warning("--ins_max %d is not a multiple of --ins_per %d: as the reference, %d steps translate the "
                           "first %d masks and the last %d are left as they are", opt.ins_max, opt.ins_per,
                           opt.ins_max // opt.ins_per, opt.ins_max - opt.ins_max % opt.ins_per,
                           opt.ins_max % opt.ins_per)
        if opt.input_nc != opt.output_nc:
            raise OptionError(f"--model insta_gan translates each step's output again: --input_nc and --output_nc "
                              f"must be equal, got {opt.input_nc} and {opt.output_nc}")
        if opt.norm == "batch":
            logger.warning("--norm batch: the reference normalises each mask in a call of its own, here the masks "
                           "of a step share the batch statistics (training, and test.py without --eval, differ)")
        if opt.netG != "set" or opt.netD != "set":
            raise OptionError("--model insta_gan needs --netG set and --netD set")
        if opt.dataset_mode != "unaligned_seg":
            raise OptionError("--model insta_gan needs --dataset_mode unaligned_seg")
        if opt.isTrain:
            for name in ["lambda_A", "lambda_B", "lambda_idt", "lambda_ctx"]:
                if getattr(opt, name) < 0:
                    raise OptionError(f"--{name} must be >= 0, got {getattr(opt, name)}")

    def __init__(self, opt: argparse.Namespace):
        super().__init__(opt)
        self.net_names = ["G_A", "G_B", "D_A", "D_B"] if self.isTrain else ["G_A", "G_B"]
        self.n_steps = num_steps(opt.ins_max, opt.ins_per)
        g = dict(ngf=opt.ngf, netG=opt.netG, norm=opt.norm, use_dropout=not opt.no_dropout, n_blocks=opt.n_blocks,
                 init_type=opt.init_type, init_gain=opt.init_gain, upsample=opt.upsample,
                 output=opt.G_output)
        self.netG_A = self.place(define_G(opt.input_nc, opt.output_nc, **g))
        self.netG_B = self.place(define_G(opt.output_nc, opt.input_nc, **g))
        if self.isTrain:
            d = dict(ndf=opt.ndf, netD=opt.netD, n_layers_D=opt.n_layers_D, norm=opt.norm, init_type=opt.init_type,
                     init_gain=opt.init_gain)
            self.netD_A = self.place(define_D(opt.output_nc, **d))
            self.netD_B = self.place(define_D(opt.input_nc, **d))
            self.fake_A_pool = ImagePool(opt.pool_size)
            self.fake_B_pool = ImagePool(opt.pool_size)
            # cycle and identity in one call of the backward generator (models/sequential.py); not with batch
            # norm, whose statistics would then mix the two
            self.fold_identity = opt.lambda_idt > 0 and opt.norm != "batch"
            # --no_lsgan: the reference's sigmoid-ended D and BCELoss, which saturates as MUNIT's nsgan
            self.criterionGAN = GANLoss(gan_mode="nsgan" if opt.gan_mode == "vanilla" else opt.gan_mode)
            self.criterionSet = SetL1Loss()
            self.criterionCtx = ContextPreservingLoss()
            self.make_optimizers([self.netG_A, self.netG_B], [self.netD_A, self.netD_B])

    def set_input(self, data: dict) -> None:
        """Take a batch of `unaligned_seg` items; keep each sample's `ins_max` largest masks (or a random order)."""
        a, b = ("A", "B") if self.opt.direction == "AtoB" else ("B", "A")
        self.real_A_img = data[a].to(self.device)
        self.real_B_img = data[b].to(self.device)
        # chosen on the CPU, as the reference (the same ranking on every device)
        self.real_A_segs = select_masks(data[a + "_segs"].cpu(), self.opt.ins_max, self.opt.set_order).to(self.device)
        self.real_B_segs = select_masks(data[b + "_segs"].cpu(), self.opt.ins_max, self.opt.set_order).to(self.device)
        self.image_paths = data[a + "_paths"]

    def _start(self) -> tuple[SetTranslation, SetTranslation]:
        return (SetTranslation(self.real_A_img, self.real_A_segs, self.opt.ins_per),
                SetTranslation(self.real_B_img, self.real_B_segs, self.opt.ins_per))

    def _finish(self, A: SetTranslation, B: SetTranslation) -> None:
        """Set the visuals from the final state of both directions."""
        self.fake_B_img, self.rec_A_img = A.img, A.rec_img
        self.fake_A_img, self.rec_B_img = B.img, B.rec_img
        self.real_A_seg, self.fake_B_seg = merge_masks(A.real_segs), merge_masks(A.fake_segs)
        self.real_B_seg, self.fake_A_seg = merge_masks(B.real_segs), merge_masks(B.fake_segs)
        self.rec_A_seg, self.rec_B_seg = A.merged_rec_segs(), B.merged_rec_segs()

    def forward(self) -> None:
        """Sequential inference: every step translates the previous step's image with the next mask subset."""
        A, B = self._start()
        for m in range(self.n_steps):
            A.commit(A.step(self.netG_A, self.netG_B, m), m)
            B.commit(B.step(self.netG_B, self.netG_A, m), m)
        self._finish(A, B)

    def optimize_parameters(self) -> None:
        """Sequential training (Eq. 10): per step, update G then D; GAN loss on the image with every mask
        translated so far, content losses on the current subset; detach before the next step.

        With several processes (util/distributed.py) every process runs every step that has an active sample
        anywhere, joins the same collectives, and weights its losses by its share of the samples, so that the
        summed gradients are those of one process holding all of them (`_shares`)."""
        A, B = self._start()
        sums: dict[str, float] = {}
        counts: dict[str, int] = {}
        for m in range(self.n_steps):
            sa = A.step(self.netG_A, self.netG_B, m, self.fold_identity)
            sb = B.step(self.netG_B, self.netG_A, m, self.fold_identity)
            share = self._shares(sa, sb)
            if share is None:
                continue
            losses: dict[str, torch.Tensor] = {}
            terms: list[torch.Tensor] = []
            self.set_requires_grad([self.netD_A, self.netD_B], False)
            self.optimizer_G.zero_grad(set_to_none=True)
            if sa is not None:
                la = self._generator_losses(sa, self.netD_A, self.netG_B, self.opt.lambda_A, "A", "B",
                                            share.advance["A"][0])
                losses.update(la)
                terms += [_weighted(v, share.fake_A) for v in la.values()]
            if sb is not None:
                lb = self._generator_losses(sb, self.netD_B, self.netG_A, self.opt.lambda_B, "B", "A",
                                            share.advance["B"][0])
                losses.update(lb)
                terms += [_weighted(v, share.fake_B) for v in lb.values()]
            if terms:   # none where only other processes have active samples: this one adds zero gradients
                sum(terms).backward()
            self.sync_gradients([self.netG_A, self.netG_B])
            self.optimizer_G.step()
            share.align_discriminators(self)   # the D forwards of the G step ran only where active

            self.set_requires_grad([self.netD_A, self.netD_B], True)
            self.optimizer_D.zero_grad(set_to_none=True)
            if share.on_A:
                d = self._backward_D(self.netD_A, self.real_B_img, self.real_B_segs, sa, self.fake_B_pool, share.real,
                                     share.fake_A, share.advance["A"])
                if d is not None:
                    losses["D_A"] = d
            if share.on_B:
                d = self._backward_D(self.netD_B, self.real_A_img, self.real_A_segs, sb, self.fake_A_pool, share.real,
                                     share.fake_B, share.advance["B"])
                if d is not None:
                    losses["D_B"] = d
            self.sync_gradients([self.netD_A, self.netD_B])
            self.optimizer_D.step()
            share.align_discriminators(self, always=True)
            share.align_generators(self)

            A.commit(sa, m)
            B.commit(sb, m)
            for name, value in losses.items():
                sums[name] = sums.get(name, 0.0) + float(value.detach())
                counts[name] = counts.get(name, 0) + 1
        self.losses = {name: sums[name] / counts[name] for name in sums}  # mean over the steps that had the loss
        self._finish(A, B)

    def _shares(self, sa: Step | None, sb: Step | None) -> Shares | None:
        """This step's plan: which directions run, with which loss weights; None: no sample is active anywhere.

        One process: a direction runs where it has an active sample, weights are None (no multiplication, so
        results stay bit for bit those of the one-process code). Several: one all-reduce of every process's
        counts (active A and B samples, batch size); the loss of a direction is the mean over its N active
        samples, so a process holding n of them weights its own mean by n / N and the summed gradients are
        the global mean's. The discriminators' real term is a mean over all batch samples: weight b / B.
        The same all-reduce gathers the instance counts of the sets each discriminator will see, so that their
        spectral norms move on as one process's would (`NLayerSetDiscriminator.forward`'s `advance`)."""
        n_a = 0 if sa is None else len(sa.index)
        n_b = 0 if sb is None else len(sb.index)
        if distributed.world_size() == 1:
            return Shares(n_a > 0, n_b > 0) if n_a or n_b else None
        counts = [0 if sa is None else instance_count(sa.fake_segs_all), instance_count(self.real_B_segs),
                  0 if sb is None else instance_count(sb.fake_segs_all), instance_count(self.real_A_segs)]
        table = torch.zeros(distributed.world_size(), 7, dtype=torch.int64)
        table[distributed.rank()] = torch.tensor([n_a, n_b, self.real_A_img.shape[0], *counts])
        table = distributed.all_reduce_sum(table)
        total, top = table[:, :3].sum(0).tolist(), table[:, 3:].amax(0).tolist()
        if total[0] == 0 and total[1] == 0:
            return None
        return Shares(total[0] > 0, total[1] > 0, n_a / max(total[0], 1), n_b / max(total[1], 1),
                      self.real_A_img.shape[0] / total[2], table, {"A": (top[0], top[1]), "B": (top[2], top[3])})

    def _generator_losses(self, s: Step, D: torch.nn.Module, G_back: torch.nn.Module, lam: float, src: str,
                          tgt: str, advance: int = 0) -> dict[str, torch.Tensor]:
        """Losses of one direction src -> tgt at one step (names as the reference: idt_{tgt} is G_back's identity;
        `advance`: see `_shares`)."""
        opt = self.opt
        losses = {f"G_{src}": self.criterionGAN(D(s.fake_img, s.fake_segs_all, advance), True),
                  f"cyc_{src}": self.criterionSet(s.rec_img, s.rec_segs, s.real_img, s.real_segs) * lam}
        if opt.lambda_idt > 0:
            idt_img, idt_segs = (s.idt_img, s.idt_segs) if s.idt_img is not None else G_back(s.real_img, s.real_segs)
            losses[f"idt_{tgt}"] = self.criterionSet(idt_img, idt_segs, s.real_img, s.real_segs) * lam * opt.lambda_idt
        if opt.lambda_ctx > 0:
            losses[f"ctx_{src}"] = self.criterionCtx(s.real_img, s.real_segs, s.fake_img, s.fake_segs) * lam * opt.lambda_ctx
        return losses

    def _backward_D(self, D: torch.nn.Module, real_img: torch.Tensor, real_segs: torch.Tensor, s: Step | None,
                    pool: ImagePool, w_real: float | None, w_fake: float | None,
                    advance: tuple[int, int]) -> torch.Tensor | None:
        """Discriminator loss (--gan_mode) on the real pair (full mask set) and a pooled fake pair; backpropagates
        it (weighted by this process's shares, `_shares`) and returns it unweighted. A process without an active
        sample (`s` None, another process has some) still adds its real pairs' term and returns None.
        `advance`: (fake, real) spectral-norm moves, see `_shares`."""
        if s is None:
            (0.5 * self.criterionGAN(D(real_img, real_segs, advance[1]), True) * w_real).backward()
            return None
        c = s.fake_img.shape[1]
        fake = pool.query(torch.cat([s.fake_img, s.fake_segs_all], 1).detach())
        real_loss = self.criterionGAN(D(real_img, real_segs, advance[1]), True)
        fake_loss = self.criterionGAN(D(fake[:, :c], fake[:, c:], advance[0]), False)
        loss = 0.5 * (real_loss + fake_loss)
        if w_real is None:
            loss.backward()
        else:
            (0.5 * (real_loss * w_real + fake_loss * w_fake)).backward()
        return loss


def _weighted(loss: torch.Tensor, weight: float | None) -> torch.Tensor:
    return loss if weight is None else loss * weight


@dataclass
class Shares:
    """Which directions run in one sequential step, and this process's loss weights (None: one process).

    `table` holds every process's (active A, active B, batch, instance counts) row. Spectral norm updates its
    vectors at every forward of D, by as much as `advance` says in every process that runs it; a process without
    active samples in a direction skips D's forwards on fakes: the vectors are then taken from the first
    process that ran them, so that all processes (and the next forward) see what one process holding all
    samples would."""
    on_A: bool
    on_B: bool
    fake_A: float | None = None      # weight of direction A's losses (G_A's translation, D_A's fake term)
    fake_B: float | None = None
    real: float | None = None        # weight of the discriminators' real terms
    table: torch.Tensor | None = None
    # per direction (D_A: "A"), the most instances in a (fake, real) set of any process: how far each call moves
    # the discriminator's spectral norm (0: as far as its own sets need, the one-process case)
    advance: dict[str, tuple[int, int]] = field(default_factory=lambda: {"A": (0, 0), "B": (0, 0)})

    def _first_active(self, column: int) -> int:
        return int(self.table[:, column].nonzero()[0])

    def align_discriminators(self, model: InstaGANModel, always: bool = False) -> None:
        """Spectral-norm vectors from the first process active in each running direction; after the G step
        only where some process skipped it (`always`: after the D step, so that no drift accumulates)."""
        if self.table is None:
            return
        for on, column, D in ((self.on_A, 0, model.netD_A), (self.on_B, 1, model.netD_B)):
            if on and (always or bool((self.table[:, column] == 0).any())):
                model.share_buffers([D], self._first_active(column))

    def align_generators(self, model: InstaGANModel) -> None:
        """Generator buffers (batch norm's statistics, if any) from the first process with an active sample."""
        if self.table is not None:
            model.share_buffers([model.netG_A, model.netG_B], int(self.table[:, :2].sum(1).nonzero()[0]))
