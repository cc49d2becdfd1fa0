"""The one engine loop: asks the policy for work, hands it to a backend, feeds
reports back, and carries out every decision, in exactly one place.

Backends (simulated, Ray) only execute: they train a trial from its current
epoch up to a granted epoch and return what it reported, as a ``Segment``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, Callable, Protocol, Sequence

import policies as P
from policies import Action, Decision, Reason

from .result import ReportTable, Result, TrialState

__all__ = ["Backend", "Engine", "Recorder", "Segment"]


@dataclass
class Segment:
    """What one trial reported in one round trip: epochs ``start+1 .. start+len(values)``.

    ``error`` is set when the trainable raised (or its worker died) after the
    reported epochs; ``finished`` when the trainable returned before its grant.
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
    missing: str | None = None  # the primary metric was absent: a message naming the reported keys


class Backend(Protocol):
    """Where trials execute."""

    def free_slots(self) -> int: ...

    def running(self) -> int: ...

    def submit(self, trial: int, config: dict, start: int, until: int, rung: int) -> None:
        """Train ``trial`` (fresh when ``start == 0`` and it never ran) up to epoch ``until``."""

    def extend(self, trial: int, until: int, rung: int) -> None:
        """Keep the trial on its worker and train on up to ``until``."""

    def release(self, trial: int, keep: bool) -> None:
        """The trial leaves its worker; ``keep``: hold its state for a later promotion or the best model."""

    def wait(self) -> list[Segment]:
        """Block until at least one assignment returns."""

    def now(self) -> float: ...


class Recorder(Protocol):
    """Where the engine writes what happens, before acting on it (the event log)."""

    def trial_created(self, trial: int, config: dict, time: float) -> None: ...

    def assigned(self, trial: int, start: int, until: int, reason: Reason | None, time: float) -> None: ...

    def reports(self, segment: Segment, n: int) -> None: ...

    def decisions(self, decisions: Sequence[Decision], time: float) -> None: ...

    def failed(self, trial: int, epoch: int, error: str, traceback: str | None, time: float) -> None: ...

    def flush(self) -> None: ...


_TERMINAL = {Action.STOP: TrialState.STOPPED, Action.COMPLETE: TrialState.COMPLETED}


