"""NetSpec -> torch.nn.Module (``designspace.build`` calls :func:`build` here).  The only
designspace module that imports torch at import time.

The built network has one layout for every family::

    Net
      stem            built by the stem's kind (:mod:`designspace.kinds.stems`)
      stages.{i}.{j}  block j of stage i, built by its kind (:mod:`designspace.kinds`)
      head            optional 1x1 conv, global average pool, dropout, ``fc``

Each kind's builder reads a :class:`StageSpec` and calls a block's constructor with explicit
arguments; blocks never see a spec.
"""
from __future__ import annotations

from typing import Any

import torch
from torch import nn

from .blocks.heads import ClassifierHead
from .blocks.layers import get_act, get_norm
from .errors import SpecError
from .kinds import BlockContext, block_kind, stem_kind
from .spec import NetSpec

__all__ = ["build", "Net", "BlockContext"]


class Net(nn.Module):
    """A network built from a :class:`NetSpec` (kept as ``self.spec``), with timm's model
    conventions: ``forward_features``, ``forward_head(x, pre_logits)``, ``reset_classifier``,
    ``get_classifier``, ``num_features``, ``feature_info``."""

    __jit_unused_properties__ = ["num_classes", "num_features", "feature_info"]

    def __init__(self, spec: NetSpec):
        super().__init__()
        self.spec = spec
        act, norm = get_act(spec.activation), get_norm(spec.norm)
        self.stem = stem_kind(spec.stem.kind).build(spec.stem, spec.in_chans, act, norm)
        total = spec.depth
        chs, k = spec.stem.width, 0
        stages = []
        for i, st in enumerate(spec.stages):
            kind = block_kind(st.block)
            blocks = []
            for j in range(st.depth):
                ctx = BlockContext(
                    act=act, norm=norm, act_name=spec.activation,
                    drop_path=spec.drop_path_rate * k / max(total - 1, 1),
                    index_in_stage=j, stage_index=i, num_stages=len(spec.stages),
                )
                blocks.append(kind.build(st, chs, st.stride if j == 0 else 1, ctx))
                chs, k = st.width, k + 1
            stages.append(nn.Sequential(*blocks))
        self.stages = nn.Sequential(*stages)
        self.head = ClassifierHead(
            chs, spec.num_classes, width=spec.head.width, dropout=spec.head.dropout, norm_layer=norm, act_layer=act,
        )

        self.init_weights()

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
        """Width of the pooled features the classifier reads (timm's ``num_features``)."""
        return self.spec.head.width or self.spec.stages[-1].width

    @property
    def feature_info(self) -> list[dict[str, Any]]:
        """timm's ``feature_info``: channels, reduction and module of the stem and each stage."""
        return feature_info(self.spec)

    def get_classifier(self) -> nn.Module:
        return self.head.fc

    def reset_classifier(self, num_classes: int, global_pool: str | None = None) -> None:
        """A new classifier for ``num_classes`` outputs (0: none, the head returns the pooled
        features), initialised as :meth:`init_weights` does; ``spec`` follows."""
        if isinstance(num_classes, bool) or not isinstance(num_classes, int) or num_classes < 0:
            raise SpecError("num_classes", num_classes, "must be an integer >= 0")
        if global_pool not in (None, "avg"):
            raise SpecError("global_pool", global_pool, "is not supported (our head pools by average)")
        p = next(self.head.fc.parameters(), None) if isinstance(self.head.fc, nn.Linear) else None
        fc: nn.Module = nn.Linear(self.num_features, num_classes) if num_classes else nn.Identity()
        if num_classes:
            nn.init.normal_(fc.weight, std=0.01)
            nn.init.zeros_(fc.bias)
            if p is not None:
                fc.to(device=p.device, dtype=p.dtype)
            self.spec = self.spec.replace(num_classes=num_classes)
        self.head.fc = fc

    def forward_features(self, x: torch.Tensor) -> torch.Tensor:
        return self.stages(self.stem(x))

    def forward_head(self, x: torch.Tensor, pre_logits: bool = False) -> torch.Tensor:
        """The head on ``forward_features``' output; ``pre_logits`` stops before the classifier."""
        return self.head(x, pre_logits)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.forward_features(x))


def feature_info(spec: NetSpec) -> list[dict[str, Any]]:
    """``[{num_chs, reduction, module}]`` of the stem and each stage (timm's convention)."""
    red = spec.stem.stride
    out = [{"num_chs": spec.stem.width, "reduction": red, "module": "stem"}]
    for i, st in enumerate(spec.stages):
        red *= st.stride
        out.append({"num_chs": st.width, "reduction": red, "module": f"stages.{i}"})
    return out


class FeatureNet(nn.Module):
    """A network without its head that returns the feature maps of the stem and stages named
    by ``out_indices`` (0: the stem, ``i``: stage ``i``), timm's ``features_only=True``."""

    def __init__(self, net: Net, out_indices: tuple[int, ...] | None = None):
        super().__init__()
        n = len(net.spec.stages)
        idx = tuple(range(n + 1)) if out_indices is None else tuple(out_indices)
        for i in idx:
            if isinstance(i, bool) or not isinstance(i, int) or not -(n + 1) <= i <= n:
                raise SpecError("out_indices", out_indices, f"must hold indices in 0..{n} (0 is the stem)")
        self.out_indices = tuple(i % (n + 1) for i in idx)
        self.spec = net.spec
        self.stem = net.stem
        self.stages = net.stages
        self.feature_info = [feature_info(net.spec)[i] for i in self.out_indices]
        self._last = max(self.out_indices)

    def forward(self, x: torch.Tensor) -> list[torch.Tensor]:
        outs: list[torch.Tensor] = []
        x = self.stem(x)
        if 0 in self.out_indices:
            outs.append(x)
        for i, stage in enumerate(self.stages):
            if i + 1 > self._last:
                break
            x = stage(x)
            if i + 1 in self.out_indices:
                outs.append(x)
        return outs


def build(spec: NetSpec | str, *, pretrained: bool | str = False, features_only: bool = False,
          out_indices: tuple[int, ...] | None = None, **overrides: Any) -> nn.Module:
    """Build a spec (or a zoo name) into a freshly initialised module.

    ``overrides`` replace top-level spec fields, e.g. ``build(spec, num_classes=10)``.
    ``pretrained``: ``True`` loads timm's released weights for a named model (fetched by timm,
    so online; ``pip install 'designspace[timm]'``), a path loads a saved timm checkpoint (a
    state_dict file) for any spec of a timm family; a classifier of another size is left
    initialised.  ``features_only=True`` returns a :class:`FeatureNet` (timm's convention).
    Anything but a :class:`NetSpec` or a named model raises :class:`SpecError`.
    """
    name = spec if isinstance(spec, str) else None
    if isinstance(spec, str):
        from .zoo import zoo

        spec = zoo[spec]
    if not isinstance(spec, NetSpec):
        raise SpecError("spec", spec, "is neither a NetSpec nor the name of a named model")
    if overrides:
        spec = spec.replace(**overrides)
    net = Net(spec)
    if pretrained:
        load_pretrained(net, pretrained, name)
    return FeatureNet(net, out_indices) if features_only else net


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
