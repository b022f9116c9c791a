"""TResNet layers and blocks (Ridnik et al., "TResNet: High Performance GPU-Dedicated
Architecture", WACV 2021), numerically equal to ``timm.models.tresnet``.

* :class:`SpaceToDepth` - the paper's "SpaceToDepth stem" rearrangement (Sec. 3.1).
* :class:`BlurPool` - anti-aliased stride-2 downsampling (Zhang, "Making Convolutional Networks
  Shift-Invariant Again", ICML 2019), a fixed binomial filter applied depthwise (Sec. 3.2).
* :class:`SpaceToDepthStem` - SpaceToDepth(4) followed by a 3x3 conv-bn-act.
* :class:`TResNetBasic`, :class:`TResNetBottleneck` - the residual blocks with SE placed as in the
  paper (Sec. 3.3): after the second conv of both blocks, so on the *inner* width of a bottleneck.

The squeeze-excitation's reduced width is the explicit argument ``se_chs`` (0 = no SE).  Its rule
(timm: ``max(planes * expansion // 4, 64)`` for the basic block, ``// 8`` for the bottleneck, i.e.
``max(floor(out_chs * se_ratio), 64)``) lives once, in ``designspace.complexity.tresnet.se_width``,
which the builder and the counter both use.

Activations as in timm: ``act_layer`` (TResNet: leaky ReLU, slope 1e-3) follows the convs of the
residual branch; the activation after the residual addition and the one inside SE are ReLU.

Child names equal timm's (``conv1``, ``conv2``, ``conv3`` with ``conv``/``bn``/``aa``, ``se.fc1``,
``se.fc2``, ``downsample.{0|1}``), so a timm block's state_dict loads as is.
"""
from __future__ import annotations

import math
from functools import partial

import torch
import torch.nn.functional as F
from torch import nn

from .layers import ConvNormAct, DropPath, ModuleFactory, SqueezeExcite

__all__ = [
    "SpaceToDepth", "BlurPool", "SpaceToDepthStem", "TResNetBasic", "TResNetBottleneck",
    "tresnet_stem_act",
]

def tresnet_stem_act(act_layer: ModuleFactory) -> ModuleFactory:
    """The stem activation that goes with a network activation.

    timm's TResNet stem conv uses ``nn.LeakyReLU()`` with PyTorch's default slope 1e-2 (the
    original TResNet's ``conv2d_ABN(..., activation_param=1e-2)`` default) while its blocks use
    slope 1e-3.  A leaky ReLU factory (of any slope) thus becomes slope 1e-2; any other
    activation is returned unchanged.
    """
    if isinstance(act_layer(), nn.LeakyReLU):
        return partial(nn.LeakyReLU, negative_slope=1e-2)
    return act_layer


