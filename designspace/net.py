"""NetSpec -> torch.nn.Module (``designspace.build`` calls :func:`build` here).  The only
designspace module that imports torch at import time.

The built network has one layout for every family::

    Net
      stem            built by the stem's kind (:mod:`designspace.kinds.stems`)
      stages.{i}.{j}  block j of stage i, built by its kind (:mod:`designspace.kinds`)
      head            optional 1x1 conv, global pool, dropout, ``fc`` (Identity for 0 classes)

Each kind's builder reads a :class:`StageSpec` and calls a block's constructor with explicit
arguments; blocks never see a spec.
"""
from __future__ import annotations

from dataclasses import replace
from typing import Any

import torch
from torch import nn

from .blocks.heads import ClassifierHead
from .blocks.layers import get_act, get_norm
from .errors import SpecError
from .features import FeatureInfo, feature_levels, placeholders, resolve_out_indices, stem_splits
from .kinds import BlockContext, block_kind, stem_kind
from .pretrained import pretrained_cfg
from .spec import GLOBAL_POOLS, HeadSpec, NetSpec

__all__ = ["build", "Net", "FeatureNet", "BlockContext"]


class Net(nn.Module):
    """A network built from a :class:`NetSpec` (kept as ``self.spec``), with timm's model
    conventions: ``forward_features``, ``forward_head(x, pre_logits)``, ``reset_classifier(n,
    global_pool)``, ``get_classifier``, ``num_classes``, ``num_features``, ``feature_info``,
    ``pretrained_cfg``/``default_cfg``, ``set_grad_checkpointing`` and ``group_matcher``."""

    __jit_unused_properties__ = ["num_classes", "num_features", "feature_info", "default_cfg"]

    def __init__(self, spec: NetSpec, name: str | None = None):
        super().__init__()
        self.spec = spec
        act, norm = get_act(spec.activation), get_norm(spec.norm)
        self.stem = stem_kind(spec.stem.kind).build(spec.stem, spec.in_chans, act, norm)
        # drop path grows linearly from 0 at the first block to drop_path_rate at the last, as in
        # timm's ResNet, RegNet and TResNet; timm's EfficientNet builder divides by the block count
        total = spec.depth if {st.block for st in spec.stages} <= {"ds", "mbconv"} else max(spec.depth - 1, 1)
        chs, k = spec.stem.width, 0
        stages = []
        for i, st in enumerate(spec.stages):
            kind = block_kind(st.block)
            blocks = []
            for j in range(st.depth):
                ctx = BlockContext(
                    act=act, norm=norm, act_name=spec.activation,
                    drop_path=spec.drop_path_rate * k / total,
                    index_in_stage=j, stage_index=i, num_stages=len(spec.stages),
                )
                blocks.append(kind.build(st, chs, st.stride if j == 0 else 1, ctx))
                chs, k = st.width, k + 1
            stages.append(nn.Sequential(*blocks))
        self.stages = nn.Sequential(*stages)
        self.head = ClassifierHead(
            chs, spec.num_classes, width=spec.head.width, dropout=spec.head.dropout, pool=spec.head.pool,
            norm_layer=norm, act_layer=act,
        )
        self.grad_checkpointing = False
        self.init_weights()
        first = next(n for n, m in self.named_modules() if isinstance(m, nn.Conv2d))
        #: timm's ``pretrained_cfg`` (:mod:`designspace.pretrained`): timm's values for a named model
        self.pretrained_cfg = pretrained_cfg(spec, name, first_conv=first)

    @torch.no_grad()
    def init_weights(self) -> None:
        """He-normal convs (fan-out), unit norms, N(0, 0.01) classifier, and each residual
        block's last norm scale at zero (pycls and timm do the same; short schedules need it)."""
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
                if m.bias is not None:
                    nn.init.zeros_(m.bias)
            elif isinstance(m, nn.BatchNorm2d):
                nn.init.ones_(m.weight)
                nn.init.zeros_(m.bias)
            elif isinstance(m, nn.Linear):
                nn.init.normal_(m.weight, std=0.01)
                nn.init.zeros_(m.bias)
        for m in self.modules():
            if hasattr(m, "zero_init_last"):
                m.zero_init_last()

    # ------------------------------------------------------- timm's model conventions
    @property
    def num_classes(self) -> int:
        return self.head.fc.out_features if isinstance(self.head.fc, nn.Linear) else 0

    @property
    def num_features(self) -> int:
        """Width of the features the head pools (timm's ``num_features``)."""
        return self.spec.head.width or self.spec.stages[-1].width

    @property
    def feature_info(self) -> list[dict[str, Any]]:
        """timm's ``feature_info``: ``num_chs``, ``reduction`` and ``module`` of each feature
        level (:func:`designspace.features.feature_levels`)."""
        return feature_levels(self.spec)

    @property
    def default_cfg(self) -> dict[str, Any]:
        """timm's older name for :attr:`pretrained_cfg`."""
        return self.pretrained_cfg

    @torch.jit.ignore
    def set_grad_checkpointing(self, enable: bool = True) -> None:
        """Recompute each block in the backward pass instead of keeping its activations (timm's
        convention): the same outputs and gradients, less memory, more compute."""
        self.grad_checkpointing = bool(enable)

    @torch.jit.ignore
    def group_matcher(self, coarse: bool = False) -> dict[str, Any]:
        """timm's parameter groups (layer-wise decay, ``timm.models.group_parameters``): the
        stem, then each block (each stage if ``coarse``), then the head."""
        return {"stem": r"^stem", "blocks": [(r"^stages\.(\d+)" if coarse else r"^stages\.(\d+)\.(\d+)", None),
                                             (r"^head\.conv", (99999,))]}

    def get_classifier(self) -> nn.Module:
        return self.head.fc

    def reset_classifier(self, num_classes: int, global_pool: str | None = None) -> None:
        """A new classifier for ``num_classes`` outputs (0: none, the head returns the pooled
        features) and, if given, a new ``global_pool`` (:data:`designspace.spec.GLOBAL_POOLS`;
        ``''`` only with ``num_classes=0``); initialised as :meth:`init_weights` does; ``spec``
        follows."""
        pool = self.spec.head.pool if global_pool is None else global_pool
        spec = self.spec.replace(num_classes=num_classes, head=replace(self.spec.head, pool=pool))
        p = next(self.parameters(), None)
        head = ClassifierHead(self.num_features, num_classes, pool=pool)
        if isinstance(head.fc, nn.Linear):
            nn.init.normal_(head.fc.weight, std=0.01)
            nn.init.zeros_(head.fc.bias)
            if p is not None:
                head.fc.to(device=p.device, dtype=p.dtype)
        self.head.fc, self.head.pool_type = head.fc, pool
        self.head.num_features = head.num_features
        self.spec = spec

    def forward_features(self, x: torch.Tensor) -> torch.Tensor:
        """Stem, stages and the head's 1x1 conv if any (EfficientNet's ``conv_head``, ``bn2``),
        as timm's ``forward_features``: the map the head pools."""
        x = self.stem(x)
        if self.grad_checkpointing and not torch.jit.is_scripting():
            x = self._checkpointed_stages(x)
        else:
            x = self.stages(x)
        return self.head.forward_conv(x)

    @torch.jit.unused
    def _checkpointed_stages(self, x: torch.Tensor) -> torch.Tensor:
        from torch.utils.checkpoint import checkpoint

        for stage in self.stages:
            for block in stage:
                x = checkpoint(block, x, use_reentrant=False)
        return x

    def forward_head(self, x: torch.Tensor, pre_logits: bool = False) -> torch.Tensor:
        """Pool, dropout and classifier on ``forward_features``' output; ``pre_logits`` stops
        before the classifier."""
        return self.head(x, pre_logits)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.forward_features(x))


