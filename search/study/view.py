"""The study as slots: which trials count toward ``n_trials``, read incrementally.

Counting.  Every trial that is not a surplus or an out-of-regime draw holds a *slot*, keyed by
its number; a retry of a killed or abandoned trial (``RetryHeartbeatStaleTrialCallback``'s
``failed_trial``) holds the slot of the trial it retries.  Before training, a trial (a retry
too) is *admitted* only if fewer than ``n_trials`` slots have smaller keys; otherwise it is marked
surplus and closed (a retry found surplus drops its original's key: that one was killed before
its own check).  Slots never disappear and trial numbers grow with creation, so the last admitted trial
saw every admitted one before it: at most ``n_trials`` are admitted, however many workers race.
A worker stops when ``n_trials`` slots exist and each one's latest trial is finished; while
another worker's trial runs it waits, so a killed worker's trial is failed (heartbeat
silent for ``grace_period``) and retried before the study ends.

Scale.  :class:`TrialView` reads the study incrementally: a finished trial is looked at once, so
the per-trial cost of the slot checks stays flat as a study grows to 10,000 trials and more.
"""
from __future__ import annotations

import bisect
from dataclasses import dataclass
from typing import TYPE_CHECKING, Iterable

from .objective import REJECTED_ATTR
from .storage import rdb_backend, read_trials_since, storage_of, trial_id

if TYPE_CHECKING:  # pragma: no cover
    import optuna
    from optuna.trial import FrozenTrial

__all__ = ["SURPLUS_ATTR", "TrialView", "HeldIds", "slots"]


SURPLUS_ATTR = "designspace:surplus"