class SpaceToDepth(nn.Module):
    """Move each ``b x b`` spatial patch into channels: ``(N, C, H, W) -> (N, b*b*C, H/b, W/b)``.

    Output channel ``(i * b + j) * C + c`` at ``(y, x)`` holds input ``(c, b*y + i, b*x + j)``
    (timm's / TResNet's ordering).
    """

    def __init__(self, block_size: int = 4):
        super().__init__()
        if isinstance(block_size, bool) or not isinstance(block_size, int) or block_size < 1:
            raise ValueError(f"block_size={block_size!r} must be a positive integer")
        self.bs = block_size

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        n, c, h, w = x.shape
        b = self.bs
        if h % b or w % b:
            raise ValueError(f"input size {h}x{w} is not divisible by block_size={b}")
        x = x.view(n, c, h // b, b, w // b, b).permute(0, 3, 5, 1, 2, 4).contiguous()
        return x.view(n, c * b * b, h // b, w // b)

    def extra_repr(self) -> str:
        return f"block_size={self.bs}"


class BlurPool(nn.Module):
    """Anti-aliased downsampling: reflect-pad, then a depthwise binomial filter with stride.

    The ``filt_size x filt_size`` filter is the outer product of the binomial coefficients
    ``C(n-1, k) / 2^(n-1)``; it is a constant, kept as a non-persistent buffer (``filt``, shape
    ``(channels, 1, n, n)``), so it moves with ``.to()`` but is no parameter and no checkpoint key.
    """

    def __init__(self, channels: int, filt_size: int = 3, stride: int = 2):
        super().__init__()
        for name, v, lo in (("channels", channels, 1), ("filt_size", filt_size, 2), ("stride", stride, 1)):
            if isinstance(v, bool) or not isinstance(v, int) or v < lo:
                raise ValueError(f"{name}={v!r} must be an integer >= {lo}")
        self.channels, self.filt_size, self.stride = channels, filt_size, stride
        self.padding = ((stride - 1) + (filt_size - 1)) // 2  # timm get_padding
        coeffs = torch.tensor([math.comb(filt_size - 1, k) for k in range(filt_size)], dtype=torch.float32)
        coeffs = coeffs / 2 ** (filt_size - 1)
        filt = (coeffs[:, None] * coeffs[None, :]).expand(channels, 1, filt_size, filt_size).contiguous()
        self.register_buffer("filt", filt, persistent=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = F.pad(x, [self.padding] * 4, mode="reflect")
        return F.conv2d(x, self.filt, stride=self.stride, groups=self.channels)

    def extra_repr(self) -> str:
        return f"channels={self.channels}, filt_size={self.filt_size}, stride={self.stride}"


class SpaceToDepthStem(nn.Sequential):
    """TResNet stem: SpaceToDepth(4) then a 3x3 conv-bn-act to ``width`` (total stride 4).

    Children: ``s2d``, ``conv`` (``conv``/``bn``/``act``).  ``act_layer`` is used as given; the
    builder passes :func:`tresnet_stem_act` of the network's activation, as timm does.
    """

    def __init__(self, in_chans: int, width: int, *, norm_layer: ModuleFactory = nn.BatchNorm2d,
                 act_layer: ModuleFactory = nn.ReLU):
        super().__init__()
        self.s2d = SpaceToDepth(4)
        self.conv = ConvNormAct(in_chans * 16, width, 3, norm_layer=norm_layer, act_layer=act_layer)


def _conv_aa(in_chs: int, out_chs: int, k: int, stride: int, anti_alias: bool,
             norm_layer: ModuleFactory, act_layer: ModuleFactory | None) -> ConvNormAct:
    """conv-bn-act; with ``anti_alias`` and stride 2 the conv has stride 1 and a BlurPool ``aa``
    follows the activation (timm ``ConvNormAct(aa_layer=BlurPool2d)``)."""
    use_aa = anti_alias and stride > 1
    m = ConvNormAct(in_chs, out_chs, k, 1 if use_aa else stride, norm_layer=norm_layer, act_layer=act_layer)
    if use_aa:
        m.add_module("aa", BlurPool(out_chs, 3, stride))
    return m


def _downsample(in_chs: int, out_chs: int, stride: int, shortcut: str,
                norm_layer: ModuleFactory) -> nn.Sequential | None:
    """Projection shortcut when the shape changes: ``avgpool`` = 2x2 average pool (ceil mode, pad
    excluded) then 1x1 conv-bn (timm TResNet); ``conv`` = strided 1x1 conv-bn."""
    if shortcut not in ("avgpool", "conv"):
        raise ValueError(f"shortcut={shortcut!r} is not one of avgpool, conv")
    if stride == 1 and in_chs == out_chs:
        return None
    layers: list[nn.Module] = []
    if stride > 1 and shortcut == "avgpool":
        layers.append(nn.AvgPool2d(stride, stride, ceil_mode=True, count_include_pad=False))
        stride = 1
    layers.append(ConvNormAct(in_chs, out_chs, 1, stride, norm_layer=norm_layer, act_layer=None))
    return nn.Sequential(*layers)


def _check(in_chs: int, out_chs: int, stride: int, se_chs: int) -> None:
    for name, v in (("in_chs", in_chs), ("out_chs", out_chs)):
        if isinstance(v, bool) or not isinstance(v, int) or v < 1:
            raise ValueError(f"{name}={v!r} must be a positive integer")
    if stride not in (1, 2):
        raise ValueError(f"stride={stride!r} must be 1 or 2")
    if isinstance(se_chs, bool) or not isinstance(se_chs, int) or se_chs < 0:
        raise ValueError(f"se_chs={se_chs!r} must be a non-negative integer (0 = no SE)")


class TResNetBasic(nn.Module):
    """3x3 conv-bn-act (stride, anti-aliased), 3x3 conv-bn, SE, + shortcut, ReLU (timm BasicBlock)."""

    def __init__(self, in_chs: int, out_chs: int, stride: int = 1, *, se_chs: int = 0,
                 anti_alias: bool = True, shortcut: str = "avgpool",
                 norm_layer: ModuleFactory = nn.BatchNorm2d,
                 act_layer: ModuleFactory = partial(nn.LeakyReLU, negative_slope=1e-3),
                 drop_path: float = 0.0):
        super().__init__()
        _check(in_chs, out_chs, stride, se_chs)
        self.downsample = _downsample(in_chs, out_chs, stride, shortcut, norm_layer)
        self.conv1 = _conv_aa(in_chs, out_chs, 3, stride, anti_alias, norm_layer, act_layer)
        self.conv2 = ConvNormAct(out_chs, out_chs, 3, norm_layer=norm_layer, act_layer=None)
        self.se = SqueezeExcite(out_chs, se_chs) if se_chs else None
        self.drop_path = DropPath(drop_path)
        self.act = nn.ReLU(inplace=True)


    def zero_init_last(self) -> None:
        """Zero the last norm's scale so the block starts as its shortcut (Goyal et al. 2017)."""
        nn.init.zeros_(self.conv2.bn.weight)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        shortcut = x if self.downsample is None else self.downsample(x)
        out = self.conv2(self.conv1(x))
        if self.se is not None:
            out = self.se(out)
        return self.act(self.drop_path(out) + shortcut)


class TResNetBottleneck(nn.Module):
    """1x1 conv-bn-act, 3x3 conv-bn-act (stride, anti-aliased), SE on ``mid_chs``, 1x1 conv-bn,
    + shortcut, ReLU (timm Bottleneck; TResNet's published models use ``mid_chs = out_chs / 4``)."""

    def __init__(self, in_chs: int, out_chs: int, stride: int = 1, *, mid_chs: int | None = None,
                 se_chs: int = 0, anti_alias: bool = True, shortcut: str = "avgpool",
                 norm_layer: ModuleFactory = nn.BatchNorm2d,
                 act_layer: ModuleFactory = partial(nn.LeakyReLU, negative_slope=1e-3),
                 drop_path: float = 0.0):
        super().__init__()
        _check(in_chs, out_chs, stride, se_chs)
        mid = out_chs // 4 if mid_chs is None else mid_chs
        if isinstance(mid, bool) or not isinstance(mid, int) or mid < 1:
            raise ValueError(f"mid_chs={mid_chs!r} must be a positive integer")
        self.downsample = _downsample(in_chs, out_chs, stride, shortcut, norm_layer)
        self.conv1 = ConvNormAct(in_chs, mid, 1, norm_layer=norm_layer, act_layer=act_layer)
        self.conv2 = _conv_aa(mid, mid, 3, stride, anti_alias, norm_layer, act_layer)
        self.se = SqueezeExcite(mid, se_chs) if se_chs else None
        self.conv3 = ConvNormAct(mid, out_chs, 1, norm_layer=norm_layer, act_layer=None)
        self.drop_path = DropPath(drop_path)
        self.act = nn.ReLU(inplace=True)

    def zero_init_last(self) -> None:
        """Zero the last norm's scale so the block starts as its shortcut (Goyal et al. 2017)."""
        nn.init.zeros_(self.conv3.bn.weight)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        shortcut = x if self.downsample is None else self.downsample(x)
        out = self.conv2(self.conv1(x))
        if self.se is not None:
            out = self.se(out)
        return self.act(self.drop_path(self.conv3(out)) + shortcut)
