"""A backend that trains nothing: trials are rows of a learning-curve table,
time is virtual (a heap of finish times, ties broken by submission order). It ignores
what a trial asks for (``Request``): every simulated worker can train any trial."""

from __future__ import annotations

import heapq
from typing import Callable

import numpy as np

from .. import checks
from .protocol import Request, Segment, Start

__all__ = ["SimulatedBackend", "Ramp"]


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
    """``workers`` simulated workers over ``curves`` (trials x epochs).

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

    def submit(self, trial: int, config: dict, start: int, until: int, need: Request | None = None) -> Start:
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
        self.submit(trial, {}, self._last_end[trial], until)

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