def feature_info(spec: NetSpec) -> list[dict[str, Any]]:
    """``[{num_chs, reduction, module}]`` of each feature level (timm's convention)."""
    return feature_levels(spec)


class FeatureNet(nn.Module):
    """A network without its head that returns the feature maps of the levels named by
    ``out_indices`` (:func:`designspace.features.feature_levels`; timm's ``features_only=True``,
    with timm's levels and indices); ``feature_info`` is a :class:`~designspace.features.FeatureInfo`."""

    def __init__(self, net: Net, out_indices: Any = None):
        super().__init__()
        levels = feature_levels(net.spec)
        self.feature_info = FeatureInfo(levels, out_indices)
        self.out_indices = self.feature_info.out_indices
        self.spec = net.spec
        self.pretrained_cfg = net.pretrained_cfg
        self.stem = net.stem
        self.stages = net.stages
        wanted = [levels[i]["module"] for i in self.out_indices]
        self._split_stem = stem_splits(net.spec)
        self._emit_stem = ("stem.conv" if self._split_stem else "stem") in wanted
        self._emit = [f"stages.{i}" in wanted for i in range(len(net.stages))]
        self._last = max([i for i, e in enumerate(self._emit) if e], default=-1)

    def forward(self, x: torch.Tensor) -> list[torch.Tensor]:
        outs: list[torch.Tensor] = []
        if self._split_stem:
            x = self.stem.forward_pre_pool(x)
            if self._emit_stem:
                outs.append(x)
            x = self.stem.pool(x)
        else:
            x = self.stem(x)
            if self._emit_stem:
                outs.append(x)
        for i, stage in enumerate(self.stages):
            if i > self._last:
                break
            x = stage(x)
            if self._emit[i]:
                outs.append(x)
        return outs


