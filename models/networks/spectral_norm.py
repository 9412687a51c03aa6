"""Spectral normalisation (Miyato et al., ICLR 2018) as the reference InstaGAN computes it.

A convolution's weight W (out, in, kh, kw), seen as a matrix (out, in*kh*kw), is divided by its largest singular
value sigma, estimated by power iteration. Every call, in training and in eval, first iterates on the stored
vector u, **v from u first** (torch's parametrization does u from v first, and only in training):

    v <- W^T u / (|W^T u| + 1e-12),   u <- W v / (|W v| + 1e-12),   sigma = u . (W v)

u and v are constants (detached), W is not: the gradient of W includes the path through sigma. The stored v never
affects a result (it is recomputed from u before it is read). u and v are buffers, not trained.

Checkpoint keys are the reference's (and MUNIT's), in its order: the wrapper at index N holds the convolution as
`N.module`, with `module.bias`, `module.weight_u`, `module.weight_v` and `module.weight_bar` (W).

**Per-instance sigmas.** The reference's set discriminator encodes the masks of a sample one call at a time, so
mask j (counting its sample's non-empty masks) is divided by the sigma after j iterations of that discriminator
call, and u moves on by as many iterations as there are masks. `forward(x, rank, n)` does this in one batched
call: n iterations give the sigmas sigma_1..sigma_n (n cheap matrix-vector products), each row x[i] is convolved
once and divided by sigma_{rank[i]+1}. The bias is not divided, as in the reference (W / sigma, then the bias).
"""
from __future__ import annotations

import re

import torch
import torch.nn as nn

EPS = 1e-12


def _normalize(x: torch.Tensor) -> torch.Tensor:
    return x / (x.norm() + EPS)


def _weight_bar_last(module: nn.Module, state: dict, prefix: str, local_metadata: dict) -> None:
    """The reference's key order (its u and v are parameters registered before W): bias, weight_u, weight_v,
    weight_bar."""
    state[prefix + "weight_bar"] = state.pop(prefix + "weight_bar")


class SpectralNorm(nn.Module):
    """Wraps a convolution: conv(x, W / sigma) + bias, sigma estimated by power iteration (module docstring)."""

    def __init__(self, module: nn.Conv2d):
        super().__init__()
        weight = module.weight.detach()
        del module.weight          # as the reference: the initialiser no longer sees a `weight` (init.py)
        module.register_parameter("weight_bar", nn.Parameter(weight))
        module.register_buffer("weight_u", _normalize(weight.new_empty(weight.shape[0]).normal_()))
        module.register_buffer("weight_v", _normalize(weight.new_empty(weight[0].numel()).normal_()))
        module.register_state_dict_post_hook(_weight_bar_last)
        self.module = module

    @torch.compiler.disable   # compiled, the stored u would be saved for backward and then moved by the next call
    def sigmas(self, n: int) -> torch.Tensor:
        """(n,) sigma after 1..n power iterations from the stored u; stores the last u, v. Differentiable in W."""
        conv = self.module
        w = conv.weight_bar.reshape(conv.weight_bar.shape[0], -1)              # (out, in*kh*kw)
        with torch.no_grad():
            u, us, vs = conv.weight_u, [], []
            for _ in range(n):
                v = _normalize(w.t().mv(u))
                u = _normalize(w.mv(v))
                us.append(u)
                vs.append(v)
            if n:
                conv.weight_u.copy_(u)     # in place: DataParallel's first replica shares these buffers
                conv.weight_v.copy_(v)
        return torch.stack([u.dot(w.mv(v)) for u, v in zip(us, vs)]) if n else w.new_empty(0)

    def forward(self, x: torch.Tensor, rank: torch.Tensor | None = None, n: int = 1) -> torch.Tensor:
        """x (N, C, H, W). Without `rank`: one iteration, one sigma for all (the reference's plain call).
        With `rank` (N,) long in [0, n): n iterations, row i divided by the sigma after rank[i] + 1 of them."""
        conv = self.module
        with torch.autocast(x.device.type, enabled=False):     # the power iteration in float32 under --amp
            sigma = self.sigmas(n if rank is not None else 1)
        if rank is None:
            return conv._conv_forward(x, conv.weight_bar / sigma[0], conv.bias)
        y = conv._conv_forward(x, conv.weight_bar, None) / sigma[rank].view(-1, 1, 1, 1).to(x.dtype)
        return y if conv.bias is None else y + conv.bias.view(1, -1, 1, 1).to(y.dtype)


def forward_ranked(layers: nn.Sequential, x: torch.Tensor, rank: torch.Tensor, n: int) -> torch.Tensor:
    """Run `layers` on x (N, ...) with per-row sigmas in every SpectralNorm layer (`SpectralNorm.forward`)."""
    for layer in layers:
        x = layer(x, rank, n) if isinstance(layer, SpectralNorm) else layer(x)
    return x


def convert_torch_state_dict(state: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """Rename the keys of torch's spectral-norm parametrization (`N.parametrizations.weight.original`, `...0._u`,
    `...0._v`, `N.bias`), which checkpoints of this project's earlier versions hold, to the reference's layout.
    Both estimate the same sigma from the same W; their u, v differ only in the order of the iteration."""
    names = {"original": "weight_bar", "0._u": "weight_u", "0._v": "weight_v"}
    wrapped = {m.group(1) for k in state if (m := re.fullmatch(r"(.*)\.parametrizations\.weight\.original", k))}
    out = {}
    for key, value in state.items():
        m = re.fullmatch(r"(.*)\.parametrizations\.weight\.(original|0\._u|0\._v)", key)
        if m:
            key = f"{m.group(1)}.module.{names[m.group(2)]}"
        elif key.endswith(".bias") and key[: -len(".bias")] in wrapped:
            key = key[: -len(".bias")] + ".module.bias"
        out[key] = value
    return out
