"""Weight initialisation, as the reference: N(0, gain) (or xavier/kaiming/orthogonal) for conv and linear
weights (or PyTorch's own: default), zero biases, N(1, gain) for batch-norm scales.

Spectral-normalised convs are left with PyTorch's default initialisation, as they effectively are in the
reference (its SpectralNorm wrapper hides the conv's `weight` from the initialiser).
"""
from __future__ import annotations

import torch.nn as nn
from torch.nn import init


def init_weights(net: nn.Module, init_type: str = "normal", gain: float = 0.02, batch_norms: bool = True) -> nn.Module:
    """`init_type` normal, xavier, kaiming or orthogonal; default keeps PyTorch's weights but zeroes the biases,
    as MUNIT's and UNIT's weights_init('default'). `batch_norms` False leaves the batch norms at PyTorch's (1, 0),
    as their weights_init (it draws nothing for them); so does default."""
    def init_module(m: nn.Module) -> None:
        if isinstance(m, (nn.Conv2d, nn.ConvTranspose2d, nn.Linear)):
            if getattr(m, "weight", None) is None:   # wrapped by SpectralNorm
                return
            if init_type == "default":
                pass
            elif init_type == "normal":
                init.normal_(m.weight, 0.0, gain)
            elif init_type == "xavier":
                init.xavier_normal_(m.weight, gain=gain)
            elif init_type == "kaiming":
                init.kaiming_normal_(m.weight, a=0, mode="fan_in")
            elif init_type == "orthogonal":
                init.orthogonal_(m.weight, gain=gain)
            else:
                raise ValueError(f"unknown initialisation '{init_type}'")
            if m.bias is not None:
                init.zeros_(m.bias)
        elif isinstance(m, nn.BatchNorm2d) and batch_norms and init_type != "default":
            init.normal_(m.weight, 1.0, gain)
            init.zeros_(m.bias)

    return net.apply(init_module)
