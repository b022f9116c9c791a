"""Independent oracles the tests compare against (fvcore for complexity, timm for architectures)."""
from __future__ import annotations

import warnings

FVCORE_FLOP_OPS = ("aten::_convolution", "aten::addmm", "aten::bmm", "aten::einsum", "aten::matmul", "aten::mm", "aten::linear")


def fvcore_count(model, resolution: int, in_chans: int = 3) -> tuple[int, int, int]:
    """(flops, params, acts) of a built module by fvcore: conv/linear/matmul multiply-adds only,
    every parameter, activations of conv and linear layers."""
    import torch
    from fvcore.nn import ActivationCountAnalysis, FlopCountAnalysis

    model = model.eval()
    x = torch.zeros(1, in_chans, resolution, resolution)
    with warnings.catch_warnings(), torch.no_grad():
        warnings.simplefilter("ignore")
        f = FlopCountAnalysis(model, x).unsupported_ops_warnings(False).uncalled_modules_warnings(False)
        # keep only the conv/linear/matmul handles (set_op_handle(k=None) would merely ignore them)
        keep = {k: v for k, v in f._op_handles.items() if k in FVCORE_FLOP_OPS}
        f.clear_op_handles().set_op_handle(**keep)
        a = ActivationCountAnalysis(model, x).unsupported_ops_warnings(False).uncalled_modules_warnings(False)
        flops, acts = f.total(), a.total()
    params = sum(p.numel() for p in model.parameters())
    return int(flops), int(params), int(acts)


def timm_model(name: str, **kw):
    import timm

    return timm.create_model(name, pretrained=False, **kw)