class Engine:
    """Runs one experiment: ``policy`` decides, ``backend`` executes."""

    def __init__(
        self,
        policy: P.Policy,
        backend: Backend,
        *,
        n_trials: int,
        max_epochs: int,
        config_of: Callable[[int], dict],
        metric: str = "value",
        mode: str = "max",
        budget: int | None = None,
        timeout: float | None = None,
        recorder: Recorder | None = None,
        max_failures: int = 0,
        rung_of_epoch: Callable[[int], int] | None = None,
        on_progress: Callable[["Engine"], None] | None = None,
    ) -> None:
        if budget is not None and (isinstance(budget, bool) or not isinstance(budget, int) or budget < 1):
            raise ValueError(f"budget must be a positive int of epochs, but got budget={budget!r}")
        if timeout is not None and (not isinstance(timeout, (int, float)) or not timeout > 0):
            raise ValueError(f"timeout must be a positive number of seconds, but got timeout={timeout!r}")
        self.policy = policy
        self.backend = backend
        self.n_trials = n_trials
        self.max_epochs = max_epochs
        self.config_of = config_of
        self.metric = metric
        self.direction = P.Direction(mode)
        self.budget = budget
        self.timeout = timeout
        self.rec = recorder
        self.max_failures = max_failures
        self.on_progress = on_progress
        self.rung_of_epoch = rung_of_epoch or (lambda epoch: 0)

        self.trained: dict[int, int] = {}  # epochs each trial has trained
        self.granted: dict[int, int] = {}  # running trial -> epoch it may train to
        self.configs: dict[int, dict] = {}
        self.states: dict[int, TrialState] = {}
        self.failures: dict[int, int] = {}
        self.errors: dict[int, str] = {}
        self.decisions: list[Decision] = []
        self.reports = ReportTable(metric)
        self.epochs_used = 0
        self.reserved = 0  # granted but not yet trained
        self.final_value: dict[int, float] = {}
        self.best_trial: int | None = None
        self.halted: str | None = None
        self.t0 = backend.now()

    # ------------------------------------------------------------------ loop
    def run(self) -> Result:
        while True:
            signal = self._fill() if self.halted is None else P.DONE
            if not self.backend.running():
                if signal is P.WAIT:
                    raise RuntimeError(f"{self.policy!r} waits with no trial running: a policy bug")
                break
            for segment in self.backend.wait():
                self._handle(segment)
            if self.on_progress is not None:
                self.on_progress(self)
        self._apply(self.policy.finish(), None)
        if self.rec is not None:
            self.rec.flush()
        return self.result()

    def _fill(self) -> object:
        """Hand work to every free worker; returns the policy's last answer."""
        backend = self.backend
        policy = self.policy
        while backend.free_slots() > 0:
            if self.timeout is not None and backend.now() - self.t0 >= self.timeout:
                self._halt("timeout")
                return P.DONE
            a = policy.next()
            if a is P.WAIT or a is P.DONE:
                return a
            trial = a.trial
            start = self.trained.get(trial, 0)
            until = a.until
            if self.budget is not None:
                room = self.budget - self.epochs_used - self.reserved
                if room <= 0:
                    self._refuse(a)
                    self._halt("budget")
                    return P.DONE
                until = min(until, start + room)
            if a.new:
                config = self.config_of(trial)
                self.configs[trial] = config
                self.trained[trial] = 0
                if self.rec is not None:
                    self.rec.trial_created(trial, config, backend.now())
            self.states[trial] = TrialState.RUNNING
            self.granted[trial] = until
            self.reserved += until - start
            if self.rec is not None:
                self.rec.assigned(trial, start, until, a.reason, backend.now())
            backend.submit(trial, self.configs[trial], start, until, self.rung_of_epoch(start))
        return None

    def _refuse(self, a: P.Assignment) -> None:
        """The budget has no room for this assignment: the policy must forget it."""
        removed = self.policy.remove(a.trial, self.trained.get(a.trial, 0))
        if a.new:
            # Never sampled, never logged: as if the policy had not handed it out.
            self._apply(removed, None)
            return
        epoch = self.trained[a.trial]
        self._apply([Decision(a.trial, epoch, Action.STOP, Reason("budget-exhausted")), *removed], None)

    def _halt(self, why: str) -> None:
        if self.halted is None:
            self.halted = why

    # --------------------------------------------------------------- reports
    def _handle(self, seg: Segment) -> None:
        trial = seg.trial
        policy = self.policy
        start = self.trained[trial]
        if seg.start != start:
            raise RuntimeError(f"trial {trial}: backend returned epochs from {seg.start}, engine expected {start}")
        decisions: list[Decision] = []
        values = seg.values
        n = len(values)
        bad: Reason | None = None
        isfinite = math.isfinite
        report = policy.report
        for i in range(n):
            value = values[i]
            if not isfinite(value):
                bad = Reason("non-finite-metric", detail=f"{self.metric}={value!r} at epoch {start + i + 1}")
                n = i
                break
            out = report(trial, start + i + 1, value)
            if out:
                decisions.extend(out)
        granted = self.granted[trial]
        self.reserved -= granted - start
        end = start + n
        self.trained[trial] = end
        self.epochs_used += n
        if bad is not None:
            # The non-finite epoch was trained; it counts against the budget but is never ranked.
            self.epochs_used += 1
            self.trained[trial] = end + 1
        self.reports.add(trial, start, values[:n] if n < len(values) else values, seg.times[:n], seg.worker,
                         seg.extra[:n] if seg.extra is not None else None)
        now = self.backend.now()
        if self.rec is not None:
            self.rec.reports(seg, n)
        own = any(d.trial == trial for d in decisions)
        if bad is not None or seg.error is not None or seg.missing is not None:
            if not own:
                decisions.extend(self._trial_left(trial, self.trained[trial], seg, bad, now))
        elif not own:
            # The grant ended before the policy's decision point: the trainable returned
            # early, or the budget capped the grant.
            why = "finished-early" if end < granted else "budget-exhausted"
            decisions.append(Decision(trial, end, Action.STOP, Reason(why, detail=f"trained {end} of {self.max_epochs}")))
            decisions.extend(policy.remove(trial, end))
        self._apply(decisions, trial)

    def _trial_left(self, trial: int, epoch: int, seg: Segment, bad: Reason | None, now: float) -> list[Decision]:
        if bad is not None:
            self.errors[trial] = bad.detail
            return [Decision(trial, epoch, Action.STOP, bad), *self.policy.remove(trial, epoch)]
        message = seg.missing or seg.error or "unknown error"
        self.errors[trial] = message
        if self.rec is not None:
            self.rec.failed(trial, epoch, message, seg.traceback, now)
        self.failures[trial] = self.failures.get(trial, 0) + 1
        reason = Reason("failed", detail=message.splitlines()[0][:200] if message else "")
        out = [Decision(trial, epoch, Action.STOP, reason), *self.policy.remove(trial, epoch)]
        return out

    # ------------------------------------------------------------- decisions
    def _apply(self, decisions: Sequence[Decision], reporter: int | None) -> None:
        if not decisions:
            return
        now = self.backend.now()
        if self.rec is not None:
            self.rec.decisions(decisions, now)
            self.rec.flush()  # nothing is acted on before the record that caused it is on disk
        self.decisions.extend(decisions)
        backend = self.backend
        for d in decisions:
            trial = d.trial
            action = d.action
            if action is Action.CONTINUE:
                start = self.trained[trial]
                until = d.until
                if self.timeout is not None and now - self.t0 >= self.timeout:
                    self._halt("timeout")
                if self.halted is not None:
                    self._cut(trial, "budget-exhausted" if self.halted == "budget" else self.halted)
                    continue
                if self.budget is not None:
                    room = self.budget - self.epochs_used - self.reserved
                    if room <= 0:
                        self._halt("budget")
                        self._cut(trial, "budget-exhausted")
                        continue
                    until = min(until, start + room)
                self.granted[trial] = until
                self.reserved += until - start
                backend.extend(trial, until, self.rung_of_epoch(start))
                continue
            was_running = self.states.get(trial) is TrialState.RUNNING
            if action is Action.PAUSE:
                self.states[trial] = TrialState.PAUSED
                if was_running:
                    del self.granted[trial]
                    backend.release(trial, keep=True)
                continue
            if d.reason.rule == "failed":
                self.states[trial] = TrialState.FAILED
            else:
                self.states[trial] = _TERMINAL[action]
            if was_running:
                del self.granted[trial]
            keep = action is Action.COMPLETE and self._complete(trial)
            if was_running or self.states[trial] is not TrialState.COMPLETED:
                backend.release(trial, keep=keep)

    def _cut(self, trial: int, why: str) -> None:
        """A CONTINUE the engine cannot grant (budget, timeout): the trial stops here."""
        epoch = self.trained[trial]
        self._apply([Decision(trial, epoch, Action.STOP, Reason(why)), *self.policy.remove(trial, epoch)], None)

    def _complete(self, trial: int) -> bool:
        """A trial reached R: is it the new best? Only the best keeps its state (its model)."""
        value = self._last_value(trial)
        self.final_value[trial] = value
        best = self.best_trial
        if best is None or self.direction.better(value, self.final_value[best]) or (
            value == self.final_value[best] and trial < best
        ):
            if best is not None:
                self.backend.release(best, keep=False)
            self.best_trial = trial
            return True
        return False

    def _last_value(self, trial: int) -> float:
        t = self.reports
        for i in range(len(t._trial) - 1, -1, -1):
            if t._trial[i] == trial:
                return float(t._values[i][-1])
        raise RuntimeError(f"trial {trial} completed without a report")

    # ---------------------------------------------------------------- result
    def result(self) -> Result:
        best = self.best_trial
        return Result(
            metric=self.metric,
            mode=self.direction.mode,
            max_epochs=self.max_epochs,
            policy=getattr(self.policy, "name", type(self.policy).__name__),
            best_trial=best,
            best_value=None if best is None else self.final_value[best],
            best_config=None if best is None else self.configs[best],
            epochs_used=self.epochs_used,
            decisions=self.decisions,
            configs=self.configs,
            states=self.states,
            reports=self.reports,
            stop_reason=self.halted or "done",
            failures=dict(self.errors),
        )