class TrialView:
    """The study's trials, read incrementally (see the module docstring, *Scale*).

    :meth:`refresh` reads only what may have changed: on an RDB storage the trials created
    since the last read and the ones still unfinished (one SQL query, filtered in the
    database); elsewhere (journal files) the storage's cached trial list.  A trial seen
    finished is absorbed once into the finished slot table (with a sorted key list and a spec
    id index), the held spec ids and the extras' holders, and never looked at again; only the
    (few) unfinished trials are re-examined.  :meth:`slots` equals :func:`slots` of all trials;
    :meth:`slot_count`, :meth:`count_before` and :meth:`twin` answer the worker's per-trial
    questions without copying it, so a trial's cost does not grow with the study."""

    def __init__(self, study: "optuna.Study"):
        self.study = study
        self.finished: dict[int, FrozenTrial] = {}
        self.finished_order: list[FrozenTrial] = []
        self.open: dict[int, FrozenTrial] = {}
        self.n = 0
        self._fin_slots: dict[int, FrozenTrial] = {}
        self._fin_keys: list[int] = []             # sorted keys of _fin_slots
        self._fin_dropped: set[int] = set()
        self._fin_ids: set[str] = set()
        self._fin_sid_keys: dict[str, list[int]] = {}  # spec id -> finished slot keys that held it
        self._fin_extras: dict[str, list[FrozenTrial]] = {}
        #: spec id -> values of a complete counted trial (what a repeated draw is told)
        self.values_of: dict[str, list[float]] = {}
        self._incremental = rdb_backend(storage_of(study)) is not None  # reads only what may have changed
        self._prefix = 0          # trial numbers 0 .. _prefix - 1 have all been read
        self._prefix_id = -1      # the largest trial id among them
        self._ids: dict[int, int] = {}  # number -> trial id, beyond the prefix

    def _read(self) -> "list[FrozenTrial]":
        # new trials and the unfinished ones; numbers follow trial ids, so reading above the
        # id of a gap-free prefix of numbers misses nothing (a trial committed late, below an
        # id already seen, is below no prefix id: it leaves a gap in the numbers until read)
        return read_trials_since(self.study, {trial_id(t) for t in self.open.values()}, self._prefix_id)

    def refresh(self) -> "TrialView":
        fin = self.finished
        open_: dict[int, FrozenTrial] = dict(self.open) if self._incremental else {}
        for t in self._read():
            if t.number in fin:
                continue
            self._ids[t.number] = trial_id(t)
            if t.state.is_finished():
                open_.pop(t.number, None)
                fin[t.number] = t
                self.finished_order.append(t)
                self._absorb(t)
            else:
                open_[t.number] = t
        self.open = open_
        while self._prefix in self._ids:
            self._prefix_id = max(self._prefix_id, self._ids.pop(self._prefix))
            self._prefix += 1
        self.n = len(fin) + len(open_)
        return self

    def _absorb(self, t: "FrozenTrial") -> None:
        from optuna.trial import TrialState

        sa, ua = t.system_attrs, t.user_attrs
        if ua.get("extra"):
            if not sa.get(SURPLUS_ATTR):
                self._fin_extras.setdefault(ua["extra"], []).append(t)
            return
        if sa.get(SURPLUS_ATTR) or sa.get(REJECTED_ATTR):
            if "failed_trial" in sa:
                self._fin_dropped.add(int(sa["failed_trial"]))
            return
        key = int(sa.get("failed_trial", t.number))
        old = self._fin_slots.get(key)
        if old is None:
            bisect.insort(self._fin_keys, key)
        if old is None or old.number < t.number:
            self._fin_slots[key] = t
        sid = ua.get("spec_id") or ua.get("draw_id")
        if sid:
            self._fin_ids.add(sid)
            self._fin_sid_keys.setdefault(sid, []).append(key)
            if t.state == TrialState.COMPLETE and t.values:
                self.values_of.setdefault(sid, list(t.values))

    def _open_slots(self) -> tuple[dict[int, "FrozenTrial"], set[int]]:
        """(slot key -> latest unfinished trial holding it, keys an unfinished trial drops)."""
        out: dict[int, FrozenTrial] = {}
        dropped: set[int] = set()
        for t in self.open.values():
            sa = t.system_attrs
            if t.user_attrs.get("extra"):
                continue
            if sa.get(SURPLUS_ATTR) or sa.get(REJECTED_ATTR):
                if "failed_trial" in sa:
                    dropped.add(int(sa["failed_trial"]))
                continue
            key = int(sa.get("failed_trial", t.number))
            old = out.get(key)
            if old is None or old.number < t.number:
                out[key] = t
        return out, dropped

    def slots(self) -> dict[int, "FrozenTrial"]:
        """Slot key -> the latest trial holding it (as :func:`slots`)."""
        out = dict(self._fin_slots)
        opened, dropped = self._open_slots()
        for key, t in opened.items():
            old = out.get(key)
            if old is None or old.number < t.number:
                out[key] = t
        dropped |= self._fin_dropped
        if not dropped:
            return out
        return {k: t for k, t in out.items() if k not in dropped}

    def count_before(self, key: float) -> int:
        """How many slots have keys smaller than ``key`` (``len(slots())`` for ``inf``)."""
        opened, dropped = self._open_slots()
        dropped |= self._fin_dropped
        n = len(self._fin_keys) if key == float("inf") else bisect.bisect_left(self._fin_keys, key)
        n += sum(1 for k in opened if k < key and k not in self._fin_slots)
        n -= sum(1 for k in dropped if k < key and (k in self._fin_slots or k in opened))
        return n

    def slot_count(self) -> int:
        return self.count_before(float("inf"))

    def finished_slots(self) -> int:
        """How many slots' latest trial has finished (what a progress bar shows)."""
        opened, dropped = self._open_slots()
        dropped |= self._fin_dropped
        fin = self._fin_slots
        n = len(fin) - sum(1 for k in dropped if k in fin)
        return n - sum(1 for k, t in opened.items() if k in fin and k not in dropped and t.number > fin[k].number)

    def twin(self, sid: str, key: int, number: int) -> "FrozenTrial | None":
        """Another slot than ``key`` whose latest trial (not trial ``number``) holds network ``sid``.

        Above ``key`` too: a trial whose draw was slow records its network after a later trial
        with the same one looked for twins below it, found none and went on to train it.  Each
        trial records its network before it looks, so of two trials with one network at least
        one sees the other: at most one trains it (rarely neither: both drop their slots)."""
        opened, dropped = self._open_slots()
        dropped |= self._fin_dropped
        keys = set(self._fin_sid_keys.get(sid, ()))
        keys.update(k for k, t in opened.items() if (t.user_attrs.get("spec_id") or t.user_attrs.get("draw_id")) == sid)
        for k in sorted(keys):
            if k == key or k in dropped:
                continue
            fin, op = self._fin_slots.get(k), opened.get(k)
            t = op if fin is None or (op is not None and op.number > fin.number) else fin
            if t.number != number and (t.user_attrs.get("spec_id") or t.user_attrs.get("draw_id")) == sid:
                return t
        return None

    @property
    def ids(self) -> "HeldIds":
        """Spec ids the study holds: trained, running or queued networks (surplus ones excluded)."""
        extra: set[str] = set()
        for t in self.open.values():
            ua, sa = t.user_attrs, t.system_attrs
            if ua.get("extra") or sa.get(SURPLUS_ATTR) or sa.get(REJECTED_ATTR):
                continue
            sid = ua.get("spec_id") or ua.get("draw_id")
            if sid and sid not in self._fin_ids:
                extra.add(sid)
        return HeldIds(self._fin_ids, extra)

    def waiting(self) -> bool:
        return bool(self.waiting_ids())

    def waiting_ids(self) -> list[int]:
        """Trial ids of the queued (WAITING) trials, by number: the ones a worker takes first."""
        from optuna.trial import TrialState

        return [trial_id(t) for _, t in sorted(self.open.items()) if t.state == TrialState.WAITING]

    def extra_holders(self, key: str) -> "list[FrozenTrial]":
        """The trials (finished or not, surplus excluded) that hold retrain ``key``, by number."""
        out = list(self._fin_extras.get(key, ()))
        out += [t for t in self.open.values() if t.user_attrs.get("extra") == key and not t.system_attrs.get(SURPLUS_ATTR)]
        return sorted(out, key=lambda t: t.number)

    def extra_done(self, key: str) -> bool:
        """Whether retrain ``key``'s latest trial finished (and no retry of it waits)."""
        hs = self.extra_holders(key)
        return bool(hs) and hs[-1].state.is_finished()


