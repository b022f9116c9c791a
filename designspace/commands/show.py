"""`designspace show NAME_OR_SPEC.json`: a model stage by stage with per-stage params and FLOPs."""
from __future__ import annotations

import argparse
import os

from ..errors import UsageError


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("model", metavar="NAME_OR_SPEC", help="a named model (see `designspace list`) or a spec JSON file")
    p.add_argument("--resolution", type=int, help="count at this input resolution (default: the spec's)")
    p.add_argument("--json", action="store_true", help="print the spec as JSON instead of the table")
    p.add_argument("--geometry", default="imagenet", help="imagenet (the spec's own stem and strides; default) or cifar "
                   "(3x3 stride-1 stem, total stride 8)")


def load_spec(ref: str):
    """A NetSpec from a zoo name or a JSON file path (SpecError/UsageError with a clear message)."""
    from .. import NetSpec, zoo

    if ref in zoo:
        return zoo[ref]
    if os.path.exists(ref):
        try:
            with open(ref, encoding="utf-8") as f:
                text = f.read()
        except OSError as e:
            raise UsageError(f"cannot read {ref}: {e.strerror}") from None
        return NetSpec.from_json(text)
    if ref.endswith(".json"):
        raise UsageError(f"spec file {ref} does not exist")
    return zoo[ref]  # raises SpecError with close matches


#: short labels of the stage fields a block kind shows next to its name
_LABELS = {"bottleneck_ratio": "b", "kernel_size": "k", "expand_ratio": "e"}


def run(args: argparse.Namespace) -> int:
    from .. import CONVENTION
    from ..complexity import count_parts, stage_maps
    from ..kinds import block_kind
    from ._table import format_table, human

    from ..geometry import GEOMETRIES, apply_geometry

    if args.geometry not in GEOMETRIES:
        raise UsageError(f"--geometry={args.geometry!r} is not one of {', '.join(GEOMETRIES)}")
    spec = load_spec(args.model)
    spec = apply_geometry(spec, args.geometry)
    if args.json:
        print(spec.to_json(indent=2))
        return 0
    if args.resolution is not None and args.resolution < spec.stride:
        raise UsageError(f"--resolution={args.resolution} is too small for the network's total stride {spec.stride}")
    parts = dict(count_parts(spec, args.resolution))
    maps = {name: f"{h}x{w}" for name, h, w in stage_maps(spec, args.resolution)}
    res = args.resolution or spec.resolution
    stem = spec.stem
    rows = [("stem", stem.kind + (f"+{stem.pool}pool" if stem.pool != "none" else ""), 1, stem.width, "-", stem.stride,
             maps["stem"], "-", human(parts["stem"].params), human(parts["stem"].flops))]
    for i, st in enumerate(spec.stages):
        c = parts[f"stage{i + 1}"]
        extra = [f"{_LABELS.get(f, f)}={getattr(st, f):g}" for f in block_kind(st.block).show]
        block = st.block + (f" ({' '.join(extra)})" if extra else "")
        rows.append((f"stage{i + 1}", block, st.depth, st.width, st.group_width or "-", st.stride, maps[f"stage{i + 1}"],
                     f"{st.se_ratio:g}" if st.se_ratio else "-", human(c.params), human(c.flops)))
    h = parts["head"]
    rows.append(("head", f"conv{spec.head.width}+fc" if spec.head.width else "fc", 1, spec.num_classes, "-", "-", "-", "-",
                 human(h.params), human(h.flops)))
    total = [sum(c[k] for c in parts.values()) for k in range(3)]
    print(f"{args.model}  id={spec.id}  resolution={res}  activation={spec.activation}")
    print(format_table(("part", "block", "depth", "width", "group w", "stride", "out map", "SE", "params", "FLOPs"), rows,
                       right=(False, False, True, True, True, True, True, True, True, True)))
    print(f"\ntotal: params={human(total[1])} flops={human(total[0])} acts={human(total[2])}  ({CONVENTION})")
    return 0
