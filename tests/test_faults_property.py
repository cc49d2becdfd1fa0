"""Property test through the simulated backend: random policy, curves, workers and injected failures."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

import policies as P
from halving.backends.simulated import SimulatedBackend
from halving.engine import Engine
from halving.experiment import ExperimentSpec, PolicySpec
from halving.result import TrialState
from policies import Action


class ListRecorder:
    """The engine's Recorder protocol, kept in memory."""

    def __init__(self):
        self.events = []

    def trial_created(self, trial, config, time, origin=None):
        self.events.append(("created", trial))

    def assigned(self, trial, start, until, reason, time, how=None):
        self.events.append(("assigned", trial, start, until))

    def reports(self, segment, n):
        for i in range(len(segment.values)):
            self.events.append(("report", segment.trial, segment.start + i + 1))

    def removed(self, trial, epoch, time):
        self.events.append(("removed", trial))

    def decisions(self, decisions, time):
        for d in decisions:
            self.events.append(("decision", d.trial, d.action, d.reason.rule))

    def failed(self, trial, epoch, error, traceback, time):
        self.events.append(("failed", trial, epoch))

    def restarted(self, trial, epoch, info, time):
        self.events.append(("restarted", trial, epoch))

    def refused(self, trial, epoch, time):
        self.events.append(("refused", trial, epoch))

    def add(self, kind, time, **cols):
        self.events.append((kind, cols.get("trial")))

    def flush(self):
        pass


@st.composite
def scenarios(draw):
    n = draw(st.integers(1, 30))
    R = draw(st.integers(1, 12))
    seed = draw(st.integers(0, 2**16))
    curves = np.random.default_rng(seed).uniform(0, 1, size=(n, R)).cumsum(axis=1) / R
    name = draw(st.sampled_from(sorted(P.POLICIES)))
    fail = draw(st.sets(st.tuples(st.integers(0, n - 1), st.integers(1, R)), max_size=6))
    return {
        "curves": curves,
        "name": name,
        "workers": draw(st.integers(1, 6)),
        "failures": fail,
        "max_failures": draw(st.integers(0, 2)),
        "budget": draw(st.one_of(st.none(), st.integers(1, n * R))),
        "mode": draw(st.sampled_from(["max", "min"])),
    }


@settings(max_examples=150, deadline=None)
@given(scenarios())
def test_invariants_hold_under_injected_failures(sc):
    curves = sc["curves"]
    n, R = curves.shape
    spec = ExperimentSpec(metric="value", mode=sc["mode"], max_epochs=R, trials=n, budget=sc["budget"],
                          max_failures=sc["max_failures"], policy=PolicySpec.of(sc["name"]))
    rec = ListRecorder()
    backend = SimulatedBackend(curves, workers=sc["workers"], failures=sc["failures"])
    engine = Engine(spec, spec.policy.build(), backend, recorder=rec)
    engine.run()
    result = engine.result()

    # The budget is never exceeded.
    if sc["budget"] is not None:
        assert result.epochs_used <= sc["budget"]
    # Each report is logged exactly once, and all of them are in the table.
    reports = [(e[1], e[2]) for e in rec.events if e[0] == "report"]
    assert len(reports) == len(set(reports)) == result.table().num_rows
    # A trial that stopped, completed or failed never trains again.
    ended: set[int] = set()
    for e in rec.events:
        if e[0] in ("assigned", "report"):
            assert e[1] not in ended, e
        elif e[0] == "decision" and e[2] in (Action.STOP, Action.COMPLETE):
            ended.add(e[1])
    # A failure is retried at most max_failures times, then the trial fails.
    for trial in {e[1] for e in rec.events if e[0] == "failed"}:
        times = sum(1 for e in rec.events if e[0] == "failed" and e[1] == trial)
        assert times <= sc["max_failures"] + 1
        if times > sc["max_failures"]:
            assert result.states[trial] is TrialState.FAILED
    # One best, among healthy trials that reached R.
    completed = [t for t, s in result.states.items() if s is TrialState.COMPLETED]
    if completed:
        assert result.best_trial in completed
        finals = {t: curves[t, R - 1] for t in completed}
        best = max(finals.values()) if sc["mode"] == "max" else min(finals.values())
        assert result.best_value == best
    else:
        assert result.best_trial is None
    assert not any(s in (TrialState.RUNNING, TrialState.PAUSED) for s in result.states.values())
    if sc["budget"] is None and not sc["failures"]:
        assert completed
