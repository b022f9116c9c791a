"""pycls model configs (the YAML of facebookresearch/pycls, ``configs/dds_baselines``) read into
specs and written from them.

Read (:func:`read_pycls`): ``MODEL.TYPE`` ``regnet`` (``REGNET.DEPTH, W0, WA, WM, GROUP_W,
BOT_MUL, SE_ON, SE_R, STEM_W``: through :func:`designspace.families.regnet`, whose arithmetic is
timm's), ``anynet`` (``ANYNET.STEM_TYPE, STEM_W, BLOCK_TYPE, DEPTHS, WIDTHS, STRIDES, BOT_MULS,
GROUP_WS, SE_ON, SE_R, HEAD_W``) and ``effnet`` (``EN.STEM_W, DEPTHS, WIDTHS, EXP_RATIOS,
KERNELS, STRIDES, SE_R, HEAD_W, DROPOUT_RATIO``) and ``resnet`` (``MODEL.DEPTH``,
``RESNET.TRANS_FUN, NUM_GROUPS, WIDTH_PER_GROUP, STRIDE_1X1`` and ``TRAIN.DATASET``: pycls'
``ResNet`` builds the CIFAR ResNet-(6n+2) of basic blocks, 16-32-64 wide after a 3x3 stem, for
a ``cifar*`` dataset, else the ImageNet ResNet-50/101/152 of bottlenecks after a 7x7 stem and
max-pool, as our :func:`designspace.families.resnet`), with ``MODEL.NUM_CLASSES`` and
``TRAIN.IM_SIZE``; keys a config leaves out take pycls' defaults (``pycls/core/config.py``).
pycls' own complexity figures are ``count(spec, convention="pycls")``.

pycls' blocks map onto our kinds: ``res_bottleneck_block`` is the RegNet X/Y block (``regnet``;
without SE after a ``res_stem_in`` it is the ResNet bottleneck, ``bottleneck``),
``res_basic_block`` the ResNet basic block (``basic``), ``vanilla_block`` the NDS plain block
(``vanilla``), and effnet's MBConv our ``ds``/``mbconv``; the stems ``simple_stem_in``,
``res_stem_in`` (7x7 + max-pool) and ``res_stem_cifar`` are ours ``simple``, ``resnet`` and
``cifar``.

Write (:func:`write_pycls`): a RegNet as ``regnet`` when its (w0, wa, wm) can be recovered
(:func:`designspace.families.regnet.regnet_params`), other networks of those kinds as
``anynet``/``effnet`` lists; ``read_pycls(write_pycls(spec)) == spec``.  A spec pycls cannot
build gets a :class:`~designspace.SpecError` naming what is missing.
"""
from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Mapping

from ..errors import SpecError
from ..spec import HeadSpec, NetSpec, StageSpec, StemSpec

__all__ = ["read_pycls", "write_pycls", "from_pycls_config", "to_pycls_config"]

_STEMS = {"simple_stem_in": ("simple", "none"), "res_stem_in": ("resnet", "max"), "res_stem_cifar": ("cifar", "none")}
_BLOCKS = ("res_bottleneck_block", "res_basic_block", "vanilla_block")


def _yaml() -> Any:
    import yaml  # PyYAML: a dependency of optuna

    return yaml


def read_pycls(source: str | os.PathLike) -> NetSpec:
    """A spec from a pycls YAML file (a path) or YAML text."""
    text = str(source)
    if "\n" not in text and (text.endswith((".yaml", ".yml")) or os.path.exists(text)):
        p = Path(text)
        if not p.is_file():
            raise SpecError("pycls", text, "is not a file")
        text = p.read_text()
    try:
        cfg = _yaml().safe_load(text)
    except Exception as e:  # yaml.YAMLError
        raise SpecError("pycls", text[:60], f"is not valid YAML ({str(e).splitlines()[0]})") from None
    return from_pycls_config(cfg)


def _get(cfg: Mapping[str, Any], section: str, key: str, default: Any) -> Any:
    sec = cfg.get(section) or {}
    if not isinstance(sec, Mapping):
        raise SpecError(section, sec, "must be a mapping of keys")
    return sec.get(key, default)


def _list(cfg: Mapping[str, Any], section: str, key: str, n: int | None = None) -> list:
    v = _get(cfg, section, key, [])
    if not isinstance(v, list) or (n is not None and len(v) != n):
        raise SpecError(f"{section}.{key}", v, f"must be a list{'' if n is None else f' of {n} values (one per stage)'}")
    return v


