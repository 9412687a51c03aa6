"""Building blocks of MUNIT and UNIT (one set, shared by both), with the authors' state-dict keys.

A block is pad -> conv (with bias) -> norm -> activation. Its modules are registered (and, for the random draws
of their default initialisation, created) in the authors' order: pad, norm, activation, conv. The keys are then
`norm.*` before `conv.*`, and the same seed gives the same weights (models/single_image_test.py relies on it to
repeat the random styles of the authors' test.py).

Norms: `in` InstanceNorm2d (no affine, no statistics), `ln` the authors' layer norm (below, not nn.LayerNorm),
`adain` adaptive instance norm (parameters given per sample at run time), `bn`, `none`, and `sn`: no norm layer,
the conv wrapped in spectral normalisation (the authors' wrapper, the same as InstaGAN's: spectral_norm.py) with
their keys `conv.module.weight_bar`, `.bias`, `.weight_u`, `.weight_v`.
"""
from __future__ import annotations

import torch
import torch.nn as nn
import torch.nn.functional as F

from .spectral_norm import SpectralNorm

PAD_TYPES = ("reflect", "replicate", "zero")
ACTIVATIONS = ("relu", "lrelu", "prelu", "selu", "tanh", "none")


class LayerNorm(nn.Module):
    """The authors' layer norm: per sample over all of C x H x W, y = (x - mean) / (std + eps) with the UNBIASED
    std (eps added to it, not under the root), then a per-channel gamma * y + beta; gamma starts uniform(0, 1)."""

    def __init__(self, num_features: int, eps: float = 1e-5):
        super().__init__()
        self.eps = eps
        self.gamma = nn.Parameter(torch.empty(num_features).uniform_())
        self.beta = nn.Parameter(torch.zeros(num_features))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """x (N, C, H, W) -> (N, C, H, W)."""
        flat = x.flatten(1)
        shape = (-1,) + (1,) * (x.dim() - 1)
        y = (x - flat.mean(1).view(shape)) / (flat.std(1).view(shape) + self.eps)
        return y * self.gamma.view(1, -1, 1, 1) + self.beta.view(1, -1, 1, 1)


class AdaptiveInstanceNorm2d(nn.Module):
    """AdaIN: instance-normalise (biased variance, eps under the root; also in eval mode), then scale and shift
    by per-sample parameters `weight` (gamma) and `bias` (beta), each (N, C), set by `assign_adain_params` just
    before the forward. The running statistics are never updated; they are kept because the authors'
    checkpoints hold them."""

    def __init__(self, num_features: int, eps: float = 1e-5):
        super().__init__()
        self.num_features, self.eps = num_features, eps
        self.register_buffer("running_mean", torch.zeros(num_features))
        self.register_buffer("running_var", torch.ones(num_features))
        self.weight: torch.Tensor | None = None
        self.bias: torch.Tensor | None = None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.weight is None or self.bias is None:
            raise RuntimeError("AdaIN parameters not set: decode through the generator, which assigns them")
        y = F.instance_norm(x, eps=self.eps)
        return y * self.weight[:, :, None, None] + self.bias[:, :, None, None]


def num_adain_params(net: nn.Module) -> int:
    """How many numbers the MLP must produce for `net`'s AdaIN layers: 2C per layer."""
    return sum(2 * m.num_features for m in net.modules() if isinstance(m, AdaptiveInstanceNorm2d))


def assign_adain_params(params: torch.Tensor, net: nn.Module) -> None:
    """Hand the MLP output (N, num_adain_params) to `net`'s AdaIN layers in module order: each layer of C channels
    takes the next 2C numbers, the first C its bias (beta), the next C its weight (gamma)."""
    for m in net.modules():
        if isinstance(m, AdaptiveInstanceNorm2d):
            c = m.num_features
            m.bias, m.weight = params[:, :c], params[:, c:2 * c]
            params = params[:, 2 * c:]


def _norm(norm: str, dim: int) -> nn.Module | None:
    return {"in": lambda: nn.InstanceNorm2d(dim), "ln": lambda: LayerNorm(dim),
            "adain": lambda: AdaptiveInstanceNorm2d(dim), "bn": lambda: nn.BatchNorm2d(dim),
            "none": lambda: None, "sn": lambda: None}[norm]()


def _activation(activation: str) -> nn.Module | None:
    return {"relu": lambda: nn.ReLU(inplace=True), "lrelu": lambda: nn.LeakyReLU(0.2, inplace=True),
            "prelu": nn.PReLU, "selu": lambda: nn.SELU(inplace=True), "tanh": nn.Tanh,
            "none": lambda: None}[activation]()


