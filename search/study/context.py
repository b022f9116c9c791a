"""What a worker loads once and every trial of a study reads (:class:`Context`: the spec, the
space, the data sets, the trainer), and the seam every trainer fits (:class:`Trainer`)."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Callable, Mapping, Protocol

if TYPE_CHECKING:  # pragma: no cover
    from designspace import NetSpec

    from .spec import StudySpec

__all__ = ["Context", "Trainer", "load_space"]


class Trainer(Protocol):
    def __call__(self, net: "NetSpec", ctx: "Context", on_epoch: Callable[[dict[str, float]], None],
                 seed: int) -> dict[str, Any]:
        """Train ``net``; call ``on_epoch({epoch, val_error, train_loss, images_per_s, seconds})``
        after every epoch (it may raise ``optuna.TrialPruned``); return ``{device, seconds, ...}``."""


@dataclass
class Context:
    """What a worker loads once and every trial reads: the spec, space, data set and trainer."""

    spec: "StudySpec"
    trainer: Trainer
    _space: Any = None
    _dataset: Any = None
    _rescaled: dict[int, Any] = field(default_factory=dict)  # data sets at other resolutions
    extra: dict[str, Any] = field(default_factory=dict)

    _workspace: Any = None
    #: schedule keys that replace the spec's for the trial being run (a fidelity retrain's epochs)
    schedule_override: dict[str, Any] = field(default_factory=dict)

    @property
    def schedule(self) -> dict[str, Any]:
        """The schedule of the trial being run: the spec's, with :attr:`schedule_override`."""
        return {**self.spec.schedule, **self.schedule_override}

    @property
    def space(self) -> Any:
        if self._space is None:
            self._space = load_space(self.spec.space, self.resolution, self.num_classes, self.spec.space_options,
                                     self.in_chans)
        return self._space

    @property
    def workspace(self) -> Any:
        """The worker's :class:`designspace.search.train.Workspace`: its data stay on the device
        between trials."""
        if self._workspace is None:
            from designspace.search.train import Workspace

            self._workspace = Workspace(self.extra.get("device"))
        return self._workspace

    @property
    def dataset(self) -> Any:
        """The study's data set at its resolution (the base resolution of a scaling space)."""
        if self._dataset is None:
            self._dataset = self._load_dataset(self.spec.dataset.get("resolution"))
        return self._dataset

    def dataset_at(self, resolution: int) -> Any:
        """The data set at ``resolution``: the study's own, or (for a space that scales the
        resolution, e.g. ``efficientnet_scaling``) the same data loaded at the network's size,
        loaded once per resolution and kept for the worker's later trials."""
        if resolution == self.resolution:
            return self.dataset
        if resolution not in self._rescaled:
            self._rescaled[resolution] = self._load_dataset(resolution)
        return self._rescaled[resolution]

    def _load_dataset(self, resolution: int | None) -> Any:
        from designspace.search import data

        opts = dict(self.spec.dataset)
        opts.pop("resolution", None)
        return data.load(opts.pop("name"), opts.pop("root", None), resolution=resolution, **opts)

    @property
    def num_classes(self) -> int:
        return int(self.extra.get("num_classes") or self.dataset.num_classes)

    @property
    def resolution(self) -> int:
        return int(self.extra.get("resolution") or self.dataset.resolution)

    @property
    def in_chans(self) -> int:
        return int(self.extra.get("in_chans") or self.dataset.channels)


def load_space(name: str, resolution: int, num_classes: int, options: Mapping[str, Any] | None = None,
               in_chans: int = 3) -> Any:
    """A built-in design space by name, or a custom space file (``.toml``), at the data's shape,
    with the study's ``space_options``."""
    from designspace.spaces import get_space

    space = get_space(name, resolution=resolution, num_classes=num_classes, in_chans=in_chans)
    return space.with_options(options) if options else space
