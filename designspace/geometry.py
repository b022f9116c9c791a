"""Input geometries: where a network downsamples, for the image size it is trained at.

Every family here is defined for ImageNet (224 px): a stem that downsamples by 2 or 4 and stages
that bring the total stride to 32, so the last stage sees 7x7.  Trained on 32-px images the same
networks end on a 1x1 map.  pycls and the NDS paper (Radosavovic et al., ICCV 2019) train their
CIFAR networks with a 3x3 stride-1 stem (pycls ``res_stem_cifar``) instead; the RegNet paper's
CIFAR appendix does the same with the first stage at stride 1.

* ``imagenet`` (the default): the family's own stem and strides.
* ``cifar``: the stem becomes one 3x3 stride-1 conv-norm-act of the same width (kind ``cifar``)
  and, for a stem that downsampled by 2, the first stage that downsamples runs at stride 1
  instead.  Every family then has a total stride of 8: at 32 px the last stage sees 4x4
  (AnyNet/RegNet 32/32/16/8/4, ResNet 32/32/16/8/4, EfficientNet .../4).  A spec whose stem
  already has stride 1 is left as it is, so applying the geometry twice changes nothing.

Pure functions on :class:`~designspace.spec.NetSpec`; no torch.
"""
from __future__ import annotations

import dataclasses

from .spec import NetSpec, SpecError, StemSpec

__all__ = ["GEOMETRIES", "apply_geometry", "check_geometry", "cifar_strides"]

#: the input geometries, default first
GEOMETRIES = ("imagenet", "cifar")


def check_geometry(value: object, path: str = "geometry") -> str:
    """``value`` if it names a geometry, else :class:`SpecError` naming ``path``."""
    if value not in GEOMETRIES:
        raise SpecError(path, value, f"is not one of {', '.join(GEOMETRIES)}")
    return str(value)


def cifar_strides(stem_stride: int, strides: tuple[int, ...]) -> tuple[int, ...]:
    """The stage strides of the ``cifar`` geometry for a stem that downsampled by ``stem_stride``
    (which the stride-1 stem gives up): a stride-4 stem (ResNet's conv + pool, TResNet's
    space-to-depth) gives up all the downsampling that is removed; a stride-2 stem also takes it
    from the first stage that downsamples."""
    remove = 4 // stem_stride if stem_stride > 1 else 1
    out = []
    for s in strides:
        if remove > 1 and s > 1:
            remove //= s
            s = 1
        out.append(s)
    return tuple(out)


def apply_geometry(spec: NetSpec, geometry: str = "imagenet") -> NetSpec:
    """``spec`` with the stem and strides of ``geometry`` (see the module docstring)."""
    check_geometry(geometry)
    if geometry == "imagenet" or spec.stem.stride == 1:
        return spec
    strides = cifar_strides(spec.stem.stride, tuple(st.stride for st in spec.stages))
    stages = tuple(st if st.stride == s else dataclasses.replace(st, stride=s) for st, s in zip(spec.stages, strides))
    return spec.replace(stem=StemSpec(kind="cifar", width=spec.stem.width), stages=stages)
