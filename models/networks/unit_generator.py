"""UNIT's generator (Liu et al., NeurIPS 2017), as the authors' master branch (`VAEGen`): a VAE whose latent code
is meant to be shared by the two domains.

`encode(x)` -> (mean (N, dim * 2**n_downsample, H / 2**n_downsample, W / 2**n_downsample), noise of that shape
~ N(0, I)): the std is fixed to 1, not learned. Training decodes mean + noise, testing the mean alone.
`decode(h)` -> image (N, C, H, W). Keys `enc.*`, `dec.*`.

The paper's weight sharing (`share_layers`): the last `n` residual blocks of the encoders and the first `n` of
the decoders are one set of modules for both domains (the authors' master shares nothing; its NIPS 2017 branch
shared one block each way).
"""
from __future__ import annotations

import torch
import torch.nn as nn

from .conv_blocks import ContentEncoder, Decoder


class VAEGenerator(nn.Module):
    def __init__(self, input_dim: int, dim: int = 64, n_downsample: int = 2, n_res: int = 4, activ: str = "relu",
                 pad_type: str = "reflect"):
        super().__init__()
        self.enc = ContentEncoder(n_downsample, n_res, input_dim, dim, "in", activ, pad_type)
        self.dec = Decoder(n_downsample, n_res, self.enc.output_dim, input_dim, "in", activ, pad_type)

    def encode(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        hiddens = self.enc(x)
        return hiddens, torch.randn(hiddens.shape).to(hiddens)   # drawn on the CPU: the same on every device

    def decode(self, hiddens: torch.Tensor) -> torch.Tensor:
        return self.dec(hiddens)

    def forward(self, x: torch.Tensor, decode: bool = False):
        """`encode(x)`, or `decode(x)` with decode=True: both as module calls, which DataParallel and
        torch.compile wrap."""
        return self.decode(x) if decode else self.encode(x)


def share_layers(gen_a: VAEGenerator, gen_b: VAEGenerator, n: int) -> None:
    """Make gen_b use gen_a's last `n` encoder residual blocks and first `n` decoder residual blocks."""
    enc_a, enc_b = gen_a.enc.model[-1].model, gen_b.enc.model[-1].model
    dec_a, dec_b = gen_a.dec.model[0].model, gen_b.dec.model[0].model
    if not 0 <= n <= min(len(enc_a), len(dec_a)):
        raise ValueError(f"cannot share {n} residual blocks of {min(len(enc_a), len(dec_a))}")
    for i in range(len(enc_a) - n, len(enc_a)):
        enc_b[i] = enc_a[i]
    for i in range(n):
        dec_b[i] = dec_a[i]
