"""``halving.simulate``: a policy on a table of learning curves, in virtual time."""

from __future__ import annotations

import numpy as np
import pytest

import halving
import policies as P
from halving import TrialState
from halving.backends.simulated import SimulatedBackend
from halving.engine import Engine
from halving.experiment import ExperimentSpec, PolicySpec
from policies import Action

ALL = sorted(P.POLICIES)


def curves_of(n: int, R: int, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).random((n, R))


# -- arguments --------------------------------------------------------------------


@pytest.mark.parametrize(
    "curves",
    [
        [1.0, 2.0, 3.0],  # 1-D
        np.zeros((2, 3, 4)),  # 3-D
        np.zeros((0, 5)),  # no trials
        np.zeros((5, 0)),  # no epochs
        3.0,  # a scalar
    ],
    ids=["1-D", "3-D", "no-trials", "no-epochs", "scalar"],
)
def test_bad_curve_shapes(curves):
    with pytest.raises(ValueError, match="shape"):
        halving.simulate(curves, policy="asha")


@pytest.mark.parametrize("workers", [0, -1, 1.5, True, "2"])
def test_bad_workers(workers):
    with pytest.raises(ValueError, match="workers"):
        halving.simulate(curves_of(3, 3), policy="none", workers=workers)


@pytest.mark.parametrize("budget", [0, -5, True, 2.5])
def test_bad_budget(budget):
    with pytest.raises(ValueError, match="budget"):
        halving.simulate(curves_of(3, 3), policy="none", budget=budget)


@pytest.mark.parametrize("epoch_seconds", [0.0, -1.0, [1.0, 0.0, 1.0]])
def test_bad_epoch_seconds(epoch_seconds):
    with pytest.raises(ValueError, match="epoch_seconds"):
        halving.simulate(curves_of(3, 3), policy="none", epoch_seconds=epoch_seconds)


def test_bad_policy_arguments():
    curves = curves_of(3, 3)
    with pytest.raises(ValueError, match="'nope'"):
        halving.simulate(curves, policy="nope")
    with pytest.raises(TypeError, match="policy must be"):
        halving.simulate(curves, policy=3)
    with pytest.raises(TypeError, match="eta"):
        halving.simulate(curves, policy=P.ASHA(), eta=3)  # parameters go to the object
    with pytest.raises(TypeError, match="'gamma'"):
        halving.simulate(curves, policy="asha", gamma=2)
    with pytest.raises(ValueError, match="mode='maximize'"):
        halving.simulate(curves, policy="asha", mode="maximize")


# -- policy by name or as an object ------------------------------------------------


@pytest.mark.parametrize(
    "name, params, obj",
    [
        ("asha", {}, lambda: P.ASHA()),
        ("asha", {"eta": 2, "min_epochs": 2}, lambda: P.ASHA(eta=2, min_epochs=2)),
        ("sha", {"eta": 4}, lambda: P.SuccessiveHalving(eta=4)),
        ("asha-stop", {}, lambda: P.ASHAStop()),
        ("hyperband", {"inner": "asha"}, lambda: P.Hyperband(inner="asha", seed=0)),
        ("median", {"grace": 2}, lambda: P.MedianStopping(grace=2)),
        ("bandit", {}, lambda: P.Bandit(slack_factor=0.1)),
        ("bandit", {"slack_amount": 0.05}, lambda: P.Bandit(slack_amount=0.05)),
        ("truncation", {"truncation_percentage": 30}, lambda: P.TruncationSelection(truncation_percentage=30)),
        ("none", {}, lambda: P.NoPruning()),
    ],
)
def test_policy_by_name_or_object(name, params, obj):
    curves = curves_of(30, 9, seed=5)
    a = halving.simulate(curves, policy=name, workers=3, **params)
    b = halving.simulate(curves, policy=obj(), workers=3)
    assert a.policy == b.policy == name
    assert a.decisions == b.decisions
    assert a.table().equals(b.table())
    assert (a.best_trial, a.best_value, a.epochs_used) == (b.best_trial, b.best_value, b.epochs_used)


# -- virtual time -------------------------------------------------------------------


