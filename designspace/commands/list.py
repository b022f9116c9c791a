"""`designspace list`: every named model with family, resolution, params and GFLOPs."""
from __future__ import annotations

import argparse
import csv
import json
import sys

from ..errors import UsageError


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--family", help="only this family: resnet, resnet_rs, regnet, efficientnet, tresnet (default: all)")
    p.add_argument("--format", choices=("table", "csv", "json"), default="table",
                   help="table (aligned, for reading), csv or json (default table)")


def rows(family: str | None = None) -> list[dict]:
    from .. import count, zoo
    from ..zoo import entries

    out = []
    for name, e in entries.items():
        if family and e.family != family:
            continue
        spec = zoo[name]
        c = count(spec)
        out.append({"name": name, "family": e.family, "resolution": spec.resolution, "params": c.params,
                    "gflops": round(c.flops / 1e9, 3), "acts": c.acts, "timm": e.timm, "id": spec.id})
    return out


def run(args: argparse.Namespace) -> int:
    from .. import CONVENTION
    from ..zoo import entries

    families = sorted({e.family for e in entries.values()})
    if args.family and args.family not in families:
        raise UsageError(f"--family={args.family!r} is not one of {', '.join(families)}")
    data = rows(args.family)
    if args.format == "json":
        json.dump(data, sys.stdout, indent=1)
        print()
    elif args.format == "csv":
        w = csv.DictWriter(sys.stdout, fieldnames=list(data[0]) if data else ["name"])
        w.writeheader()
        w.writerows(data)
    else:
        from ._table import format_table

        table = [(d["name"], d["family"], d["resolution"], f"{d['params'] / 1e6:.2f}", f"{d['gflops']:.2f}",
                  f"{d['acts'] / 1e6:.2f}") for d in data]
        print(format_table(("model", "family", "res", "params (M)", "GFLOPs", "acts (M)"), table,
                           right=(False, False, True, True, True, True)))
        print(f"\n{len(data)} models; {CONVENTION}")
    return 0
