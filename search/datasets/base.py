"""What every data set is: :class:`Dataset` (uint8 images and labels, train and validation),
its errors, where data sets live, and the resizing every format shares."""
from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

from designspace.errors import InputError

from ..augment import Augment

__all__ = ["Dataset", "FileImages", "DatasetError", "UnknownDataset", "default_root", "data_roots", "md5sum", "resize_uint8"]


class DatasetError(RuntimeError):
    """A dataset is missing, corrupt or unreadable; the message says where we looked and what to do."""


class UnknownDataset(DatasetError, InputError):
    """The name (or an option) of a data set is wrong: a bad input, exit status 2 at the command line."""


@dataclass(frozen=True)
class FileImages(torch.utils.data.Dataset):
    """Image files decoded lazily (in DataLoader workers) to uint8 ``(C, H, W)`` at ``resolution``."""

    paths: tuple[str, ...]
    labels: tuple[int, ...]
    resolution: int

    def __len__(self) -> int:
        return len(self.paths)

    def __getitem__(self, i: int) -> tuple[torch.Tensor, int]:
        return _read_image(self.paths[i], self.resolution), self.labels[i]


@dataclass(frozen=True)
class Dataset:
    """Train and validation images (uint8 tensors, or :class:`FileImages` to stream) and labels."""

    name: str
    train_images: torch.Tensor | FileImages
    train_labels: torch.Tensor
    val_images: torch.Tensor | FileImages
    val_labels: torch.Tensor
    num_classes: int
    mean: tuple[float, ...]
    std: tuple[float, ...]
    augment: Augment = field(default_factory=Augment)
    classes: tuple[str, ...] = ()
    #: what the validation part is: ``val`` (held out of the training set) or ``test`` (the
    #: official test set, for a final report)
    split: str = "val"

    @property
    def channels(self) -> int:
        """Image channels (1 for grey data sets, 3 for RGB): the networks' ``in_chans``."""
        x = self.train_images
        return 3 if isinstance(x, FileImages) else int(x.shape[1])

    @property
    def resolution(self) -> int:
        x = self.train_images
        return x.resolution if isinstance(x, FileImages) else int(x.shape[-1])

    @property
    def in_memory(self) -> bool:
        return isinstance(self.train_images, torch.Tensor) and isinstance(self.val_images, torch.Tensor)

    @property
    def nbytes(self) -> int:
        """Bytes of the uint8 images (0 when streamed from files)."""
        if not self.in_memory:
            return 0
        return int(self.train_images.numel() + self.val_images.numel())  # type: ignore[union-attr]

    def __repr__(self) -> str:
        kind = "in memory" if self.in_memory else "streamed from files"
        return (f"Dataset({self.name!r}, train={len(self.train_labels)}, val={len(self.val_labels)}, "
                f"classes={self.num_classes}, resolution={self.resolution}, {kind})")


def default_root() -> Path:
    """``$DESIGNSPACE_DATA``, else ``$XDG_CACHE_HOME/designspace/data`` (``~/.cache/...``)."""
    env = os.environ.get("DESIGNSPACE_DATA")
    if env:
        return Path(env).expanduser()
    cache = os.environ.get("XDG_CACHE_HOME") or os.path.join(Path.home(), ".cache")
    return Path(cache) / "designspace" / "data"


def data_roots(root: str | os.PathLike | None) -> list[Path]:
    """Where data sets are looked for, in order: ``root`` (``--data-root``), ``$DESIGNSPACE_DATA``,
    then (after a data set's system folder, e.g. Debian's) the cache folder downloads go to."""
    out: list[Path] = []
    if root is not None:
        out.append(Path(root).expanduser())
    env = os.environ.get("DESIGNSPACE_DATA")
    if env:
        out.append(Path(env).expanduser())
    return out


def _no_options(name: str, options: dict[str, Any]) -> None:
    if options:
        raise UnknownDataset(f"{name} takes no options, got {', '.join(sorted(options))}")


def md5sum(path: Path, chunk: int = 1 << 20) -> str:
    h = hashlib.md5()
    with open(path, "rb") as f:
        while block := f.read(chunk):
            h.update(block)
    return h.hexdigest()


def resize_uint8(x: torch.Tensor, resolution: int, chunk: int = 4096) -> torch.Tensor:
    """Bilinear (antialiased when shrinking) resize of uint8 ``(N, C, H, W)`` images, in chunks."""
    out = []
    for i in range(0, len(x), chunk):
        xi = x[i:i + chunk].float()
        xi = F.interpolate(xi, size=(resolution, resolution), mode="bilinear", align_corners=False,
                           antialias=resolution < x.shape[-1])
        out.append(xi.round().clamp(0, 255).to(torch.uint8))
    return torch.cat(out) if out else x.new_empty((0, x.shape[1], resolution, resolution))


def _resized(ds: Dataset, resolution: int) -> Dataset:
    from dataclasses import replace

    scale = resolution / ds.resolution
    aug = Augment(max(0, round(ds.augment.pad * scale)), ds.augment.flip)
    return replace(ds, train_images=resize_uint8(ds.train_images, resolution),  # type: ignore[arg-type]
                   val_images=resize_uint8(ds.val_images, resolution), augment=aug)  # type: ignore[arg-type]


def _read_image(path: str, resolution: int) -> torch.Tensor:
    """Decode an image file to uint8 ``(3, resolution, resolution)`` (RGB, bilinear resize)."""
    from PIL import Image

    with Image.open(path) as im:
        im = im.convert("RGB").resize((resolution, resolution), Image.BILINEAR)
        a = np.asarray(im, dtype=np.uint8)
    return torch.from_numpy(a.copy()).permute(2, 0, 1).contiguous()