@pytest.mark.parametrize(
    "workers, epoch_seconds, makespan",
    [
        # 4 trials x 3 epochs, no pruning: each trial is one 3-epoch assignment.
        (2, None, 6.0),  # default cost 1: two rounds of 3
        (2, 1.0, 6.0),
        (2, 0.5, 3.0),
        (1, 1.0, 12.0),
        (4, 1.0, 3.0),
        (8, 2.0, 6.0),
        (3, 1.0, 6.0),  # 3 trials at once, then the 4th alone
        # Per trial, costs 1, 2, 3, 4 per epoch (3, 6, 9, 12 per trial):
        (1, [1.0, 2.0, 3.0, 4.0], 30.0),  # 3 + 6 + 9 + 12
        (2, [1.0, 2.0, 3.0, 4.0], 18.0),  # w1: t0 0-3, t2 3-12; w2: t1 0-6, t3 6-18
        (4, [1.0, 2.0, 3.0, 4.0], 12.0),
        (2, np.array([4.0, 1.0, 1.0, 1.0]), 12.0),  # w1: t0 0-12; w2: t1 0-3, t2 3-6, t3 6-9
    ],
)
def test_virtual_seconds_no_pruning(workers, epoch_seconds, makespan):
    result = halving.simulate(np.ones((4, 3)), policy="none", workers=workers, epoch_seconds=epoch_seconds)
    assert result.virtual_seconds == pytest.approx(makespan)
    assert result.epochs_used == 12


@pytest.mark.parametrize("name", ALL)
def test_one_worker_makespan_is_epochs_used(name):
    # One worker at cost 1 is never idle: the makespan is the number of epochs trained.
    result = halving.simulate(curves_of(20, 9, seed=1), policy=name, workers=1)
    assert result.virtual_seconds == pytest.approx(result.epochs_used)
    cost = halving.simulate(curves_of(20, 9, seed=1), policy=name, workers=1, epoch_seconds=2.5)
    assert cost.virtual_seconds == pytest.approx(2.5 * result.epochs_used)
    assert cost.decisions == result.decisions


def test_report_times_are_virtual():
    result = halving.simulate(np.ones((2, 3)), policy="none", workers=1, epoch_seconds=2.0)
    t = result.table()
    rows = sorted(zip(t.column("trial").to_pylist(), t.column("epoch").to_pylist(), t.column("time").to_pylist()))
    # Trial 0 trains epochs 1-3 in [0, 6], trial 1 in [6, 12].
    assert rows == [(0, 1, 2.0), (0, 2, 4.0), (0, 3, 6.0), (1, 1, 8.0), (1, 2, 10.0), (1, 3, 12.0)]


# -- the result ------------------------------------------------------------------------


@pytest.mark.parametrize("name", ALL)
def test_table_columns_and_rows(name):
    curves = curves_of(25, 9, seed=2)
    result = halving.simulate(curves, policy=name, workers=4)
    t = result.table()
    assert t.column_names[:3] == ["trial", "epoch", "value"]
    assert t.num_rows == result.epochs_used
    trials, epochs, values = (t.column(c).to_numpy() for c in ("trial", "epoch", "value"))
    np.testing.assert_array_equal(values, curves[trials, epochs - 1])
    assert result.best_config == {"row": result.best_trial}
    assert result.best_value == curves[result.best_trial, -1]


def test_metric_names_the_column_and_mode_min_picks_the_lowest():
    curves = np.array([[3.0, 2.0], [1.0, 0.5], [2.0, 1.0]])
    result = halving.simulate(curves, policy="none", metric="loss", mode="min")
    assert "loss" in result.table().column_names and result.metric == "loss"
    assert (result.best_trial, result.best_value) == (1, 0.5)


def test_best_ties_go_to_the_lowest_trial():
    result = halving.simulate(np.ones((5, 2)), policy="none", workers=5)
    assert result.best_trial == 0


# -- budget -----------------------------------------------------------------------------


def test_budget_by_hand():
    # No pruning, 1 worker, budget 5 epochs: trial 0 trains 3 and completes; trial 1 gets the 2
    # that are left and stops there; no room is left for trial 2.
    result = halving.simulate(np.arange(12.0).reshape(4, 3), policy="none", workers=1, budget=5)
    assert result.epochs_used == 5 and result.table().num_rows == 5
    assert result.stop_reason == "budget"
    assert result.states == {0: TrialState.COMPLETED, 1: TrialState.STOPPED}
    assert result.best_trial == 0
    (stop,) = [d for d in result.decisions if d.action is Action.STOP]
    assert (stop.trial, stop.epoch, stop.reason.rule) == (1, 2, "budget-exhausted")


def test_budget_sha_leaves_nothing_paused():
    # 9 trials (value = trial id), eta 3, R 9, budget 10: rung 0 uses 9 epochs and promotes
    # 8, 7, 6; trial 8 gets the 1 epoch left (to epoch 2) and is cut; trial 7 is refused; trial 6,
    # promoted but never resumed, is stopped by finish().
    curves = np.repeat(np.arange(9.0)[:, None], 9, axis=1)
    result = halving.simulate(curves, policy="sha", workers=1, budget=10)
    assert result.epochs_used == 10 and result.stop_reason == "budget"
    assert all(s is TrialState.STOPPED for s in result.states.values()) and len(result.states) == 9
    final = {d.trial: (d.epoch, d.reason.rule) for d in result.decisions if d.action is Action.STOP}
    assert final[8] == (2, "budget-exhausted")
    assert final[7] == (1, "budget-exhausted")
    assert final[6] == (1, "not-resumed")
    assert {t: final[t] for t in range(6)} == {t: (1, "top-k") for t in range(6)}
    assert result.best_trial is None


