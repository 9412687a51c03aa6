"""MUNIT (Huang et al., ECCV 2018): multimodal unpaired translation. An image is a content code (shared by the
domains) and a style code (the domain's); A -> B decodes A's content with a style of B, random or taken from an
example image.

The authors' training (their trainer, facts in the module docstring of models/autoencoder_gan.py): with random
styles s_a, s_b ~ N(0, I) drawn anew for every update,
    (c_a, s_a') = E_a(x_a),  x_ab = G_b(c_a, s_b),  (c_a~, s_b~) = E_b(x_ab),  x_aba = G_a(c_a~, s_a')
and the same from B; the generators minimise
    gan_w * (GAN(x_ba) + GAN(x_ab)) + recon_x_w * |G_a(c_a, s_a') - x_a| + recon_s_w * |s_b~ - s_b|
    + recon_c_w * |c_a~ - c_a| + recon_x_cyc_w * |x_aba - x_a| + vgg_w * VGG(x_ab, x_a)   (+ the same from B)
(L1 as means; nothing is detached). Each sample's losses depend on that sample alone, so a batch of 4 trains as
the mean of 4 batches of 1.
"""
from __future__ import annotations

import argparse
from collections import OrderedDict

import torch

from util.errors import OptionError
from . import register_model
from .autoencoder_gan import AutoEncoderGANModel, load_style_image
from .losses import mean_l1


