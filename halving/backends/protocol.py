"""The seam between the engine and a backend: typed values both sides share.

A backend executes: it trains a trial from its current epoch up to a granted epoch and
answers with events, never strings. ``submit`` says where a trial's state came from
(``Start``); ``wait`` returns ``Segment``s (what trials reported) and ``Restarted``s
(trials the backend had to start again on its own, e.g. after a worker died).
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from typing import Protocol, Sequence, Union

__all__ = ["Backend", "Event", "Restarted", "Segment", "Start"]


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


@dataclass(frozen=True, slots=True)
class Restarted:
    """The backend started a trial again on its own from epoch ``epoch``."""

    trial: int
    epoch: int
    how: Start
    why: str


Event = Union[Segment, Restarted]


class Backend(Protocol):
    """Where trials execute. ``workers`` trials at most train at once."""

    def free_slots(self) -> int:
        """Assignments the backend can take now."""

    def running(self) -> int:
        """Trials submitted and not yet released."""

    def submit(self, trial: int, config: dict, start: int, until: int, rung: int) -> Start:
        """Train ``trial`` from epoch ``start`` up to ``until``."""

    def extend(self, trial: int, until: int, rung: int) -> None:
        """Keep the trial on its worker and train on up to ``until``."""

    def release(self, trial: int, keep: bool) -> None:
        """The trial leaves its worker; ``keep``: hold its state for a promotion or the best model."""

    def wait(self) -> list[Event]:
        """Block until at least one assignment returns (or a trial had to be restarted)."""

    def now(self) -> float:
        """The backend's clock: wall time for Ray, virtual time for the simulator."""