@pytest.mark.parametrize("name", ALL)
@pytest.mark.parametrize("budget", [1, 7, 40, 150])
@pytest.mark.parametrize("workers", [1, 3])
def test_budget_caps_epochs(name, budget, workers):
    result = halving.simulate(curves_of(30, 9, seed=3), policy=name, workers=workers, budget=budget)
    assert result.epochs_used <= budget
    assert result.table().num_rows == result.epochs_used
    assert not any(s in (TrialState.RUNNING, TrialState.PAUSED) for s in result.states.values())
    unlimited = halving.simulate(curves_of(30, 9, seed=3), policy=name, workers=workers)
    assert result.epochs_used == min(budget, unlimited.epochs_used)


# -- the engine releases what it no longer needs ---------------------------------------


class RecordingBackend(SimulatedBackend):
    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.released: list[tuple[int, bool]] = []

    def release(self, trial: int, keep: bool) -> None:
        self.released.append((trial, keep))


@pytest.mark.parametrize("name", ["sha", "asha", "hyperband", "asha-stop", "median"])
@pytest.mark.parametrize("budget", [None, 60])
def test_ended_trials_are_released(name, budget):
    # A trial's state is held only while it may train again (paused) or is the best model:
    # a paused trial that is later stopped must be released with keep=False.
    curves = curves_of(27, 9, seed=4)
    spec = ExperimentSpec(metric="value", mode="max", max_epochs=9, trials=27, budget=budget,
                          policy=PolicySpec.of(name))
    backend = RecordingBackend(curves, workers=3)
    engine = Engine(spec, spec.policy.build(), backend)
    engine.run()
    result = engine.result()
    last = {}
    for trial, keep in backend.released:
        last[trial] = keep
    for trial, state in result.states.items():
        if trial == result.best_trial:
            assert last[trial] is True
        else:
            assert last.get(trial) is False, f"trial {trial} ({state.value}) still held"


# -- scale ----------------------------------------------------------------------------


def test_twenty_thousand_trials_asha():
    rng = np.random.default_rng(0)
    curves = np.sort(rng.random((20_000, 27)), axis=1)
    result = halving.simulate(curves, policy="asha", workers=8)
    assert result.n_trials == 20_000
    assert result.stop_reason == "done"
    assert 20_000 <= result.epochs_used < 20_000 * 27
    assert result.best_trial is not None


class _Recording(P.Policy):
    """Wraps a policy and records the reports the engine hands it."""

    def __init__(self, inner: P.Policy, reads_every_epoch: bool) -> None:
        super().__init__()
        self.inner = inner
        self.reads_every_epoch = reads_every_epoch
        self.seen: list[tuple[int, int]] = []

    def _setup(self) -> None:
        self.inner.start(n_trials=self.n_trials, max_epochs=self.max_epochs, mode=self.direction.mode)

    def next(self):
        return self.inner.next()

    def report(self, trial, epoch, value):
        self.seen.append((trial, epoch))
        return self.inner.report(trial, epoch, value)

    def remove(self, trial, epoch):
        return self.inner.remove(trial, epoch)

    def finish(self):
        return self.inner.finish()


@pytest.mark.parametrize("name", ["sha", "asha", "asha-stop", "hyperband"])
def test_rung_policies_are_asked_only_at_decision_points_with_the_same_outcome(name):
    curves = np.random.default_rng(3).random((40, 27)).cumsum(axis=1)
    every = _Recording(P.make(name, **({"seed": 0} if name == "hyperband" else {})), reads_every_epoch=True)
    points = _Recording(P.make(name, **({"seed": 0} if name == "hyperband" else {})), reads_every_epoch=False)
    a = halving.simulate(curves, policy=every, workers=3)
    b = halving.simulate(curves, policy=points, workers=3)
    assert a.decisions == b.decisions and a.best_trial == b.best_trial and a.epochs_used == b.epochs_used
    assert a.table().equals(b.table())  # every epoch is still recorded
    assert len(every.seen) == a.table().num_rows
    # Only the last epoch of each grant: the rung levels (1, 3, 9, 27 for eta 3).
    assert 0 < len(points.seen) < len(every.seen)
    assert {epoch for _, epoch in points.seen} <= {1, 3, 9, 27}
    assert P.make(name, **({"seed": 0} if name == "hyperband" else {})).reads_every_epoch is False


def test_a_policy_reads_every_epoch_unless_it_says_otherwise():
    assert P.Policy.reads_every_epoch is True
    for name in ["median", "bandit", "truncation"]:
        assert P.make(name).reads_every_epoch is True
