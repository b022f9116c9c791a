"""`import designspace` (and its pure-Python parts) must not import torch."""
import subprocess
import sys

import pytest

CHECK = "import sys, {mod}; bad = [m for m in ('torch', 'pandas', 'optuna', 'plotly') if m in sys.modules]; print(','.join(bad))"


@pytest.mark.parametrize("mod", ["designspace", "designspace.spec", "designspace.zoo", "designspace.families",
                                 "designspace.kinds", "designspace.rules", "designspace.complexity",
                                 "designspace.search", "designspace.analysis"])
def test_import_leaves_heavy_packages_unimported(mod):
    out = subprocess.run([sys.executable, "-c", CHECK.format(mod=mod)], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "", f"import {mod} imported {out.stdout.strip()}"


def test_build_does_import_torch():
    # the check above can fail: building a model really imports torch
    code = ("import sys, designspace as d; from designspace.spec import *; "
            "d.build(NetSpec(StemSpec('simple', 8), (StageSpec('regnet', 1, 8),), resolution=32)); "
            "print('torch' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "True"