def from_pycls_config(cfg: Mapping[str, Any]) -> NetSpec:
    """A spec from a parsed pycls config (nested mappings, as the YAML gives)."""
    if not isinstance(cfg, Mapping):
        raise SpecError("pycls", cfg, "is not a mapping of config sections")
    kind = _get(cfg, "MODEL", "TYPE", "")
    ncls = int(_get(cfg, "MODEL", "NUM_CLASSES", 10))
    res = int(_get(cfg, "TRAIN", "IM_SIZE", 224))
    act = _get(cfg, "MODEL", "ACTIVATION_FUN", "relu")
    if kind == "regnet":
        from ..families import regnet

        se_on = bool(_get(cfg, "REGNET", "SE_ON", False))
        for key, want in (("STEM_TYPE", "simple_stem_in"), ("BLOCK_TYPE", "res_bottleneck_block"), ("STRIDE", 2),
                          ("HEAD_W", 0)):
            v = _get(cfg, "REGNET", key, want)
            if v != want:
                raise SpecError(f"REGNET.{key}", v, f"is not supported (only {want!r}, as every published RegNet)")
        return regnet(w0=int(_get(cfg, "REGNET", "W0", 32)), wa=float(_get(cfg, "REGNET", "WA", 5.0)),
                      wm=float(_get(cfg, "REGNET", "WM", 2.5)), depth=int(_get(cfg, "REGNET", "DEPTH", 10)),
                      group_width=int(_get(cfg, "REGNET", "GROUP_W", 16)),
                      bottle_ratio=float(_get(cfg, "REGNET", "BOT_MUL", 1.0)),
                      se_ratio=float(_get(cfg, "REGNET", "SE_R", 0.25)) if se_on else 0.0,
                      stem_width=int(_get(cfg, "REGNET", "STEM_W", 32)), resolution=res, num_classes=ncls)
    if kind == "anynet":
        return _anynet(cfg, ncls, res, act)
    if kind == "effnet":
        return _effnet(cfg, ncls, res, act)
    if kind == "resnet":
        return _resnet(cfg, ncls, res)
    raise SpecError("MODEL.TYPE", kind, "is not one of regnet, anynet, effnet, resnet")


#: pycls' ``_IN_STAGE_DS``: ImageNet ResNet depth -> bottlenecks per stage
_IN_STAGE_DS = {50: (3, 4, 6, 3), 101: (3, 4, 23, 3), 152: (3, 8, 36, 3)}


def _resnet(cfg: Mapping[str, Any], ncls: int, res: int) -> NetSpec:
    """pycls' ``ResNet`` (``pycls/models/resnet.py``) as a spec."""
    depth = _get(cfg, "MODEL", "DEPTH", 0)
    trans = _get(cfg, "RESNET", "TRANS_FUN", "basic_transform")
    dataset = str(_get(cfg, "TRAIN", "DATASET", ""))
    if "cifar" in dataset:
        if isinstance(depth, bool) or not isinstance(depth, int) or depth < 8 or (depth - 2) % 6:
            raise SpecError("MODEL.DEPTH", depth, "must be 6n + 2 (n >= 1) for pycls' CIFAR ResNet")
        if trans != "basic_transform":
            raise SpecError("RESNET.TRANS_FUN", trans, "must be basic_transform for pycls' CIFAR ResNet (it builds "
                            "no bottleneck width there)")
        d = (depth - 2) // 6
        stages = tuple(StageSpec(block="basic", depth=d, width=w, stride=s) for w, s in ((16, 1), (32, 2), (64, 2)))
        return NetSpec(stem=StemSpec(kind="cifar", width=16), stages=stages, resolution=res, num_classes=ncls)
    if depth not in _IN_STAGE_DS:
        raise SpecError("MODEL.DEPTH", depth, f"is not one of {', '.join(map(str, _IN_STAGE_DS))} (pycls' ImageNet "
                        "ResNets)")
    if trans != "bottleneck_transform":
        raise SpecError("RESNET.TRANS_FUN", trans, "must be bottleneck_transform for pycls' ImageNet ResNet")
    if _get(cfg, "RESNET", "STRIDE_1X1", True):
        raise SpecError("RESNET.STRIDE_1X1", True, "(the stride on the first 1x1 conv, pycls' default) has no "
                        "counterpart here: our bottleneck strides its 3x3 conv (STRIDE_1X1: False)")
    from ..families import resnet

    g, gw = int(_get(cfg, "RESNET", "NUM_GROUPS", 1)), int(_get(cfg, "RESNET", "WIDTH_PER_GROUP", 64))
    # pycls: stage i's bottleneck is gw * g * 2**i; ours (timm's) floor(64 * 2**i * gw / 64) * g
    return resnet(layers=_IN_STAGE_DS[depth], block="bottleneck", groups=g, width_per_group=gw, resolution=res,
                  num_classes=ncls)


