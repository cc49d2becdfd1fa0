"""A backend that trains nothing: a trial's values come from a learning-curve table
(trials are its rows) or from a function of the trial's config, asked lazily; time is
virtual (a heap of finish times, ties broken by submission order). It ignores what a
trial asks for (``Request``): every simulated worker can train any trial."""

from __future__ import annotations

import heapq
import inspect
import math
import numbers
from typing import Any, Callable

import numpy as np

from .. import checks
from ..errors import SpecError, SpecTypeError
from .protocol import Request, Segment, Start

__all__ = ["SimulatedBackend", "FunctionBackend", "Ramp", "CurveFunction"]

_POSITIONAL = (inspect.Parameter.POSITIONAL_ONLY, inspect.Parameter.POSITIONAL_OR_KEYWORD)
_FORMS = "curve_fn(config) returning max_epochs values, or curve_fn(config, epoch) returning one"


def takes_epoch(fn: Any) -> bool:
    """Whether ``fn`` is ``curve_fn(config, epoch)`` (True) or ``curve_fn(config)`` (False),
    from its signature; anything else, or a signature that could be either, is a TypeError."""
    if not callable(fn):
        raise SpecTypeError(f"curve_fn must be a function, {_FORMS}; but got {fn!r}")
    try:
        sig = inspect.signature(fn)
    except (TypeError, ValueError):
        raise SpecTypeError(f"cannot read the signature of curve_fn={fn!r}: wrap it in a function, "
                            f"{_FORMS}") from None
    params = list(sig.parameters.values())
    required = [p for p in params if p.kind in _POSITIONAL and p.default is p.empty]
    optional = [p for p in params if p.kind in _POSITIONAL and p.default is not p.empty]
    star = any(p.kind is inspect.Parameter.VAR_POSITIONAL for p in params)
    keyword = [p.name for p in params if p.kind is inspect.Parameter.KEYWORD_ONLY and p.default is p.empty]
    if not keyword and len(required) == 2:
        return True
    if not keyword and len(required) == 1 and not optional and not star:
        return False
    # One required argument and an optional second (or *args) could mean either form: it is
    # refused, not guessed, since a wrong guess reads a curve as one value or a value as a curve.
    if keyword:
        why = f"it has required keyword-only arguments {keyword}"
    elif len(required) <= 1 and (optional or star):
        why = "it could be called either way: make the form plain, e.g. lambda config, epoch: ..."
    else:
        why = f"it takes {len(required)} required positional arguments"
    raise SpecTypeError(f"curve_fn{sig} must be {_FORMS}; {why}")


class CurveFunction:
    """A user's ``curve_fn`` asked for a trial's values from its config, only for the
    epochs the trial trains: a stopped trial's later epochs are never asked for.

    ``curve_fn(config, epoch)`` (``epoch`` from 1 to ``max_epochs``) returns the metric
    after that epoch; ``curve_fn(config)`` returns the whole curve, ``max_epochs``
    values, asked once per trial and held until the trial leaves for good. A value may
    be NaN or infinite: the engine ends the trial there, as it does on real workers.
    Called as ``(trial, epoch)``, the form ``SimulatedBackend`` reads, once the
    backend has told it the trial's config (``remember``).
    """

    def __init__(self, fn: Callable[..., Any], max_epochs: int) -> None:
        self.per_epoch = takes_epoch(fn)
        self.fn = fn
        self.max_epochs = max_epochs
        self.calls = 0  # calls of curve_fn: what early stopping saved is visible in stats()
        self._configs: dict[int, dict] = {}  # trial -> its config, while it may train
        self._held: dict[int, list[float]] = {}  # trial -> its whole curve (curve_fn(config) only)

    def remember(self, trial: int, config: dict) -> None:
        self._configs[trial] = config

    def forget(self, trial: int) -> None:
        self._configs.pop(trial, None)
        self._held.pop(trial, None)

    def __call__(self, trial: int, epoch: int) -> float:
        """The metric after epoch ``epoch`` of ``trial``."""
        config = self._configs[trial]
        if self.per_epoch:
            self.calls += 1
            return _one(self.fn(config, epoch), config, epoch)
        curve = self._held.get(trial)
        if curve is None:
            self.calls += 1
            curve = self._held[trial] = _whole(self.fn(config), config, self.max_epochs)
        return curve[epoch - 1]


def _one(value: Any, config: dict, epoch: int) -> float:
    if type(value) is float:  # the common case, checked first
        return value
    if isinstance(value, numbers.Real) and not isinstance(value, (bool, np.bool_)):
        return float(value)
    if isinstance(value, np.ndarray) and value.shape == () and value.dtype.kind in "fiu":
        return float(value)
    raise SpecTypeError(f"curve_fn(config, epoch) must return a number, but for config={config!r} at epoch "
                        f"{epoch} it returned {value!r}")


