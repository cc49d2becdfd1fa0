"""The one engine loop: asks the policy for work, hands it to a backend, feeds
reports back, and carries out every decision, in exactly one place.

Backends (simulated, Ray) only execute: they train a trial from its current
epoch up to a granted epoch and return what it reported, as a ``Segment``.
The engine writes each event to the recorder (the event log) and flushes it
before acting on it; ``replay`` rebuilds the engine's and the policy's state
from those events, which is how a crashed run resumes.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from typing import Any, Callable, Iterable, Protocol, Sequence

import policies as P
from policies import Action, Decision, Reason

from . import checks
from .result import ReportTable, Result, TrialState

__all__ = ["Backend", "Engine", "Recorder", "Segment", "ReplayMismatch"]


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


class Backend(Protocol):
    """Where trials execute."""

    def free_slots(self) -> int: ...

    def running(self) -> int: ...

    def submit(self, trial: int, config: dict, start: int, until: int, rung: int) -> str | None:
        """Train ``trial`` from epoch ``start`` up to ``until``; returns how its state was found
        (``"new"``, ``"warm"``, ``"moved"``, ``"checkpoint"``, ``"scratch"``) or None."""

    def extend(self, trial: int, until: int, rung: int) -> None:
        """Keep the trial on its worker and train on up to ``until``."""

    def release(self, trial: int, keep: bool) -> None:
        """The trial leaves its worker; ``keep``: hold its state for a promotion or the best model."""

    def wait(self) -> list[Segment]:
        """Block until at least one assignment returns."""

    def now(self) -> float: ...


class Recorder(Protocol):
    """Where the engine writes what happens, before acting on it (the event log)."""

    def trial_created(self, trial: int, config: dict, time: float) -> None: ...

    def assigned(self, trial: int, start: int, until: int, reason: Reason | None, time: float,
                 how: str | None = None) -> None: ...

    def reports(self, segment: Segment, n: int) -> None: ...

    def removed(self, trial: int, epoch: int, time: float) -> None: ...

    def decisions(self, decisions: Sequence[Decision], time: float) -> None: ...

    def failed(self, trial: int, epoch: int, error: str, traceback: str | None, time: float) -> None: ...

    def add(self, kind: str, time: float, **columns: Any) -> None:
        """Any other event (restarted, refused, interrupted), with the log's columns."""

    def flush(self) -> None: ...


