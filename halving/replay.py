"""A logged experiment's state rebuilt through the live loop's transitions: how a run
resumes and how it is read back. (Re-deciding its recorded curves under other policies,
``halving replay``, is a simulation: ``simulation.replay_policies``.)"""

from __future__ import annotations

import json
import math
from typing import Callable, Iterable

import policies as P
from policies import Action

from .engine import Engine
from .errors import UserError
from .eventlog import EventKind, decision_from_event, json_text, reason_from_json

__all__ = ["ReplayMismatch", "replay_log"]


class ReplayMismatch(UserError):
    """The log does not match what the policy decides: not the same experiment."""


def replay_log(engine: Engine, events: Iterable[dict], *, strict: bool = True, check_proposals: bool = False) -> dict:
    """Rebuild ``engine``'s state from logged events by making its policy and its sampler the
    same calls in the same order. Raises ``ReplayMismatch`` when the policy disagrees with the log.

    ``check_proposals`` (a resume) asks the sampler again for each logged trial's config, at
    the same point of the log; ``stats["sampler"]`` says how many agreed and, at the first
    that does not, what the log holds and what the sampler proposes now: from there on the
    proposals are not those of an uninterrupted run. The logged configs are kept either way.

    ``strict=False`` reads a log with records missing (a damage in the middle): the policy
    is not consulted, and events of trials whose creation was lost are skipped and counted
    (``stats["skipped"]``), so what remains can be shown but not resumed."""
    state = _Replay(engine, check_proposals) if strict else _LenientReplay(engine)
    for ev in events:
        handler = state.handlers.get(ev["kind"])
        if handler is None:
            continue
        if not strict and ev["trial"] is not None and ev["trial"] not in engine.trials \
                and ev["kind"] != EventKind.TRIAL_CREATED.value:
            state.stats["skipped"] += 1
            continue
        handler(ev)
    # Reports logged for a grant that had not ended were trained but their grant is
    # still open: the reserved count is what remains of it.
    engine.reserved = sum(engine.trials[t].granted - engine.trials[t].trained for t in engine.running())
    return state.stats