def _whole(value: Any, config: dict, max_epochs: int) -> list[float]:
    try:
        curve = np.asarray(value, dtype=np.float64)
    except (TypeError, ValueError):
        raise SpecTypeError(f"curve_fn(config) must return a sequence of {max_epochs} numbers, but for "
                            f"config={config!r} it returned {_short(value)}") from None
    if curve.shape != (max_epochs,):
        what = f"{curve.shape[0]} values" if curve.ndim == 1 else f"{_short(value)} (shape {curve.shape})"
        raise SpecError(f"curve_fn(config) must return max_epochs={max_epochs} values, one per epoch, but for "
                        f"config={config!r} it returned {what}")
    return curve.tolist()


def _cost(value: Any, config: dict) -> float:
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or not value > 0 or value == math.inf:
        raise SpecError(f"epoch_seconds(config) must return a positive number of seconds, but for config={config!r} "
                        f"it returned {value!r}")
    return float(value)


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 120 else text[:117] + "..."


class Ramp:
    """Evenly spaced finish times of a segment's epochs, made only when read."""

    __slots__ = ("began", "step", "n")

    def __init__(self, began: float, step: float, n: int) -> None:
        self.began, self.step, self.n = began, step, n

    def __len__(self) -> int:
        return self.n

    def __getitem__(self, i: int | slice) -> "float | Ramp":
        if isinstance(i, slice):
            lo, hi, _ = i.indices(self.n)
            return Ramp(self.began + self.step * lo, self.step, max(0, hi - lo))
        if i < 0:
            i += self.n
        return self.began + self.step * (i + 1)

    def __array__(self, dtype=None, copy=None) -> np.ndarray:
        return self.began + self.step * np.arange(1, self.n + 1, dtype=np.float64)