class ReplayMismatch(RuntimeError):
    """The log does not match what the policy decides: not the same experiment."""


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
        checks.count("budget", budget, allow_none=True)
        checks.seconds("timeout", timeout)
        checks.count("max_failures", max_failures, low=0)
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

        self.trained: dict[int, int] = {}  # epochs each trial has trained (and reported)
        self.granted: dict[int, int] = {}  # running trial -> epoch it may train to
        self.configs: dict[int, dict] = {}
        self.states: dict[int, TrialState] = {}
        self.failures: dict[int, int] = {}
        self.errors: dict[int, str] = {}
        self.restarts: dict[int, str] = {}
        self.decisions: list[Decision] = []
        self.promotions: list[Decision] = []  # paused trials the policy resumed, with its reason
        self.reports = ReportTable(metric)
        self.epochs_used = 0
        self.reserved = 0  # granted but not yet trained
        self.last_value: dict[int, float] = {}
        self.final_value: dict[int, float] = {}
        self.best_trial: int | None = None
        self.halted: str | None = None
        self.finished = False
        self.t0 = backend.now()

    # ------------------------------------------------------------------ loop
    def run(self) -> Result:
        self._restart_running()
        backend, handle, progress = self.backend, self._handle, self.on_progress
        notes = getattr(backend, "take_notes", None)  # backends that restart trials on their own
        while True:
            signal = self._fill() if self.halted is None else P.DONE
            if not backend.running():
                if signal is P.WAIT:
                    raise RuntimeError(f"{self.policy!r} waits with no trial running: a policy bug")
                break
            for segment in backend.wait():
                handle(segment)
            if notes is not None:
                for note in notes():
                    self._restarted(note["trial"], note["epoch"], note["how"], note["why"])
            if progress is not None:
                progress(self)
        self._apply(self.policy.finish())
        self.finished = True
        if self.rec is not None:
            self.rec.flush()
        return self.result()

    def halt(self, why: str) -> None:
        """Hand out no more work; running trials finish their current grant."""
        if self.halted is None:
            self.halted = why

    def _fill(self) -> object:
        """Hand work to every free worker; returns the policy's last answer."""
        backend = self.backend
        next_work = self.policy.next
        rec, budget, timeout = self.rec, self.budget, self.timeout
        trained, configs = self.trained, self.configs
        WAIT, DONE = P.WAIT, P.DONE
        while backend.free_slots() > 0:
            if timeout is not None and backend.now() - self.t0 >= timeout:
                self.halt("timeout")
                return DONE
            a = next_work()
            if a is WAIT or a is DONE:
                return a
            trial, until, new, reason = a
            start = trained.get(trial, 0)
            if budget is not None:
                until = self._cap(trial, until)
                if until is None:
                    self._refuse(a)
                    self.halt("budget")
                    return DONE
            now = backend.now()
            if new:
                config = self.config_of(trial)
                if rec is not None:
                    rec.trial_created(trial, config, now)
                configs[trial] = config
                trained[trial] = 0
            self._assigned(trial, start, until)
            if reason is not None:
                self.promotions.append(P.Decision(trial, start, P.Action.CONTINUE, reason, until))
            rung = self.rung_of_epoch(start)
            if rec is not None:
                # Logged before the work starts; ``how`` is known only after submit, so a
                # restart from scratch is logged as its own event below.
                rec.assigned(trial, start, until, reason, now)
                rec.flush()
            how = backend.submit(trial, configs[trial], start, until, rung)
            if how == "scratch" or how == "checkpoint":
                self._restarted(trial, start, how)
        return None

    def _restarted(self, trial: int, start: int, how: str, why: str = "its state was lost") -> None:
        self.restarts[trial] = how
        if self.rec is not None:
            detail = (f"retraining epochs 1..{start} silently (not re-reported, not counted)" if how == "scratch"
                      else "restored from its last checkpoint")
            self.rec.add("restarted", self.backend.now(), trial=trial, epoch=start,
                         payload=json.dumps({"how": how, "why": why, "detail": detail}))

    def _refuse(self, a: P.Assignment) -> None:
        """The budget has no room for this assignment: the policy must forget it."""
        epoch = self.trained.get(a.trial, 0)
        if self.rec is not None:
            self.rec.add("refused", self.backend.now(), trial=a.trial, epoch=epoch)
        if a.new:
            # Never sampled, never run: the trial does not exist for the experiment.
            self._apply(self._remove(a.trial, epoch))
            return
        self._apply([Decision(a.trial, epoch, Action.STOP, Reason("budget-exhausted")),
                     *self._remove(a.trial, epoch)])

    def _remove(self, trial: int, epoch: int) -> Sequence[Decision]:
        if self.rec is not None:
            self.rec.removed(trial, epoch, self.backend.now())
        return self.policy.remove(trial, epoch)

    # ------------------------------------------------------ state transitions
    # Shared by the live loop and by ``replay``: the same bookkeeping either way.
    def _created(self, trial: int, config: dict) -> None:
        self.configs[trial] = config
        self.trained[trial] = 0

    def _assigned(self, trial: int, start: int, until: int) -> None:
        self.states[trial] = TrialState.RUNNING
        self.granted[trial] = until
        self.reserved += until - start

    def _reported(self, trial: int, start: int, values: Sequence[float], times: Sequence[float], worker: int,
                  extra: list[dict] | None, trained: int) -> None:
        """``trained`` epochs were trained; the first ``len(values)`` are recorded (finite)."""
        self.reserved -= max(0, min(trained, self.granted.get(trial, start) - start))
        self.trained[trial] = start + trained
        self.epochs_used += trained
        if len(values):
            self.reports.add(trial, start, values, times, worker, extra)
            self.last_value[trial] = float(values[-1])

    # --------------------------------------------------------------- reports
    def _handle(self, seg: Segment) -> None:
        trial = seg.trial
        start = self.trained[trial]
        if seg.start != start:
            raise RuntimeError(f"trial {trial}: backend returned epochs from {seg.start}, engine expected {start}")
        values = seg.values
        total = len(values)
        n = total
        bad: Reason | None = None
        if not math.isfinite(sum(values)):  # a NaN or an infinity somewhere (or a sum that overflowed)
            n = next((i for i, value in enumerate(values) if not math.isfinite(value)), total)
            if n < total:
                bad = Reason("non-finite-metric", detail=f"{self.metric}={values[n]!r} at epoch {start + n + 1}")
        decisions: list[Decision] = []
        report = self.policy.report
        if self.policy.reads_every_epoch:
            epoch = start
            for value in values if n == total else values[:n]:
                epoch += 1
                out = report(trial, epoch, value)
                if out:
                    decisions.extend(out)
        elif n:
            out = report(trial, start + n, values[n - 1])  # the only epoch that can be a decision point
            if out:
                decisions.extend(out)
        granted = self.granted[trial]
        if self.rec is not None:
            self.rec.reports(seg, len(values))
        trained = len(values)  # a non-finite epoch and any after it were trained (and logged) too
        if n < len(values):
            self._reported(trial, start, values[:n], seg.times[:n], seg.worker,
                           seg.extra[:n] if seg.extra is not None else None, trained)
        else:
            self._reported(trial, start, values, seg.times, seg.worker, seg.extra, trained)
        end = start + n
        own = bool(decisions) and decisions[0].trial == trial  # the reporter's decision comes first
        if bad is not None or seg.error is not None or seg.missing is not None or seg.timed_out:
            if not own:
                decisions.extend(self._trial_left(trial, self.trained[trial], seg, bad, self.backend.now()))
        elif not own:
            # The grant ended before the policy's decision point: the trainable returned
            # early, or the budget capped the grant.
            why = ("curve-cut-short" if seg.cut_short else "finished-early") if end < granted else "budget-exhausted"
            decisions.append(Decision(trial, end, Action.STOP,
                                      Reason(why, detail=f"trained {end} of {self.max_epochs}")))
            decisions.extend(self._remove(trial, end))
        self._apply(decisions)

    def _trial_left(self, trial: int, epoch: int, seg: Segment, bad: Reason | None, now: float) -> list[Decision]:
        """The trial ended abnormally: a non-finite metric, a timeout, or a failure (retried
        up to ``max_failures`` times from its checkpoint, or from scratch)."""
        if bad is not None:
            self.errors[trial] = bad.detail
            return [Decision(trial, epoch, Action.STOP, bad), *self._remove(trial, epoch)]
        message = seg.missing or seg.error or "unknown error"
        self.errors[trial] = message
        if self.rec is not None:
            self.rec.failed(trial, epoch, message, seg.traceback, now)
        if seg.timed_out:
            reason = Reason("trial-timeout", detail=message.splitlines()[0][:300])
            return [Decision(trial, epoch, Action.STOP, reason), *self._remove(trial, epoch)]
        self.failures[trial] = self.failures.get(trial, 0) + 1
        if seg.missing is None and self.failures[trial] <= self.max_failures and self.halted is None:
            until = self.granted[trial]
            how = self.backend.submit(trial, self.configs[trial], epoch, until, self.rung_of_epoch(epoch))
            self._restarted(trial, epoch, how if how in ("checkpoint", "scratch") else "scratch",
                            f"retry {self.failures[trial]} of {self.max_failures} after: {message.splitlines()[0][:200]}")
            return []
        reason = Reason("failed", detail=message.splitlines()[0][:300] if message else "")
        return [Decision(trial, epoch, Action.STOP, reason), *self._remove(trial, epoch)]

    # ------------------------------------------------------------- decisions
    def _apply(self, decisions: Sequence[Decision]) -> None:
        if not decisions:
            return
        now = self.backend.now()
        if self.rec is not None:
            self.rec.decisions(decisions, now)
            self.rec.flush()  # nothing is acted on before the record that caused it is on disk
        backend = self.backend
        for d in decisions:
            trial = d.trial
            if d.action is Action.CONTINUE:
                self._decided(d)
                until = self._grant_more(trial, d.until, now)
                if until is None:
                    continue  # cut here: the STOP was applied already
                self._assigned(trial, self.trained[trial], until)
                backend.extend(trial, until, self.rung_of_epoch(self.trained[trial]))
                continue
            state = self.states.get(trial)
            was_running = state is TrialState.RUNNING
            was_paused = state is TrialState.PAUSED
            self._decided(d)
            if was_running:
                keep = d.action is Action.PAUSE or (d.action is Action.COMPLETE and self.best_trial == trial)
                backend.release(trial, keep=keep)
            elif was_paused and d.action is not Action.PAUSE:
                # A paused trial's state was held for a promotion that will not come.
                backend.release(trial, keep=False)

    def _grant_more(self, trial: int, until: int, now: float) -> int | None:
        """How far a CONTINUE may go under the budget and timeout; None cuts the trial here."""
        if self.timeout is not None and now - self.t0 >= self.timeout:
            self.halt("timeout")
        if self.halted is None and self.budget is not None:
            capped = self._cap(trial, until)
            if capped is None:
                self.halt("budget")
            else:
                return capped
        if self.halted is not None:
            epoch = self.trained[trial]
            why = "budget-exhausted" if self.halted == "budget" else self.halted
            self._apply([Decision(trial, epoch, Action.STOP, Reason(why)), *self._remove(trial, epoch)])
            return None
        return until

    def _cap(self, trial: int, until: int) -> int | None:
        """``until`` cut to what the budget leaves; None when it leaves nothing."""
        if self.budget is None:
            return until
        room = self.budget - self.epochs_used - self.reserved
        return None if room <= 0 else min(until, self.trained.get(trial, 0) + room)

    def _decided(self, d: Decision) -> None:
        """Engine bookkeeping for one decision (live and replay)."""
        self.decisions.append(d)
        trial = d.trial
        granted = self.granted.pop(trial, None)
        if granted is not None:
            # What was granted and not trained goes back to the budget.
            self.reserved -= max(0, granted - self.trained.get(trial, 0))
        if d.action is Action.CONTINUE:
            return
        if d.action is Action.PAUSE:
            self.states[trial] = TrialState.PAUSED
            return
        if d.reason is not None and d.reason.rule == "failed":
            self.states[trial] = TrialState.FAILED
        else:
            self.states[trial] = _TERMINAL[d.action]
        if d.action is Action.COMPLETE:
            self._complete(trial)

    def _complete(self, trial: int) -> None:
        """A trial reached R: is it the new best? Only the best keeps its state (its model)."""
        value = self.last_value[trial]
        self.final_value[trial] = value
        best = self.best_trial
        if best is None or self.direction.better(value, self.final_value[best]) or (
            value == self.final_value[best] and trial < best
        ):
            if best is not None and self.states.get(best) is TrialState.COMPLETED:
                self.backend.release(best, keep=False)
            self.best_trial = trial

    # ----------------------------------------------------------------- replay
    def replay(self, events: Iterable[dict]) -> dict:
        """Rebuild state from logged events by making the policy the same calls in the
        same order. Raises ``ReplayMismatch`` when the policy disagrees with the log."""
        from .eventlog import decision_from_event

        policy = self.policy
        stats = {"reports": 0, "decisions": 0, "assignments": 0}
        tainted: set[int] = set()

        for ev in events:
            kind = ev["kind"]
            if kind == "trial_created":
                self._created(ev["trial"], json.loads(ev["payload"]))
            elif kind == "assigned":
                a = policy.next()
                if not isinstance(a, P.Assignment) or a.trial != ev["trial"]:
                    raise ReplayMismatch(f"the log assigns trial {ev['trial']} but the policy now gives {a!r}")
                self._assigned(ev["trial"], ev["epoch"], ev["until"])
                if a.reason is not None:
                    self.promotions.append(P.Decision(a.trial, ev["epoch"], P.Action.CONTINUE, a.reason, ev["until"]))
                stats["assignments"] += 1
            elif kind == "report":
                trial, epoch, value = ev["trial"], ev["epoch"], ev["value"]
                start = self.trained[trial]
                if epoch != start + 1:
                    raise ReplayMismatch(f"trial {trial} reports epoch {epoch} after {start}")
                extra = [json.loads(ev["metrics"])] if ev["metrics"] else None
                if value is not None and math.isfinite(value) and trial not in tainted:
                    policy.report(trial, epoch, value)
                    self._reported(trial, start, [value], [ev["time"]], ev["worker"] or -1, extra, 1)
                else:
                    tainted.add(trial)  # after a non-finite value the policy saw no more of it
                    self._reported(trial, start, [], [], -1, None, 1)
                stats["reports"] += 1
            elif kind == "refused":
                a = policy.next()
                if not isinstance(a, P.Assignment) or a.trial != ev["trial"]:
                    raise ReplayMismatch(f"the log refuses trial {ev['trial']} but the policy now gives {a!r}")
            elif kind == "removed":
                policy.remove(ev["trial"], ev["epoch"])
            elif kind == "decision":
                d = decision_from_event(ev)
                self._decided(d)
                if d.action is Action.CONTINUE:
                    until = self._cap(d.trial, d.until)
                    if until is not None:  # else the log holds the STOP that followed
                        self._assigned(d.trial, self.trained[d.trial], until)
                stats["decisions"] += 1
            elif kind == "trial_failed":
                self.failures[ev["trial"]] = self.failures.get(ev["trial"], 0) + 1
                self.errors[ev["trial"]] = json.loads(ev["payload"])["error"]
            elif kind == "restarted":
                self.restarts[ev["trial"]] = "replayed"
            elif kind == "experiment_finished":
                self.finished = True
        # Reports logged for a grant that had not ended were trained but their grant is
        # still open: the reserved count is what remains of it.
        self.reserved = sum(self.granted[t] - self.trained[t] for t in self.granted)
        return stats

    def _restart_running(self) -> None:
        """After a replay, trials that were running when the driver died train on."""
        for trial in sorted(self.granted):
            start = self.trained[trial]
            until = self.granted[trial]
            how = self.backend.submit(trial, self.configs[trial], start, until, self.rung_of_epoch(start))
            if how in ("scratch", "checkpoint"):
                self._restarted(trial, start, how)

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
            promotions=self.promotions,
            configs=self.configs,
            states=self.states,
            reports=self.reports,
            stop_reason=self.halted or ("done" if self.finished else "unfinished"),
            failures=dict(self.errors),
        )