@register_model("munit")
class MUNITModel(AutoEncoderGANModel):
    netG = "adain"
    cycle_losses = ("gen_cycrecon_x_a", "gen_cycrecon_x_b")
    architecture_flags = AutoEncoderGANModel.architecture_flags + ("style_dim", "mlp_dim")
    loss_names = ["dis_a", "dis_b", "gen_adv_a", "gen_adv_b", "gen_recon_x_a", "gen_recon_x_b", "gen_recon_s_a",
                  "gen_recon_s_b", "gen_recon_c_a", "gen_recon_c_b", "gen_cycrecon_x_a", "gen_cycrecon_x_b"]

    @staticmethod
    def modify_commandline_options(parser: argparse.ArgumentParser, is_train: bool) -> argparse.ArgumentParser:
        parser = AutoEncoderGANModel.modify_commandline_options(parser, is_train)
        parser.set_defaults(netG="adain")
        parser.add_argument("--style_dim", type=int, default=8, help="length of the style code")
        parser.add_argument("--mlp_dim", type=int, default=256, help="width of the MLP from style to AdaIN parameters")
        if is_train:
            parser.add_argument("--recon_s_w", type=float, default=1.0, help="weight of the style reconstruction L1")
            parser.add_argument("--recon_c_w", type=float, default=1.0, help="weight of the content reconstruction L1")
            parser.add_argument("--recon_x_cyc_w", type=float, default=0.0,
                                help="weight of the cycle reconstruction L1 (10 in two of the authors' configs)")
        return parser

    @classmethod
    def validate_options(cls, opt: argparse.Namespace) -> None:
        super().validate_options(opt)
        for name in ("style_dim", "mlp_dim"):
            if getattr(opt, name) < 1:
                raise OptionError(f"--{name} must be >= 1, got {getattr(opt, name)}")

    def __init__(self, opt: argparse.Namespace):
        super().__init__(opt)
        if not self.isTrain:
            # one stream of styles per direction: the same --seed gives the same styles at any --batch_size
            self.style_streams = {source: torch.Generator().manual_seed(opt.seed + i) for i, source in enumerate("AB")}
            self.style_sync = {source: self.random_styles(1, source)[0] for source in "AB"} if opt.synchronized \
                else None
            self.style_image = load_style_image(opt, opt.style).to(self.device) if opt.style else None

    def random_style(self, n: int) -> torch.Tensor:
        """(n, style_dim, 1, 1) codes ~ N(0, I), drawn on the CPU (the same on every device), as the authors'."""
        return torch.randn(n, self.opt.style_dim, 1, 1).to(self.device)

    def translate_random(self, real_A: torch.Tensor, real_B: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        s_a, s_b = self.random_style(len(real_A)), self.random_style(len(real_B))
        c_a, c_b = self.netgen_a(real_A)[0], self.netgen_b(real_B)[0]
        return self.netgen_a(c_b, s_a), self.netgen_b(c_a, s_b)

    def gen_losses(self) -> dict[str, torch.Tensor]:
        x_a, x_b, opt = self.real_A, self.real_B, self.opt
        s_a, s_b = self.random_style(len(x_a)), self.random_style(len(x_b))
        c_a, s_a_prime = self.netgen_a(x_a)
        c_b, s_b_prime = self.netgen_b(x_b)
        x_a_recon, x_b_recon = self.netgen_a(c_a, s_a_prime), self.netgen_b(c_b, s_b_prime)
        x_ba, x_ab = self.netgen_a(c_b, s_a), self.netgen_b(c_a, s_b)
        c_b_recon, s_a_recon = self.netgen_a(x_ba)
        c_a_recon, s_b_recon = self.netgen_b(x_ab)
        losses = {"gen_recon_x_a": mean_l1(x_a_recon, x_a), "gen_recon_x_b": mean_l1(x_b_recon, x_b),
                  "gen_recon_s_a": mean_l1(s_a_recon, s_a), "gen_recon_s_b": mean_l1(s_b_recon, s_b),
                  "gen_recon_c_a": mean_l1(c_a_recon, c_a), "gen_recon_c_b": mean_l1(c_b_recon, c_b)}
        if opt.recon_x_cyc_w > 0:
            losses["gen_cycrecon_x_a"] = mean_l1(self.netgen_a(c_a_recon, s_a_prime), x_a)
            losses["gen_cycrecon_x_b"] = mean_l1(self.netgen_b(c_b_recon, s_b_prime), x_b)
        losses.update(self.adversarial_and_vgg(x_ba, x_ab))
        self.rec_A, self.fake_B, self.rec_B, self.fake_A = (t.detach() for t in (x_a_recon, x_ab, x_b_recon, x_ba))
        return losses

    def loss_weights(self) -> dict[str, float]:
        opt = self.opt
        return {**super().loss_weights(), "gen_recon_s_a": opt.recon_s_w, "gen_recon_s_b": opt.recon_s_w,
                "gen_recon_c_a": opt.recon_c_w, "gen_recon_c_b": opt.recon_c_w,
                "gen_cycrecon_x_a": opt.recon_x_cyc_w, "gen_cycrecon_x_b": opt.recon_x_cyc_w}

    # -- testing ----------------------------------------------------------------------------------------------------
    def translate_held_out(self) -> OrderedDict:
        """--eval_freq: each held-out input into the other domain with a random style, as training translates."""
        with torch.no_grad(), self.autocast():
            fake_A, fake_B = self.translate_random(self.real_A, self.real_B)
        return OrderedDict(fake_B=fake_B, fake_A=fake_A)

    def random_styles(self, n: int, source: str) -> torch.Tensor:
        """(n, num_style, style_dim, 1, 1) for translating n inputs of domain `source`, from its stream (seeded
        by --seed for A, --seed + 1 for B), input after input."""
        k, d = self.opt.num_style, self.opt.style_dim
        return torch.stack([torch.randn(k, d, 1, 1, generator=self.style_streams[source]) for _ in range(n)])

    def test_visuals(self, real: torch.Tensor, source: str) -> OrderedDict:
        """real, then one translation per style: `fake_{target}` with --style, else `fake_{target}_01`, `_02`, ..."""
        encoder, decoder = (self.netgen_a, self.netgen_b) if source == "A" else (self.netgen_b, self.netgen_a)
        target = "B" if source == "A" else "A"
        content = encoder(real)[0]
        n = len(real)
        visuals = OrderedDict([(f"real_{source}", real)])
        if self.style_image is not None:
            visuals["style"] = self.style_image.expand(n, -1, -1, -1)
            style = decoder(self.style_image)[1]
            visuals[f"fake_{target}"] = decoder(content, style.expand(n, -1, -1, -1))
            return visuals
        styles = self.style_sync[source].expand(n, -1, -1, -1, -1) if self.style_sync is not None \
            else self.random_styles(n, source)
        k = styles.shape[1]
        fakes = decoder(content.repeat_interleave(k, 0), styles.flatten(0, 1).to(self.device)).unflatten(0, (n, k))
        for j in range(k):
            visuals[f"fake_{target}_{j + 1:02d}"] = fakes[:, j]
        return visuals
