"""The one engine loop: asks the policy for work, hands it to a backend, feeds
reports back, and carries out every decision, in exactly one place.

Backends (simulated, Ray) only execute; they answer through the typed seam of
``backends.protocol``. The engine writes each event to the recorder (the event
log) and flushes it twice per turn of its loop: after handling the reports that
came back, before placing new work, and after placing it, before waiting on the
backend, which sends work only inside ``wait()``. So no work starts and no
checkpoint is written that the log does not account for, and a flush serves
every report and assignment of a turn. Its state transitions (``created``,
``assigned``, ``reported``, ``decided``) are shared with ``replay``, which rebuilds
the engine's and the policy's state from a log: that is how a crashed run resumes.
"""

from __future__ import annotations

import bisect
import math
from dataclasses import dataclass
from typing import Any, Callable, Protocol, Sequence

import policies as P
from policies import Action, Decision, Reason

from .backends.protocol import Backend, Moved, Segment, Start
from .experiment import ExperimentSpec
from .result import ReportTable, Result, TrialState
from .samplers import Proposal

__all__ = ["Engine", "NullRecorder", "Recorder", "TrialRecord"]


class Recorder(Protocol):
    """Where the engine writes what happens (the event log). ``flush`` puts every event
    recorded so far on disk; the engine calls it before it places new work and before
    each ``backend.wait()``."""

    def trial_created(self, trial: int, config: dict, time: float, origin: dict | None = None) -> None: ...

    def assigned(self, trial: int, start: int, until: int, reason: Reason | None, time: float) -> None: ...

    def reports(self, segment: Segment, n: int) -> None: ...

    def removed(self, trial: int, epoch: int, time: float) -> None: ...

    def decisions(self, decisions: Sequence[Decision], time: float) -> None: ...

    def failed(self, trial: int, epoch: int, error: str, traceback: str | None, time: float) -> None: ...

    def restarted(self, trial: int, epoch: int, info: dict, time: float) -> None: ...

    def refused(self, trial: int, epoch: int, time: float) -> None: ...

    def moved(self, trial: int, epoch: int, what: str, why: str, detail: dict, time: float) -> None: ...

    def flush(self) -> None: ...


class NullRecorder:
    """Records nothing: ``simulate`` and read-back have no log to write."""

    def trial_created(self, trial: int, config: dict, time: float, origin: dict | None = None) -> None: pass

    def assigned(self, trial: int, start: int, until: int, reason: Reason | None, time: float) -> None: pass

    def reports(self, segment: Segment, n: int) -> None: pass

    def removed(self, trial: int, epoch: int, time: float) -> None: pass

    def decisions(self, decisions: Sequence[Decision], time: float) -> None: pass

    def failed(self, trial: int, epoch: int, error: str, traceback: str | None, time: float) -> None: pass

    def restarted(self, trial: int, epoch: int, info: dict, time: float) -> None: pass

    def refused(self, trial: int, epoch: int, time: float) -> None: pass

    def moved(self, trial: int, epoch: int, what: str, why: str, detail: dict, time: float) -> None: pass

    def flush(self) -> None: pass


@dataclass(slots=True)
class TrialRecord:
    """Everything the engine knows of one trial."""

    config: dict
    trained: int = 0  # epochs trained (and reported)
    granted: int | None = None  # while running: the epoch it may train to
    state: TrialState = TrialState.PENDING
    failures: int = 0
    error: str | None = None
    restart: str | None = None  # how it last started again after its state was lost
    last_value: float | None = None
    final_value: float | None = None  # its value at max_epochs


_TERMINAL = {Action.STOP: TrialState.STOPPED, Action.COMPLETE: TrialState.COMPLETED}


