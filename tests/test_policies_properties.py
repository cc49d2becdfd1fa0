"""Invariants of every policy over random learning-curve tables (hypothesis)."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import halving
import policies as P
from halving import TrialState
from policies import Action
from halving.experiment import PolicySpec
from policies._rung import SortedScores

ALL = sorted(P.POLICIES)
RUNG_POLICIES = {"asha", "asha-stop", "asha-curve", "sha", "hyperband"}
TERMINAL = (Action.STOP, Action.COMPLETE)

SETTINGS = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])


class Spy(P.Policy):
    """Passes every call through to ``inner`` and records it, in order."""

    def __init__(self, inner: P.Policy) -> None:
        super().__init__()
        self.inner = inner
        self.name = inner.name
        self.events: list[tuple] = []

    def start(self, *, n_trials: int, max_epochs: int, mode: str = "max") -> None:
        self.inner.start(n_trials=n_trials, max_epochs=max_epochs, mode=mode)

    def next(self):
        a = self.inner.next()
        self.events.append(("assign", a) if isinstance(a, P.Assignment) else ("signal", a))
        return a

    def report(self, trial, epoch, value):
        out = self.inner.report(trial, epoch, value)
        self.events.append(("report", trial, epoch, value))
        self.events.extend(("decide", d) for d in out)
        return out

    def remove(self, trial, epoch):
        out = self.inner.remove(trial, epoch)
        self.events.append(("remove", trial, epoch))
        self.events.extend(("decide", d) for d in out)
        return out

    def finish(self):
        out = self.inner.finish()
        self.events.extend(("decide", d) for d in out)
        return out


def make_curves(seed: int, n: int, R: int, kind: str) -> np.ndarray:
    rng = np.random.default_rng(seed)
    if kind == "ties":
        return rng.integers(0, 3, size=(n, R)).astype(float)
    if kind == "normal":
        return rng.normal(size=(n, R))
    if kind == "increasing":
        return np.cumsum(rng.random((n, R)), axis=1)
    return np.full((n, R), float(rng.integers(-1, 2)))  # "constant": everything ties


@st.composite
def experiments(draw, names=ALL):
    name = draw(st.sampled_from(names))
    n = draw(st.integers(1, 60))
    R = draw(st.integers(1, 30))
    kind = draw(st.sampled_from(["ties", "normal", "increasing", "constant"]))
    seed = draw(st.integers(0, 2**32 - 1))
    params: dict = {}
    if name in RUNG_POLICIES:
        params["eta"] = draw(st.integers(2, 4))
        params["min_epochs"] = draw(st.integers(1, min(R, 3)))
    if name == "hyperband":
        params["inner"] = draw(st.sampled_from(["sha", "asha"]))
    if name in ("median", "bandit", "truncation"):
        params["evaluation_interval"] = draw(st.integers(1, 3))
        params["delay_evaluation"] = draw(st.integers(0, 4))
    return {
        "name": name,
        "curves": make_curves(seed, n, R, kind),
        "params": params,
        "workers": draw(st.integers(1, 8)),
        "mode": draw(st.sampled_from(["max", "min"])),
        "budget": draw(st.one_of(st.none(), st.integers(1, n * R))),
        "seed": draw(st.integers(0, 3)),
    }


def run(ex, *, budget="as drawn"):
    spy = Spy(PolicySpec.of(ex["name"], ex["params"], seed=ex["seed"]).build())
    result = halving.simulate(
        ex["curves"],
        policy=spy,
        mode=ex["mode"],
        workers=ex["workers"],
        seed=ex["seed"],
        budget=ex["budget"] if budget == "as drawn" else budget,
    )
    return result, spy.events


def columns(result):
    t = result.table()
    return (
        np.asarray(t.column("trial")).tolist(),
        np.asarray(t.column("epoch")).tolist(),
        np.asarray(t.column("value")).tolist(),
    )


@SETTINGS
@given(experiments())
def test_invariants(ex):
    curves = ex["curves"]
    n, R = curves.shape
    result, events = run(ex)
    trials, epochs, values = columns(result)

    # Accounting: one row per trained epoch, each (trial, epoch) at most once, never past R,
    # and each trial's epochs are 1..k with the curve's values.
    assert result.epochs_used == result.table().num_rows == len(trials)
    assert len(set(zip(trials, epochs))) == len(trials)
    assert all(1 <= e <= R for e in epochs)
    per_trial: dict[int, list[int]] = {}
    for t, e, v in zip(trials, epochs, values):
        per_trial.setdefault(t, []).append(e)
        assert v == curves[t, e - 1]
    for t, es in per_trial.items():
        assert sorted(es) == list(range(1, len(es) + 1))
    if ex["budget"] is not None:
        assert result.epochs_used <= ex["budget"]
    else:
        assert result.stop_reason == "done"

    # Order of calls: no stopped or completed trial is assigned or reported again; a trial
    # is new once; a promotion resumes a paused trial; nothing is granted past R.
    ended: set[int] = set()
    paused: set[int] = set()
    started: set[int] = set()
    for ev in events:
        if ev[0] == "assign":
            a = ev[1]
            assert a.trial not in ended, f"trial {a.trial} assigned after it ended"
            assert 0 <= a.trial < n and a.until <= R
            if a.new:
                assert a.trial not in started
                started.add(a.trial)
            else:
                assert a.trial in paused, f"trial {a.trial} promoted without being paused"
                paused.discard(a.trial)
        elif ev[0] == "signal":
            pass
        elif ev[0] == "report":
            assert ev[1] not in ended and ev[1] not in paused
        elif ev[0] == "remove":
            ended.add(ev[1])
            paused.discard(ev[1])
        else:
            d = ev[1]
            if d.action in TERMINAL:
                ended.add(d.trial)
                paused.discard(d.trial)
            elif d.action is Action.PAUSE:
                assert d.trial not in ended
                paused.add(d.trial)
            else:
                assert d.until <= R and d.trial not in ended
    # Engine-side stops (budget) also end a trial: none is assigned afterwards either.
    seen_end = {}
    for i, d in enumerate(result.decisions):
        if d.action in TERMINAL:
            assert d.trial not in seen_end, f"trial {d.trial} ended twice"
            seen_end[d.trial] = i
    assert set(result.states) == set(per_trial)
    # At the end nothing runs and nothing is left paused (finish() settles paused trials,
    # also when a budget ends the experiment early).
    assert not any(s in (TrialState.RUNNING, TrialState.PAUSED) for s in result.states.values())
    if ex["budget"] is None:
        # Without a budget every trial runs, and each ends stopped or completed.
        assert len(result.states) == n
        assert all(s in (TrialState.STOPPED, TrialState.COMPLETED) for s in result.states.values())
        # Stopping rules always let the first trial at an epoch go on, SH keeps
        # max(1, floor(n/eta)), and ASHA's end-game promotes until one trial reaches R.
        assert result.n_completed >= 1

    # Best: the best value at R among trials that reached R (ties: lowest trial id).
    at_R = [(t, v) for t, e, v in zip(trials, epochs, values) if e == R]
    if not at_R:
        assert result.best_trial is None and result.best_value is None
    else:
        sign = 1.0 if ex["mode"] == "max" else -1.0
        best = max(sign * v for _, v in at_R)
        winner = min(t for t, v in at_R if sign * v == best)
        assert result.best_trial == winner and result.best_value == sign * best
        assert {t for t, _ in at_R} == {d.trial for d in result.decisions if d.action is Action.COMPLETE}


@settings(max_examples=60, deadline=None)
@given(experiments(names=["sha"]))
def test_sha_keeps_floor_n_over_eta(ex):
    result, _ = run(ex, budget=None)
    n, R = ex["curves"].shape
    levels = P.rung_levels(ex["params"]["min_epochs"], R, ex["params"]["eta"])
    trials, epochs, _ = columns(result)
    expected = n
    for level in levels:
        got = len({t for t, e in zip(trials, epochs) if e == level})
        assert got == expected, f"level {level}"
        expected = max(1, expected // ex["params"]["eta"])


def asha_oracle(events, n: int, levels: list[int], eta: int, mode: str) -> int:
    """Replay the calls and check every answer of ``next`` against Algorithm 2 of
    Li et al. (2020), written out plainly: for k from the highest rung down, the
    best trial of the top floor(|rung k| / eta) not yet promoted goes to rung k+1;
    if there is none, a new trial starts at rung 0. Returns the number of promotions."""
    top = len(levels) - 1
    rungs: list[dict[int, float]] = [{} for _ in range(top)]
    promoted: list[set[int]] = [set() for _ in range(top)]
    target: dict[int, int] = {}  # running trial -> index of the level it trains to
    started = 0
    promotions = 0
    completed = 0
    for ev in events:
        if ev[0] in ("assign", "signal"):
            expected = None
            for k in range(top - 1, -1, -1):
                ranked = sorted(rungs[k], key=lambda t: (-rungs[k][t], t))[: len(rungs[k]) // eta]
                free = [t for t in ranked if t not in promoted[k]]
                if free:
                    expected = (free[0], levels[k + 1], False)
                    promoted[k].add(free[0])
                    target[free[0]] = k + 1
                    promotions += 1
                    break
            if expected is None and started < n:
                expected = (started, levels[0], True)
                target[started] = 0
                started += 1
            if expected is None and not target and not completed:
                # End-game (finite trials): the best waiting trial of the highest rung goes on.
                for k in range(top - 1, -1, -1):
                    free = sorted((t for t in rungs[k] if t not in promoted[k]), key=lambda t: (-rungs[k][t], t))
                    if free:
                        expected = (free[0], levels[k + 1], False)
                        promoted[k].add(free[0])
                        target[free[0]] = k + 1
                        promotions += 1
                        break
            if expected is None:
                assert ev == ("signal", P.WAIT if target else P.DONE)
            else:
                a = ev[1]
                assert ev[0] == "assign" and (a.trial, a.until, a.new) == expected
        elif ev[0] == "report":
            _, trial, epoch, value = ev
            k = target[trial]
            if epoch == levels[k]:
                del target[trial]
                if k < top:
                    rungs[k][trial] = value if mode == "max" else -value
                else:
                    completed += 1
    assert started == n and not target
    return promotions


@settings(max_examples=60, deadline=None)
@given(experiments(names=["asha"]))
def test_asha_follows_algorithm_2(ex):
    result, events = run(ex, budget=None)
    n, R = ex["curves"].shape
    eta = ex["params"]["eta"]
    levels = P.rung_levels(ex["params"]["min_epochs"], R, eta)
    promotions = asha_oracle(events, n, levels, eta, ex["mode"])
    assert promotions == sum(1 for ev in events if ev[0] == "assign" and not ev[1].new)
    trials, epochs, _ = columns(result)
    counts = [len({t for t, e in zip(trials, epochs) if e == level}) for level in levels]
    assert counts[0] == n
    assert all(above <= below for below, above in zip(counts, counts[1:]))


@settings(max_examples=40, deadline=None)
@given(experiments())
def test_same_seed_same_run(ex):
    a, _ = run(ex)
    b, _ = run(ex)
    assert a.decisions == b.decisions
    assert a.table().equals(b.table())
    assert (a.best_trial, a.epochs_used, a.states) == (b.best_trial, b.epochs_used, b.states)


@pytest.mark.parametrize("seed", range(200))
def test_sorted_scores_quantile_matches_numpy(seed):
    rng = np.random.default_rng(seed)
    n = int(rng.integers(1, 40))
    values = rng.integers(-5, 6, size=n).astype(float) if seed % 2 else rng.normal(size=n)
    scores = SortedScores()
    for trial, v in enumerate(values):
        scores.add(float(v), trial)
    for q in [0.0, 0.5, 1.0, 1 - 1 / 3, 1 - 1 / 4, float(rng.random())]:
        assert scores.quantile(q) == pytest.approx(np.quantile(values, q), rel=1e-12, abs=1e-12)
        if n > 1:
            skip = int(rng.integers(n))
            rest = np.delete(values, skip)
            got = scores.quantile(q, exclude=(float(values[skip]), skip))
            assert got == pytest.approx(np.quantile(rest, q), rel=1e-12, abs=1e-12)
    assert len(scores) == n  # exclude leaves the entry in place