class _Replay:
    """One handler per event kind, each the live loop's transition for that event."""

    def __init__(self, engine: Engine, check_proposals: bool = False) -> None:
        self.engine = engine
        self.stats = {"reports": 0, "decisions": 0, "assignments": 0}
        self.check = check_proposals
        if check_proposals:
            self.stats["sampler"] = {"name": engine.spec.sampler.name, "checked": 0, "same": 0, "diverged": None}
        self.tainted: set[int] = set()  # after a non-finite value the policy saw no more of a trial
        self.handlers: dict[str, Callable[[dict], None]] = {
            EventKind.TRIAL_CREATED.value: self.created,
            EventKind.ASSIGNED.value: self.assigned,
            EventKind.REPORT.value: self.report,
            EventKind.REFUSED.value: self.refused,
            EventKind.REMOVED.value: lambda ev: engine.policy.remove(ev["trial"], ev["epoch"]),
            EventKind.DECISION.value: self.decision,
            EventKind.TRIAL_FAILED.value: lambda ev: engine.failed(ev["trial"], json.loads(ev["payload"])["error"]),
            EventKind.RESTARTED.value: self.restarted,
            EventKind.EXPERIMENT_FINISHED.value: lambda ev: setattr(engine, "finished", True),
        }

    def created(self, ev: dict) -> None:
        if self.check:
            self._check_proposal(ev)
        self.engine.created(ev["trial"], json.loads(ev["payload"]))

    def _check_proposal(self, ev: dict) -> None:
        """Would the sampler, fed what it was fed before this point of the log, propose the
        logged config? The first disagreement is described, with the origins of both."""
        out = self.stats["sampler"]
        out["checked"] += 1
        proposal = self.engine.propose(ev["trial"])
        if json_text(proposal.config) == ev["payload"]:
            out["same"] += 1
            return
        if out["diverged"] is not None:
            return
        logged = json.loads(ev["reason"]) if ev.get("reason") else None
        now = proposal.origin(self.engine.spec.sampler.name)
        why = ("the log does not say how this config was proposed (written before samplers were logged)"
               if logged is None else
               f"the log's proposal came from {logged.get('model')} on {logged.get('n_obs')} observations; the "
               f"sampler now uses {now['model']} on {now['n_obs']}"
               + (" (the same inputs: the sampler's code or numpy changed, or it is not deterministic)"
                  if (logged.get("model"), logged.get("n_obs"), logged.get("pending")) ==
                  (now["model"], now["n_obs"], now["pending"]) else ""))
        out["diverged"] = {"trial": ev["trial"], "logged": json.loads(ev["payload"]), "now": proposal.config,
                           "logged_origin": logged, "now_origin": now, "why": why}

    def _next_is(self, ev: dict, what: str) -> P.Assignment:
        a = self.engine.policy.next()
        if not isinstance(a, P.Assignment) or a.trial != ev["trial"]:
            raise ReplayMismatch(f"the log {what} trial {ev['trial']} but the policy now gives {a!r}")
        return a

    def assigned(self, ev: dict) -> None:
        a = self._next_is(ev, "assigns")
        self.engine.assigned(ev["trial"], ev["epoch"], ev["until"], a.reason)
        self.stats["assignments"] += 1

    def refused(self, ev: dict) -> None:
        self._next_is(ev, "refuses")

    def report(self, ev: dict) -> None:
        engine = self.engine
        trial, epoch, value = ev["trial"], ev["epoch"], ev["value"]
        start = engine.trials[trial].trained
        if epoch != start + 1:
            raise ReplayMismatch(f"trial {trial} reports epoch {epoch} after {start}")
        extra = [json.loads(ev["metrics"])] if ev["metrics"] else None
        if value is not None and math.isfinite(value) and trial not in self.tainted:
            engine.policy.report(trial, epoch, value)
            worker = ev["worker"] if ev["worker"] is not None else -1
            engine.reported(trial, start, [value], [ev["time"]], worker, extra, 1)
        else:
            self.tainted.add(trial)
            engine.reported(trial, start, [], [], -1, None, 1)
        self.stats["reports"] += 1

    def decision(self, ev: dict) -> None:
        engine = self.engine
        d = decision_from_event(ev)
        engine.decided(d)
        if d.action is Action.CONTINUE:
            until = engine._cap(d.trial, d.until)
            if until is not None:  # else the log holds the STOP that followed
                engine.assigned(d.trial, engine.trials[d.trial].trained, until)
        self.stats["decisions"] += 1

    def restarted(self, ev: dict) -> None:
        self.engine.trials[ev["trial"]].restart = "replayed"


class _LenientReplay(_Replay):
    """The engine's transitions without the policy's: for reading a log with a hole."""

    def __init__(self, engine: Engine) -> None:
        super().__init__(engine)
        self.stats["skipped"] = 0
        self.handlers[EventKind.REFUSED.value] = lambda ev: None
        self.handlers[EventKind.REMOVED.value] = lambda ev: None

    def assigned(self, ev: dict) -> None:
        self.engine.assigned(ev["trial"], ev["epoch"], ev["until"], reason_from_json(ev["reason"]))
        self.stats["assignments"] += 1

    def report(self, ev: dict) -> None:
        engine = self.engine
        record = engine.trials[ev["trial"]]
        start, value = ev["epoch"] - 1, ev["value"]
        record.trained = max(record.trained, start)
        if value is not None and math.isfinite(value):
            extra = [json.loads(ev["metrics"])] if ev["metrics"] else None
            engine.reported(ev["trial"], start, [value], [ev["time"]], ev["worker"] if ev["worker"] is not None else -1,
                            extra, 1)
        self.stats["reports"] += 1

    def decision(self, ev: dict) -> None:
        self.engine.decided(decision_from_event(ev))
        self.stats["decisions"] += 1
