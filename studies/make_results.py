"""Regenerate the recorded results of the studies in this folder from their study storage.

    python studies/make_results.py            # every study below
    python studies/make_results.py fmnist_fidelity fmnist_a_vs_e fmnist_depth_width fmnist_effnet_lr fmnist_regnetx_trends fmnist_schedule fmnist_anynet_a_vs_e fmnist_regnetx \
        fmnist_resnet_scaling fmnist_efficientnet_scaling flops_vs_speed

For each study folder it writes, next to the TOML specs:
  <study>.csv   one row per trained model (from `designspace study export`; draws rejected
                without training are counted in results.md, not listed)
  results.md    the figures' numbers: sizes, verdicts on network means, intervals, best models, fits
  *.png         the key figure, rendered by headless Chromium from the plotly figure
Run the studies first (`designspace study run <spec> --workers 2`); re-running them resumes.
Each study's writer lives in studies/results/ (one module per kind of study).
"""
from __future__ import annotations

import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent


def studies() -> dict:
    from results.avse import fmnist_a_vs_e
    from results.depth_width import fmnist_depth_width
    from results.effnet import fmnist_efficientnet_scaling
    from results.effnet_lr import fmnist_effnet_lr
    from results.fidelity import fmnist_fidelity
    from results.regnetx_trends import fmnist_regnetx_trends
    from results.resnet import fmnist_resnet_scaling
    from results.schedule import fmnist_schedule
    from results.spaces import fmnist_anynet_a_vs_e, fmnist_regnetx
    from results.speed import flops_vs_speed

    return {"fmnist_fidelity": fmnist_fidelity, "fmnist_schedule": fmnist_schedule, "fmnist_anynet_a_vs_e": fmnist_anynet_a_vs_e,
            "fmnist_regnetx": fmnist_regnetx, "fmnist_resnet_scaling": fmnist_resnet_scaling,
            "fmnist_efficientnet_scaling": fmnist_efficientnet_scaling, "flops_vs_speed": flops_vs_speed,
            "fmnist_a_vs_e": fmnist_a_vs_e, "fmnist_depth_width": fmnist_depth_width,
            "fmnist_effnet_lr": fmnist_effnet_lr, "fmnist_regnetx_trends": fmnist_regnetx_trends}


if __name__ == "__main__":
    sys.path[:0] = [str(HERE), str(HERE.parent)]
    table = studies()
    for name in sys.argv[1:] or list(table):
        if name not in table:
            raise SystemExit(f"unknown study {name!r}: one of {', '.join(table)}")
        if name.startswith("fmnist") and not any((HERE / name).glob("*.db")):
            print(f"{name}: not run yet (no study database in studies/{name}); skipped", file=sys.stderr)
            continue
        table[name]()
