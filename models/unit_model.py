"""UNIT (Liu et al., NeurIPS 2017): unpaired translation through a latent space shared by the two domains.

As the authors' master branch (the 2018 re-release; see models/autoencoder_gan.py for what both share): each
domain has a VAE whose code is z = h + n, h the encoder's output and n ~ N(0, I) (std fixed to 1). With
h_a = E_a(x_a), z_a = h_a + n_a, x_ab = G_b(z_a), h_a~ = E_b(x_ab), x_aba = G_a(h_a~ + n), the generators minimise
    gan_w * (GAN(x_ba) + GAN(x_ab)) + recon_x_w * |G_a(z_a) - x_a| + recon_kl_w * mean(h_a^2)
    + recon_x_cyc_w * |x_aba - x_a| + recon_kl_cyc_w * mean(h_a~^2) + vgg_w * VGG(x_ab, x_a)   (+ the same from B)
where mean(h^2) is the authors' KL term (KL(N(h, I) || N(0, I)) up to scale). Testing decodes h alone.

`--shared_layers N` shares the last N residual blocks of the two encoders and the first N of the two decoders, the
paper's weight sharing (the authors' master shares nothing: N = 0, the default).
"""
from __future__ import annotations

import argparse
from collections import OrderedDict

import torch
import torch.nn as nn

from util.errors import OptionError
from . import register_model
from .autoencoder_gan import AutoEncoderGANModel
from .losses import mean_l1
from .networks.unit_generator import share_layers


@register_model("unit")
class UNITModel(AutoEncoderGANModel):
    netG = "vae"
    cycle_losses = ("gen_cyc_x_a", "gen_cyc_x_b")
    loss_names = ["dis_a", "dis_b", "gen_adv_a", "gen_adv_b", "gen_recon_x_a", "gen_recon_x_b", "gen_recon_kl_a",
                  "gen_recon_kl_b", "gen_cyc_x_a", "gen_cyc_x_b", "gen_recon_kl_cyc_aba", "gen_recon_kl_cyc_bab"]

    @staticmethod
    def modify_commandline_options(parser: argparse.ArgumentParser, is_train: bool) -> argparse.ArgumentParser:
        parser = AutoEncoderGANModel.modify_commandline_options(parser, is_train)
        parser.set_defaults(netG="vae")
        parser.add_argument("--shared_layers", type=int, default=0,
                            help="residual blocks shared by the two domains at the end of the encoders and at the "
                                 "start of the decoders (the paper's weight sharing; the authors' master: 0)")
        if is_train:
            parser.add_argument("--recon_kl_w", type=float, default=0.01, help="weight of the KL term mean(h^2)")
            parser.add_argument("--recon_x_cyc_w", type=float, default=10.0, help="weight of the cycle L1")
            parser.add_argument("--recon_kl_cyc_w", type=float, default=0.01,
                                help="weight of the KL term of the cycle's codes")
        return parser

    @classmethod
    def validate_options(cls, opt: argparse.Namespace) -> None:
        super().validate_options(opt)
        if not 0 <= opt.shared_layers <= opt.n_res:
            raise OptionError(f"--shared_layers must be in [0, --n_res = {opt.n_res}], got {opt.shared_layers}")
        if not opt.isTrain and opt.style:
            raise OptionError("--style is MUNIT's: UNIT translates without a style")

    def tie(self, gen_a: nn.Module, gen_b: nn.Module) -> None:
        share_layers(gen_a, gen_b, self.opt.shared_layers)

    def translate_random(self, real_A: torch.Tensor, real_B: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        h_a, n_a = self.netgen_a(real_A)
        h_b, n_b = self.netgen_b(real_B)
        return self.netgen_a(h_b + n_b, decode=True), self.netgen_b(h_a + n_a, decode=True)

    def gen_losses(self) -> dict[str, torch.Tensor]:
        x_a, x_b, opt = self.real_A, self.real_B, self.opt
        h_a, n_a = self.netgen_a(x_a)
        h_b, n_b = self.netgen_b(x_b)
        x_a_recon, x_b_recon = self.netgen_a(h_a + n_a, decode=True), self.netgen_b(h_b + n_b, decode=True)
        x_ba, x_ab = self.netgen_a(h_b + n_b, decode=True), self.netgen_b(h_a + n_a, decode=True)
        h_b_recon, n_b_recon = self.netgen_a(x_ba)
        h_a_recon, n_a_recon = self.netgen_b(x_ab)
        losses = {"gen_recon_x_a": mean_l1(x_a_recon, x_a), "gen_recon_x_b": mean_l1(x_b_recon, x_b),
                  "gen_recon_kl_a": _kl(h_a), "gen_recon_kl_b": _kl(h_b),
                  "gen_recon_kl_cyc_aba": _kl(h_a_recon), "gen_recon_kl_cyc_bab": _kl(h_b_recon)}
        if opt.recon_x_cyc_w > 0:
            losses["gen_cyc_x_a"] = mean_l1(self.netgen_a(h_a_recon + n_a_recon, decode=True), x_a)
            losses["gen_cyc_x_b"] = mean_l1(self.netgen_b(h_b_recon + n_b_recon, decode=True), x_b)
        losses.update(self.adversarial_and_vgg(x_ba, x_ab))
        self.rec_A, self.fake_B, self.rec_B, self.fake_A = (t.detach() for t in (x_a_recon, x_ab, x_b_recon, x_ba))
        return losses

    def loss_weights(self) -> dict[str, float]:
        opt = self.opt
        return {**super().loss_weights(), "gen_recon_kl_a": opt.recon_kl_w, "gen_recon_kl_b": opt.recon_kl_w,
                "gen_cyc_x_a": opt.recon_x_cyc_w, "gen_cyc_x_b": opt.recon_x_cyc_w,
                "gen_recon_kl_cyc_aba": opt.recon_kl_cyc_w, "gen_recon_kl_cyc_bab": opt.recon_kl_cyc_w}

    def translate_held_out(self) -> OrderedDict:
        """--eval_freq: each held-out input into the other domain as test.py translates it."""
        with torch.no_grad(), self.autocast():
            return OrderedDict(**self.test_visuals(self.real_A, "A"), **self.test_visuals(self.real_B, "B"))

    def test_visuals(self, real: torch.Tensor, source: str) -> OrderedDict:
        """real and its translation G_target(h), the noise left out (as the authors' test.py)."""
        encoder, decoder = (self.netgen_a, self.netgen_b) if source == "A" else (self.netgen_b, self.netgen_a)
        target = "B" if source == "A" else "A"
        return OrderedDict([(f"real_{source}", real), (f"fake_{target}", decoder(encoder(real)[0], decode=True))])


def _kl(h: torch.Tensor) -> torch.Tensor:
    """The authors' KL term: mean(h^2) over every element, in fp32."""
    return h.float().pow(2).mean()