class SimulatedBackend:
    """``workers`` simulated workers over ``curves``: a table (trials x epochs) or a
    function ``(trial, epoch) -> value`` (for a function of each trial's config, see
    ``FunctionBackend``).

    ``epoch_seconds`` is the virtual cost of one epoch: a number, one number
    per trial (an array), or ``None`` for 1.0. No wall clock is read. A trial
    whose epochs add up past ``trial_timeout`` virtual seconds is ended there,
    keeping the epochs it finished before, as the Ray backend does in wall time.
    """

    def __init__(
        self,
        curves: np.ndarray | Callable[[int, int], float],
        *,
        workers: int = 1,
        epoch_seconds: float | np.ndarray | None = None,
        cut_short: str = "error",
        failures: set[tuple[int, int]] | None = None,
        trial_timeout: float | None = None,
    ) -> None:
        checks.count("workers", workers)
        checks.seconds("trial_timeout", trial_timeout)
        self.trial_timeout = trial_timeout
        self._spent: dict[int, float] = {}  # virtual seconds each trial trained
        self._warm, self._new = Start.WARM, Start.NEW  # returned for every segment: no enum lookups
        self._cut: dict[int, int] = {}  # submission -> epochs it finishes before its timeout
        self.curves = curves
        self.workers = workers
        if cut_short not in ("error", "stop"):
            raise ValueError(f"cut_short must be 'error' or 'stop', but got cut_short={cut_short!r}")
        # "stop": NaN marks where a recorded curve ends; a trial asked past it ends there.
        self.cut_short = cut_short
        # Injected faults: trial t raises while training epoch e, once per (t, e).
        self.failures = set(failures or ())
        if epoch_seconds is None:
            self._cost = None
        elif callable(epoch_seconds):
            raise ValueError("epoch_seconds as a function of the config goes with a curve function of the "
                             "config, not with a table")
        elif np.ndim(epoch_seconds) == 0:
            cost = float(epoch_seconds)
            if not cost > 0:
                raise ValueError(f"epoch_seconds must be > 0, but got epoch_seconds={epoch_seconds!r}")
            self._cost = cost
        else:
            costs = np.asarray(epoch_seconds, dtype=np.float64)
            if not np.all(costs > 0):
                raise ValueError("epoch_seconds must be > 0 for every trial")
            self._cost = costs
        self._heap: list[tuple[float, int, int, int, int, float, float]] = []  # (end, seq, trial, start, until, began, cost)
        self._seq = 0
        self._now = 0.0
        self._last_end: dict[int, int] = {}
        self.busy_seconds = 0.0
        self.peak_running = 0

    def free_slots(self) -> int:
        return self.workers - len(self._heap)

    def running(self) -> int:
        return len(self._heap)

    def now(self) -> float:
        return self._now

    def _epoch_cost(self, trial: int) -> float:
        cost = self._cost
        if cost is None:
            return 1.0
        if isinstance(cost, float):
            return cost
        return float(cost[trial])

    def submit(self, trial: int, config: dict | None, start: int, until: int, need: Request | None = None) -> Start:
        cost = self._epoch_cost(trial)
        duration = (until - start) * cost
        if self.trial_timeout is not None:
            left = self.trial_timeout - self._spent.get(trial, 0.0)
            if duration >= left:  # the trial passes its timeout within this grant
                self._cut[self._seq] = max(0, int(left // cost))
                duration = max(0.0, left)
            self._spent[trial] = self._spent.get(trial, 0.0) + duration
        self.busy_seconds += duration
        heapq.heappush(self._heap, (self._now + duration, self._seq, trial, start, until, self._now, cost))
        self._seq += 1
        if len(self._heap) > self.peak_running:
            self.peak_running = len(self._heap)
        return self._warm if start else self._new

    def extend(self, trial: int, until: int, need: Request | None = None) -> None:
        self.submit(trial, None, self._last_end[trial], until)

    def release(self, trial: int, keep: bool) -> None:
        pass

    def stats(self) -> dict:
        return {"workers": self.workers, "busy_seconds": self.busy_seconds, "peak_running": self.peak_running}

    def fetch_model(self, trial: int) -> None:
        return None  # a curve has no model

    def close(self) -> None:
        pass

    def wait(self) -> list[Segment]:
        end, seq, trial, start, until, began, cost = heapq.heappop(self._heap)
        self._now = end
        self._last_end[trial] = until
        curves = self.curves
        if callable(curves):
            values = [float(curves(trial, e)) for e in range(start + 1, until + 1)]
        elif until - start == 1:
            values = [curves.item(trial, start)]  # most segments: one epoch (a slice costs more)
        else:
            values = curves[trial, start:until].tolist()
        # Most segments are one epoch: a tuple is cheaper to make than a Ramp.
        times = (began + cost,) if until - start == 1 else Ramp(began, cost, until - start)
        if self._cut and seq in self._cut:
            k = self._cut.pop(seq)
            self._last_end[trial] = start + k
            return [Segment(trial, start, values[:k], times[:k], worker=-1, timed_out=True,
                            error=f"TrialTimeout: trial {trial} trained past trial_timeout={self.trial_timeout} "
                                  "virtual seconds")]
        for e in range(start + 1, until + 1) if self.failures else ():
            if (trial, e) in self.failures:
                self.failures.discard((trial, e))
                k = e - start - 1
                return [Segment(trial, start, values[:k], times[:k], worker=-1,
                                error=f"InjectedFailure: trial {trial} raised in epoch {e}")]
        cut = False
        if self.cut_short == "stop" and values and values[-1] != values[-1]:
            known = next(i for i, v in enumerate(values) if v != v)
            values, times, cut = values[:known], times[:known], True
        return [Segment(trial, start, values, times, worker=-1, finished=cut, cut_short=cut)]


class FunctionBackend(SimulatedBackend):
    """The simulated backend over a ``CurveFunction``: it tells the function each trial's
    config when the trial is submitted, and lets it drop what a trial held when the trial
    leaves for good. A subclass, so that a table's hot path stays as it is.

    ``epoch_seconds`` may also be a function of the config, asked once per trial.
    """

    def __init__(self, curves: CurveFunction, *, epoch_seconds: float | np.ndarray | Callable[[dict], float] | None
                 = None, **settings: Any) -> None:
        by_config = callable(epoch_seconds)
        super().__init__(curves, epoch_seconds=None if by_config else epoch_seconds, **settings)
        self._cost_fn = epoch_seconds if by_config else None
        self._cost_of: dict[int, float] = {}  # trial -> its epoch cost, when a function of the config

    def submit(self, trial: int, config: dict | None, start: int, until: int, need: Request | None = None) -> Start:
        if config is not None:  # from the engine (extend passes None)
            self.curves.remember(trial, config)
            if self._cost_fn is not None and trial not in self._cost_of:
                self._cost_of[trial] = _cost(self._cost_fn(config), config)
        return super().submit(trial, config, start, until, need)

    def _epoch_cost(self, trial: int) -> float:
        return self._cost_of[trial] if self._cost_fn is not None else super()._epoch_cost(trial)

    def release(self, trial: int, keep: bool) -> None:
        if not keep:  # the trial will not train on: drop its config and any curve it held
            self.curves.forget(trial)

    def stats(self) -> dict:
        return {**super().stats(), "curve_fn_calls": self.curves.calls}