def _anynet(cfg: Mapping[str, Any], ncls: int, res: int, act: str) -> NetSpec:
    stem_type = _get(cfg, "ANYNET", "STEM_TYPE", "simple_stem_in")
    if stem_type not in _STEMS:
        raise SpecError("ANYNET.STEM_TYPE", stem_type, f"is not one of {', '.join(_STEMS)}")
    block = _get(cfg, "ANYNET", "BLOCK_TYPE", "res_bottleneck_block")
    if block not in _BLOCKS:
        raise SpecError("ANYNET.BLOCK_TYPE", block, f"is not one of {', '.join(_BLOCKS)}")
    ds = _list(cfg, "ANYNET", "DEPTHS")
    n = len(ds)
    ws, ss = _list(cfg, "ANYNET", "WIDTHS", n), _list(cfg, "ANYNET", "STRIDES", n)
    se = float(_get(cfg, "ANYNET", "SE_R", 0.25)) if _get(cfg, "ANYNET", "SE_ON", False) else 0.0
    kind, pool = _STEMS[stem_type]
    stages = []
    for i in range(n):
        kw: dict[str, Any] = dict(depth=int(ds[i]), width=int(ws[i]), stride=int(ss[i]))
        if block == "res_bottleneck_block":
            bm, gw = float(_list(cfg, "ANYNET", "BOT_MULS", n)[i]), int(_list(cfg, "ANYNET", "GROUP_WS", n)[i])
            mid = int(round(ws[i] * bm))  # pycls: w_b = int(round(w_out * bot_mul))
            resnet_like = stem_type == "res_stem_in" and not se
            kw.update(block="bottleneck" if resnet_like else "regnet", bottleneck_ratio=ws[i] / mid,
                      group_width=0 if gw == mid else gw)
            if not resnet_like:
                kw.update(se_ratio=se, group_width=gw)
        elif block == "res_basic_block":
            if se:
                raise SpecError("ANYNET.SE_ON", True, "with res_basic_block has no counterpart here")
            kw.update(block="basic")
        else:
            kw.update(block="vanilla")
        stages.append(StageSpec(**kw))
    head_w = int(_get(cfg, "ANYNET", "HEAD_W", 0))
    return NetSpec(stem=StemSpec(kind=kind, width=int(_get(cfg, "ANYNET", "STEM_W", 32)), pool=pool),
                   stages=tuple(stages), head=HeadSpec(width=head_w), resolution=res, num_classes=ncls, activation=act)


def _effnet(cfg: Mapping[str, Any], ncls: int, res: int, act: str) -> NetSpec:
    from .. import rules

    ds = _list(cfg, "EN", "DEPTHS")
    n = len(ds)
    ws, es = _list(cfg, "EN", "WIDTHS", n), _list(cfg, "EN", "EXP_RATIOS", n)
    ks, ss = _list(cfg, "EN", "KERNELS", n), _list(cfg, "EN", "STRIDES", n)
    se = float(_get(cfg, "EN", "SE_R", 0.25))
    w_in = int(_get(cfg, "EN", "STEM_W", 32))
    stages = []
    for i in range(n):
        e = float(es[i])
        for j in range(int(ds[i])):  # pycls: w_exp = int(w_in * e), SE int(w_in * se); ours timm's rounding
            cin = w_in if j == 0 else int(ws[i])
            if e != 1:
                mid, rd = rules.mbconv_widths(cin, e, se)
                if (mid, rd) != (int(cin * e), int(cin * se)):
                    raise SpecError(f"EN.EXP_RATIOS[{i}]", es[i], f"gives pycls widths ({int(cin * e)}, SE {int(cin * se)}) "
                                    f"that timm's rounding ({mid}, SE {rd}) does not reproduce")
        stages.append(StageSpec(block="ds" if e == 1 else "mbconv", depth=int(ds[i]), width=int(ws[i]),
                                stride=int(ss[i]), kernel_size=int(ks[i]), expand_ratio=e, se_ratio=se))
        w_in = int(ws[i])
    return NetSpec(stem=StemSpec(kind="simple", width=int(_get(cfg, "EN", "STEM_W", 32))), stages=tuple(stages),
                   head=HeadSpec(width=int(_get(cfg, "EN", "HEAD_W", 1280)),
                                 dropout=float(_get(cfg, "EN", "DROPOUT_RATIO", 0.0))),
                   resolution=res, num_classes=ncls, activation=act if act != "relu" else "silu")