class Conv2dBlock(nn.Module):
    """pad -> conv (bias) -> norm -> activation; keys `norm.*`, `activation.*` (prelu), `conv.*` (`conv.module.*`
    with `sn`: the conv's default initialisation, then u and v drawn, as theirs)."""

    def __init__(self, input_dim: int, output_dim: int, kernel_size: int, stride: int, padding: int = 0,
                 norm: str = "none", activation: str = "relu", pad_type: str = "zero"):
        super().__init__()
        self.pad = {"reflect": nn.ReflectionPad2d, "replicate": nn.ReplicationPad2d,
                    "zero": nn.ZeroPad2d}[pad_type](padding)
        self.norm = _norm(norm, output_dim)
        self.activation = _activation(activation)
        self.conv = nn.Conv2d(input_dim, output_dim, kernel_size, stride)
        if norm == "sn":
            self.conv = SpectralNorm(self.conv)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.conv(self.pad(x))
        if self.norm is not None:
            x = self.norm(x)
        return self.activation(x) if self.activation is not None else x


class LinearBlock(nn.Module):
    """Linear (bias) -> activation (the MLP's layers take no norm); keys `fc.*`."""

    def __init__(self, input_dim: int, output_dim: int, activation: str = "relu"):
        super().__init__()
        self.fc = nn.Linear(input_dim, output_dim)
        self.activation = _activation(activation)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.fc(x)
        return self.activation(x) if self.activation is not None else x


class ResBlock(nn.Module):
    """x + [conv3x3, norm, activation, conv3x3, norm](x); no activation after the sum."""

    def __init__(self, dim: int, norm: str, activation: str, pad_type: str):
        super().__init__()
        self.model = nn.Sequential(Conv2dBlock(dim, dim, 3, 1, 1, norm, activation, pad_type),
                                   Conv2dBlock(dim, dim, 3, 1, 1, norm, "none", pad_type))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.model(x)


class ResBlocks(nn.Module):
    """`num_blocks` ResBlocks; keys `model.I.model.J.*`."""

    def __init__(self, num_blocks: int, dim: int, norm: str, activation: str, pad_type: str):
        super().__init__()
        self.model = nn.Sequential(*[ResBlock(dim, norm, activation, pad_type) for _ in range(num_blocks)])

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.model(x)


class MLP(nn.Module):
    """style (N, style_dim, 1, 1) -> (N, output_dim): `n_blk` linear layers, the last without activation."""

    def __init__(self, input_dim: int, output_dim: int, dim: int, n_blk: int, activation: str):
        super().__init__()
        layers = [LinearBlock(input_dim, dim, activation)]
        layers += [LinearBlock(dim, dim, activation) for _ in range(n_blk - 2)]
        layers.append(LinearBlock(dim, output_dim, "none"))
        self.model = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.model(x.flatten(1))


class ContentEncoder(nn.Module):
    """x (N, C, H, W) -> (N, dim * 2**n_downsample, H / 2**n_downsample, W / 2**n_downsample): a 7x7 conv,
    `n_downsample` stride-2 4x4 convs doubling the channels, `n_res` ResBlocks; all instance-normalised.
    MUNIT's content encoder and UNIT's encoder. `output_dim`: its channels."""

    def __init__(self, n_downsample: int, n_res: int, input_dim: int, dim: int, norm: str, activation: str,
                 pad_type: str):
        super().__init__()
        layers: list[nn.Module] = [Conv2dBlock(input_dim, dim, 7, 1, 3, norm, activation, pad_type)]
        for _ in range(n_downsample):
            layers.append(Conv2dBlock(dim, 2 * dim, 4, 2, 1, norm, activation, pad_type))
            dim *= 2
        layers.append(ResBlocks(n_res, dim, norm, activation, pad_type))
        self.model = nn.Sequential(*layers)
        self.output_dim = dim

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.model(x)


class Decoder(nn.Module):
    """code (N, dim, h, w) -> image (N, output_dim, h * 2**n_upsample, w * 2**n_upsample) in [-1, 1]: `n_res`
    ResBlocks normalised by `res_norm` (MUNIT: adain, UNIT: in), `n_upsample` x [nearest x2, 5x5 conv, ln,
    activation] halving the channels, a 7x7 conv and tanh. Keys `model.0` (blocks), `model.2`, `model.4`, ...
    (the up convs; the odd indices are the upsampling layers), then the last conv."""

    def __init__(self, n_upsample: int, n_res: int, dim: int, output_dim: int, res_norm: str, activation: str,
                 pad_type: str):
        super().__init__()
        layers: list[nn.Module] = [ResBlocks(n_res, dim, res_norm, activation, pad_type)]
        for _ in range(n_upsample):
            layers += [nn.Upsample(scale_factor=2), Conv2dBlock(dim, dim // 2, 5, 1, 2, "ln", activation, pad_type)]
            dim //= 2
        layers.append(Conv2dBlock(dim, output_dim, 7, 1, 3, "none", "tanh", pad_type))
        self.model = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.model(x)