class Engine:
    """Runs one experiment: ``policy`` decides, ``backend`` executes, ``spec`` sets the rules."""

    def __init__(self, spec: ExperimentSpec, policy: P.Policy, backend: Backend, *,
                 recorder: Recorder | None = None,
                 on_progress: Callable[["Engine"], None] | None = None) -> None:
        self.spec = spec
        self.policy = policy
        policy.start(n_trials=spec.n_trials, max_epochs=spec.max_epochs, mode=spec.mode)
        self.backend = backend
        self.rec: Recorder = recorder if recorder is not None else NullRecorder()
        self.on_progress = on_progress
        self.direction = P.Direction(spec.mode)
        self.budget, self.timeout = spec.budget, spec.timeout
        levels = getattr(policy, "levels", None) or ()
        # The rung a trial trains toward from each epoch, looked up (not searched) per assignment.
        self.rung_at = [bisect.bisect_right(levels, e) for e in range(spec.max_epochs + 1)]
        self.sampler = spec.started_sampler(levels)
        self.observing = self.sampler.observes  # only a sampler that learns is told of reports
        self.holding: set[int] = set()  # the trials holding a grant: what a sampler sees as running
        # What a trial asks of its worker from each epoch: its rung's resources (``spec.cpus``, ``gpus``...).
        needs = spec.requests(len(levels))
        self.need_at = [needs[min(r, len(needs) - 1)] for r in self.rung_at]
        self.trials: dict[int, TrialRecord] = {}
        self.decisions: list[Decision] = []
        self.promotions: list[Decision] = []  # paused trials the policy resumed, with its reason
        self.reports = ReportTable(spec.metric)
        self.epochs_used = 0
        self.reserved = 0  # granted but not yet trained
        self.best_trial: int | None = None
        self.halted: str | None = None
        self.finished = False
        self.t0 = backend.now()

    # ------------------------------------------------------------------ loop
    def run(self) -> None:
        """Hand out work until the policy is done; ``result()`` then says what was found."""
        self._restart_running()
        backend, handle, progress = self.backend, self._handle, self.on_progress
        rec = self.rec
        while True:
            rec.flush()  # what the last reports caused, before new work is placed on it
            signal = self._fill() if self.halted is None else P.DONE
            if not backend.running():
                if signal is P.WAIT:
                    raise RuntimeError(f"{self.policy!r} waits with no trial running: a policy bug")
                break
            rec.flush()  # the new assignments, before the backend sends them
            for event in backend.wait():
                if type(event) is Segment:
                    handle(event)
                elif type(event) is Moved:
                    self.rec.moved(event.trial, event.epoch, event.what, event.why, event.detail, backend.now())
                else:
                    self._restarted(event.trial, event.epoch, event.how, event.why)
            if progress is not None:
                progress(self)
        self._apply(self.policy.finish())
        self.finished = True
        self.rec.flush()

    def running(self) -> list[int]:
        """The trials holding a grant, in order."""
        return sorted(self.holding)

    def halt(self, why: str) -> None:
        """Hand out no more work; running trials finish their current grant."""
        if self.halted is None:
            self.halted = why

    def _fill(self) -> object:
        """Hand work to every free worker; returns the policy's last answer."""
        backend, rec, trials = self.backend, self.rec, self.trials
        next_work, propose, created, assigned = self.policy.next, self.propose, self.created, self.assigned
        sampler_name = self.spec.sampler.name
        WAIT, DONE, CHECKPOINT, SCRATCH = P.WAIT, P.DONE, Start.CHECKPOINT, Start.SCRATCH
        while backend.free_slots() > 0:
            if self.timeout is not None and backend.now() - self.t0 >= self.timeout:
                self.halt("timeout")
                return DONE
            a = next_work()
            if a is WAIT or a is DONE:
                return a
            trial, until, new, reason = a
            if self.budget is not None:
                until = self._cap(trial, until)
                if until is None:
                    self._refuse(a)
                    self.halt("budget")
                    return DONE
            now = backend.now()
            if new:
                proposal = propose(trial)
                record = created(trial, proposal.config)
                rec.trial_created(trial, record.config, now, proposal.origin(sampler_name))
            else:
                record = trials[trial]
            start = record.trained
            assigned(trial, start, until, reason)
            rec.assigned(trial, start, until, reason, now)  # flushed before the backend sends it
            how = backend.submit(trial, record.config, start, until, self.need_at[start])
            if how is CHECKPOINT or how is SCRATCH:
                self._restarted(trial, start, how)
        return None

    def _restarted(self, trial: int, start: int, how: Start, why: str = "its state was lost") -> None:
        self.trials[trial].restart = how.value
        detail = (f"retraining epochs 1..{start} silently (not re-reported, not counted)" if how is Start.SCRATCH
                  else "restored from its last checkpoint")
        self.rec.restarted(trial, start, {"how": how.value, "why": why, "detail": detail}, self.backend.now())

    def _refuse(self, a: P.Assignment) -> None:
        """The budget has no room for this assignment: the policy must forget it."""
        record = self.trials.get(a.trial)
        epoch = 0 if record is None else record.trained
        self.rec.refused(a.trial, epoch, self.backend.now())
        if a.new:
            # Never sampled, never run: the trial does not exist for the experiment.
            self._apply(self._remove(a.trial, epoch))
            return
        self._apply([Decision(a.trial, epoch, Action.STOP, Reason("budget-exhausted")),
                     *self._remove(a.trial, epoch)])

    def _remove(self, trial: int, epoch: int) -> Sequence[Decision]:
        self.rec.removed(trial, epoch, self.backend.now())
        return self.policy.remove(trial, epoch)

    def propose(self, trial: int) -> Proposal:
        """The sampler's proposal for a new trial, given the trials running now (it changes no
        state: ``replay`` asks again to check a logged proposal)."""
        return self.sampler.propose(trial, self.holding if self.observing else ())

    # ------------------------------------------------------ state transitions
    # Shared by the live loop and by ``replay``: the same bookkeeping either way, and the
    # sampler is told the same things in the same order.
    def created(self, trial: int, config: dict) -> TrialRecord:
        record = self.trials[trial] = TrialRecord(config)
        if self.observing:
            self.sampler.created(trial, config)
        return record

    def assigned(self, trial: int, start: int, until: int, reason: Reason | None = None) -> None:
        record = self.trials[trial]
        record.state = TrialState.RUNNING
        record.granted = until
        self.holding.add(trial)
        self.reserved += until - start
        if reason is not None:
            self.promotions.append(Decision(trial, start, Action.CONTINUE, reason, until))

    def reported(self, trial: int, start: int, values: Sequence[float], times: Sequence[float], worker: int,
                 extra: list[dict] | None, trained: int) -> None:
        """``trained`` epochs were trained; the first ``len(values)`` are recorded (finite)."""
        record = self.trials[trial]
        granted = start if record.granted is None else record.granted
        self.reserved -= max(0, min(trained, granted - start))
        record.trained = start + trained
        self.epochs_used += trained
        if len(values):
            self.reports.add(trial, start, values, times, worker, extra)
            record.last_value = float(values[-1])
            if self.observing:
                observe = self.sampler.observe
                for i, value in enumerate(values):
                    observe(trial, start + i + 1, float(value))

    def decided(self, d: Decision) -> None:
        """Engine bookkeeping for one decision (live and replay)."""
        self.decisions.append(d)
        record = self.trials[d.trial]
        if record.granted is not None:
            # What was granted and not trained goes back to the budget.
            self.reserved -= max(0, record.granted - record.trained)
            record.granted = None
            self.holding.discard(d.trial)
        if d.action is Action.CONTINUE:
            return
        if d.action is Action.PAUSE:
            record.state = TrialState.PAUSED
            return
        if d.reason is not None and d.reason.rule == "failed":
            record.state = TrialState.FAILED
        else:
            record.state = _TERMINAL[d.action]
        if d.action is Action.COMPLETE:
            self._complete(d.trial, record)

    def failed(self, trial: int, message: str) -> None:
        record = self.trials[trial]
        record.failures += 1
        record.error = message

    # --------------------------------------------------------------- reports
    def _handle(self, seg: Segment) -> None:
        trial = seg.trial
        record = self.trials[trial]
        start = record.trained
        if seg.start != start:
            raise RuntimeError(f"trial {trial}: backend returned epochs from {seg.start}, engine expected {start}")
        values = seg.values
        n = total = len(values)
        bad: Reason | None = None
        if not math.isfinite(sum(values)):  # a NaN or an infinity somewhere (or a sum that overflowed)
            n = next((i for i, value in enumerate(values) if not math.isfinite(value)), total)
            if n < total:
                bad = Reason("non-finite-metric", detail=f"{self.spec.metric}={values[n]!r} at epoch {start + n + 1}")
        decisions = self._ask(trial, start, values, n)
        granted = record.granted
        self.rec.reports(seg, total)
        # A non-finite epoch and any after it were trained (and logged) too.
        if n < total:
            self.reported(trial, start, values[:n], seg.times[:n], seg.worker,
                          seg.extra[:n] if seg.extra is not None else None, total)
        else:
            self.reported(trial, start, values, seg.times, seg.worker, seg.extra, total)
        end = start + n
        own = bool(decisions) and decisions[0].trial == trial  # the reporter's decision comes first
        if bad is not None or seg.error is not None or seg.missing is not None or seg.timed_out:
            if not own:
                decisions.extend(self._trial_left(trial, record.trained, seg, bad))
        elif not own:
            # The grant ended before the policy's decision point: the trainable returned
            # early, or the budget capped the grant.
            why = ("curve-cut-short" if seg.cut_short else "finished-early") if end < granted else "budget-exhausted"
            decisions.append(Decision(trial, end, Action.STOP,
                                      Reason(why, detail=f"trained {end} of {self.spec.max_epochs}")))
            decisions.extend(self._remove(trial, end))
        self._apply(decisions)

    def _ask(self, trial: int, start: int, values: Sequence[float], n: int) -> list[Decision]:
        """The policy's decisions on the first ``n`` (finite) values of a segment."""
        decisions: list[Decision] = []
        report = self.policy.report
        if self.policy.reads_every_epoch:
            epoch = start
            for value in values if n == len(values) else values[:n]:
                epoch += 1
                out = report(trial, epoch, value)
                if out:
                    decisions.extend(out)
        elif n:
            out = report(trial, start + n, values[n - 1])  # the only epoch that can be a decision point
            if out:
                decisions.extend(out)
        return decisions

    def _trial_left(self, trial: int, epoch: int, seg: Segment, bad: Reason | None) -> list[Decision]:
        """The trial ended abnormally: a non-finite metric, a timeout, or a failure (retried
        up to ``max_failures`` times from its checkpoint, or from scratch)."""
        record = self.trials[trial]
        if bad is not None:
            record.error = bad.detail
            return [Decision(trial, epoch, Action.STOP, bad), *self._remove(trial, epoch)]
        message = seg.missing or seg.error or "unknown error"
        self.rec.failed(trial, epoch, message, seg.traceback, self.backend.now())
        if seg.timed_out:
            record.error = message
            reason = Reason("trial-timeout", detail=message.splitlines()[0][:300])
            return [Decision(trial, epoch, Action.STOP, reason), *self._remove(trial, epoch)]
        self.failed(trial, message)
        retries = self.spec.max_failures
        if seg.missing is None and record.failures <= retries and self.halted is None:
            how = self.backend.submit(trial, record.config, epoch, record.granted, self.need_at[epoch])
            self._restarted(trial, epoch, how if how.restarted else Start.SCRATCH,
                            f"retry {record.failures} of {retries} after: {message.splitlines()[0][:200]}")
            return []
        reason = Reason("failed", detail=message.splitlines()[0][:300] if message else "")
        return [Decision(trial, epoch, Action.STOP, reason), *self._remove(trial, epoch)]

    # ------------------------------------------------------------- decisions
    def _apply(self, decisions: Sequence[Decision]) -> None:
        if not decisions:
            return
        now = self.backend.now()
        self.rec.decisions(decisions, now)
        backend, trials = self.backend, self.trials
        for d in decisions:
            trial = d.trial
            record = trials[trial]
            if d.action is Action.CONTINUE:
                self.decided(d)
                until = self._grant_more(trial, d.until, now)
                if until is None:
                    continue  # cut here: the STOP was applied already
                self.assigned(trial, record.trained, until)
                backend.extend(trial, until, self.need_at[record.trained])
                continue
            was = record.state
            self.decided(d)
            if was is TrialState.RUNNING:
                keep = d.action is Action.PAUSE or (d.action is Action.COMPLETE and self.best_trial == trial)
                backend.release(trial, keep=keep)
            elif was is TrialState.PAUSED and d.action is not Action.PAUSE:
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
            epoch = self.trials[trial].trained
            why = "budget-exhausted" if self.halted == "budget" else self.halted
            self._apply([Decision(trial, epoch, Action.STOP, Reason(why)), *self._remove(trial, epoch)])
            return None
        return until

    def _cap(self, trial: int, until: int) -> int | None:
        """``until`` cut to what the budget leaves; None when it leaves nothing."""
        if self.budget is None:
            return until
        room = self.budget - self.epochs_used - self.reserved
        record = self.trials.get(trial)
        return None if room <= 0 else min(until, (0 if record is None else record.trained) + room)

    def _complete(self, trial: int, record: TrialRecord) -> None:
        """A trial reached R: is it the new best? Only the best keeps its state (its model)."""
        value = record.final_value = record.last_value
        best = self.best_trial
        best_value = None if best is None else self.trials[best].final_value
        if best is None or self.direction.better(value, best_value) or (value == best_value and trial < best):
            if best is not None and self.trials[best].state is TrialState.COMPLETED:
                self.backend.release(best, keep=False)
            self.best_trial = trial

    def _restart_running(self) -> None:
        """After a replay, trials that were running when the driver died train on."""
        for trial in self.running():
            record = self.trials[trial]
            start = record.trained
            how = self.backend.submit(trial, record.config, start, record.granted, self.need_at[start])
            if how.restarted:
                self._restarted(trial, start, how)

    # ---------------------------------------------------------------- result
    def result(self, **extra: Any) -> Result:
        """The result as it stands; ``extra`` sets the fields only the caller knows
        (``wall_seconds``, ``run_dir``, ``backend_stats``, ...)."""
        best = self.best_trial
        trials = self.trials
        return Result(
            metric=self.spec.metric,
            mode=self.direction.mode,
            max_epochs=self.spec.max_epochs,
            policy=getattr(self.policy, "name", type(self.policy).__name__),
            best_trial=best,
            best_value=None if best is None else trials[best].final_value,
            best_config=None if best is None else trials[best].config,
            epochs_used=self.epochs_used,
            decisions=self.decisions,
            promotions=self.promotions,
            trials=trials,
            reports=self.reports,
            stop_reason=self.halted or ("done" if self.finished else "unfinished"),
            **extra,
        )