@dataclass(frozen=True)
class HeldIds:
    """The spec ids a study holds, as a read-only set view (no copy of the finished ones)."""
    finished: "set[str]"
    unfinished: "set[str]"

    def __contains__(self, sid: object) -> bool:
        return sid in self.finished or sid in self.unfinished

    def __len__(self) -> int:
        return len(self.finished) + len(self.unfinished)

    def __iter__(self):  # type: ignore[no-untyped-def]
        yield from self.finished
        yield from self.unfinished


def slots(trials: Iterable["FrozenTrial"]) -> dict[int, "FrozenTrial"]:
    """Slot key -> the latest trial holding it (see the module docstring)."""
    out: dict[int, FrozenTrial] = {}
    dropped: set[int] = set()  # keys whose retry turned out surplus or rejected: never admitted
    for t in sorted(trials, key=lambda t: t.number):
        sa = t.system_attrs
        if t.user_attrs.get("extra"):  # repeats and fidelity retrains hold no slot
            continue
        if sa.get(SURPLUS_ATTR) or sa.get(REJECTED_ATTR):
            if "failed_trial" in sa:
                dropped.add(int(sa["failed_trial"]))
            continue
        out[int(sa.get("failed_trial", t.number))] = t
    return {k: t for k, t in out.items() if k not in dropped}
