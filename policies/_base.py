"""The contract between the engine and a policy.

The engine owns execution; a policy owns decisions. The engine tells a policy
what happened (``report``, ``remove``) and asks it what to do when a worker is
free (``next``). A policy answers with values (``Assignment``, ``Decision``,
``WAIT``, ``DONE``) and never calls back into the engine: every decision is
carried out in exactly one place, the engine loop.

Direction is handled once, here: policies keep metric values in the user's
units (so a decision's reason shows the real cutoff) and rank them through
``Direction.score``, which maps every value to "higher is better".
"""

from __future__ import annotations

import enum
import math
from dataclasses import dataclass
from typing import NamedTuple, Sequence

__all__ = [
    "Action",
    "Assignment",
    "Decision",
    "Direction",
    "DONE",
    "Policy",
    "Reason",
    "Report",
    "WAIT",
    "rung_levels",
]


class Action(enum.Enum):
    """What happens to a trial after a decision point.

    ``CONTINUE``: keep training, up to ``Decision.until``, on the same worker.
    ``PAUSE``: stop training for now; the trial keeps its state and may be
    promoted (resumed) later by ``Policy.next``.
    ``STOP``: never train this trial again.
    ``COMPLETE``: the trial reached ``max_epochs``; it is a candidate for best.
    """

    CONTINUE = "continue"
    PAUSE = "pause"
    STOP = "stop"
    COMPLETE = "complete"


class Reason(NamedTuple):
    """Why a decision was taken, as data.

    ``rule`` names the rule that fired (e.g. ``"top-k"``, ``"rung-cutoff"``,
    ``"median"``, ``"slack"``, ``"truncation"``, ``"max-epochs"``,
    ``"waiting-for-rung"``, ``"not-promoted"``). ``rung`` is the rung index
    (``None`` for interval-based rules), ``cutoff`` the threshold value in the
    user's metric units, ``compared`` how many trials the value was compared
    with, ``rank`` the trial's 1-based rank among them (1 = best).
    ``predicted`` is a value the trial is predicted to reach at ``max_epochs``
    (user's units) and ``uncertainty`` its standard error, for rules that
    extrapolate learning curves (``asha-curve``); logs written before these
    two fields existed read back with them ``None``.

    Reasons, decisions and assignments are immutable named tuples: values,
    cheap to make on the hot path of a million-trial simulation.
    """

    rule: str
    rung: int | None = None
    cutoff: float | None = None
    compared: int | None = None
    rank: int | None = None
    bracket: int | None = None
    detail: str = ""
    predicted: float | None = None
    uncertainty: float | None = None

    def as_dict(self) -> dict:
        return self._asdict()

    def __str__(self) -> str:
        parts = [self.rule]
        if self.bracket is not None:
            parts.append(f"bracket {self.bracket}")
        if self.rung is not None:
            parts.append(f"rung {self.rung}")
        if self.rank is not None and self.compared is not None:
            parts.append(f"rank {self.rank}/{self.compared}")
        elif self.compared is not None:
            parts.append(f"{self.compared} compared")
        if self.cutoff is not None:
            parts.append(f"cutoff {self.cutoff:.6g}")
        if self.predicted is not None:
            spread = "" if self.uncertainty is None else f" ± {self.uncertainty:.3g}"
            parts.append(f"predicted {self.predicted:.6g}{spread} at R")
        if self.detail:
            parts.append(self.detail)
        return ", ".join(parts)


class Decision(NamedTuple):
    """A decision about ``trial`` taken when it reported ``epoch``."""

    trial: int
    epoch: int
    action: Action
    reason: Reason
    until: int | None = None  # for CONTINUE: train up to this epoch (inclusive)


class Assignment(NamedTuple):
    """Train ``trial`` up to epoch ``until`` (inclusive).

    ``new`` is True when the trial has never run: the engine samples its
    configuration. Otherwise it is a promotion of a paused trial, which trains
    only the epochs it has not trained yet.
    """

    trial: int
    until: int
    new: bool
    reason: Reason | None = None


class Report(NamedTuple):
    """One epoch's primary metric of one trial."""

    trial: int
    epoch: int
    value: float


class _Signal(enum.Enum):
    WAIT = "wait"
    DONE = "done"

    def __repr__(self) -> str:
        return self.value.upper()


#: No work can be handed out now, but running trials may create some.
WAIT = _Signal.WAIT
#: No work is left: the experiment is over once running trials report.
DONE = _Signal.DONE


