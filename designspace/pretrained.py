"""timm's ``pretrained_cfg`` (its ``default_cfg``): how the inputs of a model are prepared.

For every named model, the values of timm's default pretrained tag (timm 1.0.31's
``get_pretrained_cfg(name)``: mean, std, interpolation, crop, input and test sizes), so that
``timm.data.resolve_data_config(model=designspace.create(name))`` gives what it gives for timm's
model; ``first_conv`` and ``classifier`` name *our* modules (timm's names mapped through
:data:`designspace.interop.TIMM_KEY_RULES`), since timm's helpers look them up in the model.
Any other spec gets a plain one: ImageNet mean and std (0.5 per channel for other than 3
channels), bicubic, crop 0.875, its own resolution.  Pure Python: no torch.
"""
from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # pragma: no cover
    from .spec import NetSpec

__all__ = ["pretrained_cfg", "PRETRAINED_TAGS"]

IMAGENET_MEAN, IMAGENET_STD = (0.485, 0.456, 0.406), (0.229, 0.224, 0.225)
_NORMS = {"imagenet": (IMAGENET_MEAN, IMAGENET_STD), "half": ((0.5,) * 3, (0.5,) * 3), "none": ((0.0,) * 3, (1.0,) * 3)}

# name -> (tag, input size, test input size or 0, crop_pct, test crop_pct or None, crop_mode, norm, interpolation)
_RSB = ("a1_in1k", 224, 288, 0.95, 1.0, "center", "imagenet", "bicubic")
_RSBH = ("a1h_in1k",) + _RSB[1:]
_PYCLS = ("pycls_in1k", 224, 0, 0.875, None, "center", "imagenet", "bicubic")
_TV2 = ("tv2_in1k", 224, 0, 0.965, None, "center", "imagenet", "bicubic")
_RA3 = ("ra3_in1k", 224, 288, 0.95, 1.0, "center", "imagenet", "bicubic")
_SW = ("sw_in12k_ft_in1k", 224, 288, 0.95, 1.0, "center", "imagenet", "bicubic")
_MIIL = ("miil_in1k", 224, 0, 0.875, None, "center", "none", "bilinear")
PRETRAINED_TAGS: dict[str, tuple] = {
    "resnet18": _RSB, "resnet34": _RSB, "resnet50": _RSB, "resnet101": _RSBH, "resnet152": _RSBH,
    "resnet50d": ("ra2_in1k", 224, 288, 0.875, 0.95, "center", "imagenet", "bicubic"),
    "seresnet50": _RSB, "resnext50_32x4d": _RSBH,
    "resnet10t": ("c3_in1k", 176, 224, 0.875, 0.95, "center", "imagenet", "bicubic"),
    "resnet14t": ("c3_in1k", 176, 224, 0.875, 0.95, "center", "imagenet", "bicubic"),
    "resnet26t": ("ra2_in1k", 256, 320, 0.94, 1.0, "center", "imagenet", "bicubic"),
    "resnet50t": ("untrained", 224, 288, 0.875, 0.95, "center", "imagenet", "bicubic"),
    "resnetrs50": ("tf_in1k", 160, 224, 0.91, None, "center", "imagenet", "bicubic"),
    "resnetrs101": ("tf_in1k", 192, 288, 0.94, None, "center", "imagenet", "bicubic"),
    "resnetrs152": ("tf_in1k", 256, 320, 1.0, None, "center", "imagenet", "bicubic"),
    "resnetrs200": ("tf_in1k", 256, 320, 1.0, None, "center", "imagenet", "bicubic"),
    "resnetrs270": ("tf_in1k", 256, 352, 1.0, None, "center", "imagenet", "bicubic"),
    "resnetrs350": ("tf_in1k", 288, 384, 1.0, None, "center", "imagenet", "bicubic"),
    "resnetrs420": ("tf_in1k", 320, 416, 1.0, None, "center", "imagenet", "bicubic"),
    **{f"regnetx_{k}": _PYCLS for k in ("002", "004", "006", "040", "064", "120")},
    **{f"regnetx_{k}": _TV2 for k in ("008", "016", "032", "080", "160", "320")},
    **{f"regnety_{k}": _PYCLS for k in ("002", "006", "008")},
    **{f"regnety_{k}": _TV2 for k in ("004", "016", "320")},
    "regnety_032": ("ra_in1k",) + _RA3[1:],
    **{f"regnety_{k}": _RA3 for k in ("040", "064", "080")},
    "regnety_120": _SW, "regnety_160": _SW,
    "efficientnet_b0": ("ra_in1k", 224, 0, 0.875, None, "center", "imagenet", "bicubic"),
    "efficientnet_b1": ("ra4_e3600_r240_in1k", 240, 288, 0.9, 1.0, "center", "half", "bicubic"),
    "efficientnet_b2": ("ra_in1k", 256, 288, 0.875, 1.0, "center", "imagenet", "bicubic"),
    "efficientnet_b3": ("ra2_in1k", 288, 320, 0.875, 1.0, "center", "imagenet", "bicubic"),
    "efficientnet_b4": ("ra2_in1k", 320, 384, 0.875, 1.0, "center", "imagenet", "bicubic"),
    "efficientnet_b5": ("sw_in12k_ft_in1k", 448, 0, 1.0, None, "squash", "imagenet", "bicubic"),
    "efficientnet_b6": ("untrained", 528, 0, 0.942, None, "center", "imagenet", "bicubic"),
    "efficientnet_b7": ("untrained", 600, 0, 0.949, None, "center", "imagenet", "bicubic"),
    "tresnet_m": ("miil_in21k_ft_in1k",) + _MIIL[1:], "tresnet_l": _MIIL, "tresnet_xl": _MIIL,
}


def pretrained_cfg(spec: "NetSpec", name: str | None = None, first_conv: str = "stem.conv",
                   classifier: str = "head.fc") -> dict[str, Any]:
    """timm's ``pretrained_cfg`` dict for the named model ``name`` (its timm values, whatever
    the overrides, as timm keeps them) or, without a name, a plain one for ``spec``."""
    base = {"architecture": name or "designspace", "first_conv": first_conv, "classifier": classifier,
            "fixed_input_size": False}
    if name is not None and name in PRETRAINED_TAGS:
        tag, size, test, crop, test_crop, mode, norm, interp = PRETRAINED_TAGS[name]
        mean, std = _NORMS[norm]
        cfg = {**base, "tag": tag, "input_size": (3, size, size), "interpolation": interp, "crop_pct": crop,
               "crop_mode": mode, "mean": mean, "std": std, "num_classes": 1000, "pool_size": (-(-size // 32),) * 2}
        if test:
            cfg["test_input_size"] = (3, test, test)
        if test_crop is not None:
            cfg["test_crop_pct"] = test_crop
        return cfg
    c, r = spec.in_chans, spec.resolution
    mean, std = (IMAGENET_MEAN, IMAGENET_STD) if c == 3 else ((0.5,) * c, (0.5,) * c)
    return {**base, "tag": "", "input_size": (c, r, r), "interpolation": "bicubic", "crop_pct": 0.875,
            "crop_mode": "center", "mean": mean, "std": std, "num_classes": spec.num_classes,
            "pool_size": (max(1, r // spec.stride),) * 2}
