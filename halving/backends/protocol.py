"""The seam between the engine and a backend: typed values both sides share.

A backend executes: it trains a trial from its current epoch up to a granted epoch and
answers with events, never strings. It starts the work it is handed when the engine next
calls ``wait`` (the engine logs first). ``submit`` says where a trial's state came from
(``Start``) and what it needs (``Request``: the resources of the rung it trains toward);
``wait`` returns ``Segment``s (what trials reported), ``Restarted``s (trials the backend
had to start again on its own, e.g. after a worker died) and ``Moved``s (state the backend
moved on its own: to a bigger worker, or off a GPU while paused).
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from typing import Protocol, Sequence, Union

__all__ = ["Backend", "Event", "Moved", "Request", "Restarted", "Segment", "Start"]


class Start(enum.Enum):
    """Where a submitted trial's state came from."""

    NEW = "new"  # a trial's first epoch: nothing to restore
    WARM = "warm"  # in memory, on the worker that trained it (or queued to it)
    MOVED = "moved"  # in memory, carried to another worker
    SPILLED = "spilled"  # from the checkpoint this run spilled to disk to bound memory
    CHECKPOINT = "checkpoint"  # its state was lost; restored from its last checkpoint on disk
    SCRATCH = "scratch"  # its state was lost and no checkpoint exists: retrained silently

    @property
    def restarted(self) -> bool:
        """The trial's state was lost: the log must say how it started again."""
        return self is Start.CHECKPOINT or self is Start.SCRATCH


@dataclass(frozen=True, slots=True)
class Request:
    """What a trial asks of the worker that trains it, for one rung: CPUs, GPUs (a fraction
    shares one GPU) and custom Ray resources (``custom``: sorted ``(name, amount)`` pairs).

    ``cpus=None`` is the default: one CPU, or an even share of the cluster's CPUs when more
    workers than CPUs are asked for. The spec makes one per rung; the simulated backend
    ignores it; the Ray backend places the trial on a worker holding at least this much.
    """

    cpus: float | None = None
    gpus: float = 0.0
    custom: tuple[tuple[str, float], ...] = ()

    def amounts(self, cpus: float = 1.0) -> dict[str, float]:
        """Every amount by Ray's resource name (``CPU``, ``GPU``, custom names); ``cpus``
        stands for ``cpus=None``. Zero amounts are left out."""
        out = {"CPU": cpus if self.cpus is None else float(self.cpus), "GPU": float(self.gpus), **dict(self.custom)}
        return {k: v for k, v in out.items() if v > 0}

    def describe(self) -> str:
        parts = [f"{self.cpus:g} CPU" if self.cpus is not None else "1 CPU (default)"]
        if self.gpus:
            parts.append(f"{self.gpus:g} GPU")
        parts += [f"{v:g} {k}" for k, v in self.custom]
        return ", ".join(parts)


@dataclass(slots=True)
class Segment:
    """What one trial reported in one round trip: epochs ``start+1 .. start+len(values)``.

    ``error`` is set when the trainable raised (or its worker died) after the
    reported epochs; ``finished`` when the trainable returned before its grant;
    ``missing`` when a report lacked the metric (a message naming what it had).
    """

    trial: int
    start: int
    values: Sequence[float]
    times: Sequence[float]
    extra: list[dict] | None = None
    worker: int = -1
    error: str | None = None
    traceback: str | None = None
    finished: bool = False
    missing: str | None = None
    cut_short: bool = False  # replay: the recorded curve ends before the grant
    timed_out: bool = False  # the trial passed its trial_timeout and was ended
    checkpointed: bool = False  # the trial can be saved (so moved or spilled) from now on
    seconds: float = 0.0  # wall seconds the worker spent on it (setup and restore included)


@dataclass(frozen=True, slots=True)
class Restarted:
    """The backend started a trial again on its own from epoch ``epoch``."""

    trial: int
    epoch: int
    how: Start
    why: str


@dataclass(frozen=True, slots=True)
class Moved:
    """The backend moved a trial's state on its own, to honour its request or to free a
    device: ``what`` is ``"worker"`` (to a worker holding more resources) or ``"offload"``
    (a paused trial's state left a GPU worker's device), ``"kept"`` (it could not leave) or
    ``"spill"`` (its idle worker was ended to make room for another shape: state to disk);
    ``detail`` is JSON-ready (from/to worker shapes, the hook used, ...)."""

    trial: int
    epoch: int
    what: str
    why: str
    detail: dict


Event = Union[Segment, Restarted, Moved]


class Backend(Protocol):
    """Where trials execute. ``workers`` trials at most train at once."""

    def free_slots(self) -> int:
        """Assignments the backend can take now."""

    def running(self) -> int:
        """Trials submitted and not yet released."""

    def submit(self, trial: int, config: dict, start: int, until: int, need: Request) -> Start:
        """Train ``trial`` from epoch ``start`` up to ``until`` on a worker holding ``need``."""

    def extend(self, trial: int, until: int, need: Request) -> None:
        """Train on up to ``until``, on its worker if that holds ``need``, else on one that does."""

    def release(self, trial: int, keep: bool) -> None:
        """The trial leaves its worker; ``keep``: hold its state for a promotion or the best model."""

    def wait(self) -> list[Event]:
        """Start the work handed over since the last call (the engine logged it just before),
        then block until at least one assignment returns (or a trial had to be restarted).
        Work is sent to workers only here."""

    def now(self) -> float:
        """The backend's clock: wall time for Ray, virtual time for the simulator."""