@dataclass(frozen=True, slots=True)
class Direction:
    """Metric direction, chosen once per experiment."""

    mode: str = "max"

    def __post_init__(self) -> None:
        if self.mode not in ("min", "max"):
            raise ValueError(f"mode must be 'min' or 'max', but got mode={self.mode!r}")

    @property
    def sign(self) -> float:
        return 1.0 if self.mode == "max" else -1.0

    def score(self, value: float) -> float:
        """Map ``value`` to a score where higher is better."""
        return value if self.mode == "max" else -value

    def better(self, a: float, b: float) -> bool:
        """True if ``a`` is strictly better than ``b``."""
        return a > b if self.mode == "max" else a < b

    @property
    def worst(self) -> float:
        return -math.inf if self.mode == "max" else math.inf


def rung_levels(min_epochs: int, max_epochs: int, eta: int) -> list[int]:
    """Epoch milestones ``min_epochs * eta**k`` below ``max_epochs``, then ``max_epochs``.

    >>> rung_levels(1, 27, 3)
    [1, 3, 9, 27]
    >>> rung_levels(1, 10, 3)
    [1, 3, 9, 10]
    """
    levels = []
    r = min_epochs
    while r < max_epochs:
        levels.append(r)
        r *= eta
    levels.append(max_epochs)
    return levels


def check_int(name: str, value: object, *, low: int | None = None) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(f"{name} must be an int, but got {name}={value!r}")
    if low is not None and value < low:
        raise ValueError(f"{name} must be >= {low}, but got {name}={value!r}")
    return value


def check_interval(evaluation_interval: object, delay_evaluation: object, grace: object = 0) -> None:
    check_int("evaluation_interval", evaluation_interval, low=1)
    check_int("delay_evaluation", delay_evaluation, low=0)
    check_int("grace", grace, low=0)


class Policy:
    """Base class of all policies.

    Lifecycle: the engine calls ``start(n_trials=, max_epochs=, mode=)`` once,
    then alternates ``next()`` (when a worker is free) and ``report()`` (for
    every epoch a trial trains, in epoch order). ``remove()`` tells the policy a
    trial left for a reason of the engine's (failure, non-finite metric,
    budget). ``finish()`` is called once at the end and returns the final
    decisions for trials still paused.

    A policy must be deterministic given its constructor arguments, its seed
    and this sequence of calls: no clocks, no global random state.
    """

    name: str = "policy"
    #: True when the policy decides at every epoch (or interval), so the engine
    #: cannot batch many epochs in one round trip. Informational.
    per_epoch: bool = False
    #: False when only the report at a trial's decision point (the epoch its
    #: grant ends at) can change anything: the engine then leaves out the calls
    #: for the epochs before it. Rung policies decide at rungs alone.
    reads_every_epoch: bool = True

    def __init__(self) -> None:
        self._started = False
        self.n_trials = 0
        self.max_epochs = 0
        self.direction = Direction("max")

    # --- lifecycle -------------------------------------------------------
    def start(self, *, n_trials: int, max_epochs: int, mode: str = "max") -> None:
        if self._started:
            raise RuntimeError(f"{type(self).__name__} was already started; create a new policy per experiment")
        check_int("n_trials", n_trials, low=1)
        check_int("max_epochs", max_epochs, low=1)
        self.n_trials = n_trials
        self.max_epochs = max_epochs
        self.direction = Direction(mode)
        self._setup()
        self._started = True  # only once set up: a start that raised can be retried

    def _setup(self) -> None:  # pragma: no cover - overridden
        pass

    def next(self) -> Assignment | _Signal:
        raise NotImplementedError

    def report(self, trial: int, epoch: int, value: float) -> Sequence[Decision]:
        """Record ``value`` of ``trial`` after ``epoch``.

        Returns ``()`` when ``epoch`` is not the trial's decision point (keep
        training up to the granted epoch). At the decision point, returns the
        reporting trial's decision first, followed by any decisions about other
        (paused) trials that this report settled.
        """
        raise NotImplementedError

    def remove(self, trial: int, epoch: int) -> Sequence[Decision]:
        """The trial left (failed, non-finite metric, budget); decisions it settles."""
        return ()

    def finish(self) -> Sequence[Decision]:
        """Final decisions for trials left paused when the experiment ends."""
        return ()

    def params(self) -> dict:
        """Constructor parameters, for logs and for rebuilding the policy."""
        return {}

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in self.params().items())
        return f"{type(self).__name__}({args})"


_EMPTY: tuple = ()