# -------------------------------------------------------------------------------------- write
def to_pycls_config(spec: NetSpec) -> dict[str, Any]:
    """The pycls config (nested dicts) of ``spec``; see the module docstring."""
    if spec.in_chans != 3:
        raise SpecError("in_chans", spec.in_chans, "is not 3: pycls builds RGB inputs only")
    if spec.drop_path_rate:
        raise SpecError("drop_path_rate", spec.drop_path_rate, "has no pycls model key (pycls: EN.DC_RATIO only)")
    model: dict[str, Any] = {"NUM_CLASSES": spec.num_classes}
    out: dict[str, Any] = {"MODEL": model, "TRAIN": {"IM_SIZE": spec.resolution}}
    blocks = {st.block for st in spec.stages}
    if blocks <= {"ds", "mbconv"}:
        if spec.stem.kind != "simple" or spec.activation != "silu" or len({st.se_ratio for st in spec.stages}) != 1:
            raise SpecError("spec", spec.id, "is not a pycls EfficientNet (simple stem, silu, one SE ratio)")
        model.update(TYPE="effnet", ACTIVATION_FUN="silu")
        out["EN"] = {"STEM_W": spec.stem.width, "DEPTHS": spec.depths, "WIDTHS": spec.widths,
                     "EXP_RATIOS": [st.expand_ratio for st in spec.stages], "KERNELS": [st.kernel_size for st in spec.stages],
                     "STRIDES": [st.stride for st in spec.stages], "SE_R": spec.stages[0].se_ratio,
                     "HEAD_W": spec.head.width, "DROPOUT_RATIO": spec.head.dropout}
        return out
    if spec.activation != "relu":
        raise SpecError("activation", spec.activation, "is not relu (pycls' AnyNet and RegNet use relu)")
    if spec.head.dropout:
        raise SpecError("head.dropout", spec.head.dropout, "has no pycls AnyNet/RegNet key")
    if blocks == {"regnet"}:
        from ..families.regnet import regnet_params

        try:
            p = regnet_params(spec)
        except SpecError:
            p = None
        if p is not None:
            model["TYPE"] = "regnet"
            out["REGNET"] = {"DEPTH": p["depth"], "W0": p["w0"], "WA": p["wa"], "WM": p["wm"], "GROUP_W": p["group_width"],
                             "BOT_MUL": p["bottle_ratio"], "SE_ON": bool(p["se_ratio"]), "SE_R": p["se_ratio"] or 0.25,
                             "STEM_W": p["stem_width"]}
            return out
    stem = {v: k for k, v in _STEMS.items()}.get((spec.stem.kind, spec.stem.pool))
    if stem is None:
        raise SpecError("stem", f"{spec.stem.kind}+{spec.stem.pool}", "is not a pycls stem (simple_stem_in, "
                        "res_stem_in = 7x7 + max-pool, res_stem_cifar)")
    if len(blocks) != 1:
        raise SpecError("stages", sorted(blocks), "mix block kinds (pycls' AnyNet has one BLOCK_TYPE)")
    block = blocks.pop()
    an: dict[str, Any] = {"STEM_TYPE": stem, "STEM_W": spec.stem.width, "DEPTHS": spec.depths, "WIDTHS": spec.widths,
                          "STRIDES": [st.stride for st in spec.stages], "HEAD_W": spec.head.width}
    if block in ("regnet", "bottleneck"):
        if block == "bottleneck" and (stem != "res_stem_in" or any(st.se_ratio or st.shortcut != "conv" for st in spec.stages)):
            raise SpecError("stages", spec.id, "are ResNet bottlenecks with SE, avg-pool shortcuts or a non-ResNet stem: "
                            "pycls has no such block (its SE sits on the bottleneck)")
        if block == "regnet" and stem == "res_stem_in" and not any(st.se_ratio for st in spec.stages):
            raise SpecError("stages", spec.id, "are X blocks without SE after a ResNet stem, which pycls reads as "
                            "ResNet bottlenecks (the same network): write it with block='bottleneck'")
        ses = {st.se_ratio for st in spec.stages}
        if len(ses) != 1:
            raise SpecError("stages.se_ratio", sorted(ses), "differ between stages (pycls has one SE_R)")
        se = ses.pop()
        an.update(BLOCK_TYPE="res_bottleneck_block", BOT_MULS=[st.bottleneck_width / st.width for st in spec.stages],
                  GROUP_WS=[st.group_width or st.bottleneck_width for st in spec.stages], SE_ON=bool(se), SE_R=se or 0.25)
    elif block == "basic":
        if any(st.se_ratio or st.shortcut != "conv" for st in spec.stages):
            raise SpecError("stages", spec.id, "are basic blocks with SE or avg-pool shortcuts: pycls has neither")
        an["BLOCK_TYPE"] = "res_basic_block"
    elif block == "vanilla":
        an["BLOCK_TYPE"] = "vanilla_block"
    else:
        raise SpecError("stages.block", block, "has no pycls counterpart (res_bottleneck_block, res_basic_block, "
                        "vanilla_block, effnet MBConv)")
    model["TYPE"] = "anynet"
    out["ANYNET"] = an
    return out


def write_pycls(spec: NetSpec) -> str:
    """The pycls YAML text of ``spec`` (``read_pycls(write_pycls(spec)) == spec``)."""
    return _yaml().safe_dump(to_pycls_config(spec), sort_keys=False)
