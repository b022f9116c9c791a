"""designspace and the ecosystem, both ways.

* :mod:`.timm`: timm checkpoints into our modules (:func:`timm_to_designspace`, any spec of a
  family timm has) and our specs out to timm (:func:`to_timm`: a model name and keyword
  arguments for ``timm.create_model``);
* :mod:`.pycls`: pycls YAML configs (``configs/dds_baselines`` format) read into specs and
  written from them (:func:`read_pycls`, :func:`write_pycls`).
"""
from .pycls import read_pycls, write_pycls
from .timm import TIMM_KEY_RULES, family_of, map_key, timm_to_designspace, to_timm

__all__ = ["timm_to_designspace", "to_timm", "family_of", "map_key", "TIMM_KEY_RULES", "read_pycls", "write_pycls"]