def build(spec: NetSpec | str, *, pretrained: bool | str = False, features_only: bool = False,
          out_indices: Any = None, global_pool: str | None = None, drop_rate: float | None = None,
          **overrides: Any) -> nn.Module:
    """Build a spec (or a zoo name) into a freshly initialised module.

    ``overrides`` replace top-level spec fields, e.g. ``build(spec, num_classes=10)``; timm's
    keywords mean what they mean in timm: ``num_classes=0`` (no classifier: pooled features),
    ``global_pool`` (``avg``, ``max``, ``avgmax``, ``catavgmax``, ``''``: the spec's
    ``head.pool``), ``drop_rate`` (dropout before the classifier: ``head.dropout``) and
    ``drop_path_rate``.  ``pretrained``: ``True`` loads timm's released weights for a named
    model (fetched by timm, so online; ``pip install 'designspace[timm]'``), a path loads a
    saved timm checkpoint (a state_dict file) for any spec of a timm family; a classifier of
    another size is left initialised.  ``features_only=True`` returns a :class:`FeatureNet`
    (timm's levels and ``out_indices``).  Anything but a :class:`NetSpec` or a named model
    raises :class:`SpecError`.
    """
    name = spec if isinstance(spec, str) else None
    if isinstance(spec, str):
        from .zoo import zoo

        spec = zoo[spec]
    if not isinstance(spec, NetSpec):
        raise SpecError("spec", spec, "is neither a NetSpec nor the name of a named model")
    if name is None:
        name = _zoo_name(spec)
    head = spec.head if "head" not in overrides else overrides["head"]
    if isinstance(head, HeadSpec) and (global_pool is not None or drop_rate is not None):
        if global_pool is not None and global_pool not in GLOBAL_POOLS:
            raise SpecError("global_pool", global_pool, f"is not one of {', '.join(map(repr, GLOBAL_POOLS))}")
        if drop_rate is not None:
            _check_rate("drop_rate", drop_rate)
        overrides["head"] = replace(head, pool=head.pool if global_pool is None else global_pool,
                                    dropout=head.dropout if drop_rate is None else float(drop_rate))
    if overrides:
        spec = spec.replace(**overrides)
    if features_only:
        levels = feature_levels(spec)
        resolve_out_indices(out_indices, len(levels), placeholders(levels))  # a bad index fails before any work
    net = Net(spec, name)
    if pretrained:
        load_pretrained(net, pretrained, name)
    return FeatureNet(net, out_indices) if features_only else net


def _check_rate(path: str, v: Any) -> None:
    if isinstance(v, bool) or not isinstance(v, (int, float)) or not 0.0 <= v < 1.0:
        raise SpecError(path, v, "must be a number in [0, 1)")


def _zoo_name(spec: NetSpec) -> str | None:
    """The named model whose spec ``spec`` is (exactly), if any."""
    from .zoo import zoo

    for n in zoo:
        if zoo.entry(n).family == "tresnet" and spec.stem.kind != "s2d":
            continue
        if zoo[n] == spec:
            return n
    return None


def load_pretrained(net: Net, source: bool | str, name: str | None = None) -> None:
    """Load timm weights into ``net`` (see :func:`build`)."""
    import os

    from .errors import UsageError
    from .interop import timm_to_designspace

    if source is True:
        if name is None:
            from .interop import to_timm

            name = to_timm(net.spec)[0]
        from .errors import require

        timm = require("timm", extra="timm", what="pretrained=True")
        try:
            sd = timm.create_model(name, pretrained=True).state_dict()
        except Exception as e:  # noqa: BLE001 - no network, no weights for this name, hub errors
            raise UsageError(f"pretrained=True: timm could not fetch the weights of {name} ({type(e).__name__}: "
                             f"{str(e).splitlines()[0] if str(e) else ''}); pass pretrained=PATH to a saved timm "
                             "checkpoint instead") from None
    else:
        path = os.fspath(source)
        if not os.path.isfile(path):
            raise UsageError(f"pretrained={path!r} is not a checkpoint file")
        sd = torch.load(path, map_location="cpu", weights_only=True)
        if isinstance(sd, dict) and "state_dict" in sd and isinstance(sd["state_dict"], dict):
            sd = sd["state_dict"]
    mapped = timm_to_designspace(name if name is not None else net.spec, sd)
    own = net.state_dict()
    skip = [k for k in ("head.fc.weight", "head.fc.bias") if k in mapped and mapped[k].shape != own[k].shape]
    for k in skip:  # a checkpoint of another number of classes: keep our fresh classifier
        del mapped[k]
    missing, unexpected = net.load_state_dict(mapped, strict=False)
    missing = [k for k in missing if k not in skip]
    if missing or unexpected:
        raise UsageError(f"the checkpoint does not fit spec {net.spec.id}: missing {missing[:3]}, unexpected "
                         f"{unexpected[:3]}")
