"""halving.tune on a real local Ray (one session for all tests)."""

from __future__ import annotations

import sys

import numpy as np
import pytest

import halving
from halving import space
from halving.result import TrialState

from . import _trainables as T
from ._results import assert_results_match_the_log

pytestmark = pytest.mark.usefixtures("ray_session")


@pytest.fixture(scope="module", autouse=True)
def _ship_trainables():
    from ray import cloudpickle

    cloudpickle.register_pickle_by_value(T)


SPACE = {"x": space.uniform(0.0, 1.0), "slow": space.uniform(0.0, 1.0)}


def test_every_epoch_trains_under_an_assignment_already_on_disk(tmp_path):
    # Short epochs: several assignments go to a worker per call, sent once the engine flushed.
    run = tmp_path / "run"
    grid = {"x": space.grid([round(i / 40, 4) for i in range(1, 41)]), "run_dir": str(run)}
    result = halving.tune(T.train_reading_its_log, grid, metric="acc", mode="max", policy="asha", max_epochs=9,
                          workers=2, run_dir=run)
    logged = result.table().column("logged").to_pylist()
    assert len(logged) == result.epochs_used and all(v == 1 for v in logged)


@pytest.mark.parametrize("sampler, batched", [("random", True), ("tpe", False)])
def test_short_assignments_share_calls_unless_the_sampler_learns_from_reports(tmp_path, sampler, batched):
    grid_free = {"x": space.uniform(0.0, 1.0), "kill_x": -1.0, "dir": str(tmp_path)}
    result = halving.tune(T.train_quick_self_kill, grid_free, metric="acc", mode="max", policy="asha", max_epochs=9,
                          trials=60, workers=2, seed=0, sampler=sampler, run_dir=tmp_path / "run")
    trips, assigned = result.backend_stats["round_trips"], len(_assigned(tmp_path / "run"))
    assert (trips < assigned / 2) if batched else (trips == assigned)


def _assigned(run_dir) -> list:
    from halving.eventlog import iter_events, read_events

    return [e for e in iter_events(read_events(run_dir)) if e["kind"] == "assigned"]


def test_promoted_trials_continue_from_their_last_epoch(tmp_path):
    result = halving.tune(T.train_counting, SPACE, metric="acc", mode="max", policy="asha", max_epochs=9, trials=27,
                          workers=2, seed=1, run_dir=tmp_path / "run")
    table = result.table()
    assert table.column("own_epoch").to_pylist() == table.column("epoch").to_pylist()
    # Some trials really were promoted after pausing (ASHA pauses every trial at each rung).
    promoted = {t for t, e in zip(table.column("trial").to_pylist(), table.column("epoch").to_pylist()) if e > 1}
    assert len(promoted) >= 3
    assert result.backend_stats["warm_promotions"] >= len(promoted) - 1


def test_class_trainable_promotes_and_moves_state_without_retraining(tmp_path):
    result = halving.tune(T.CountingClass, SPACE, metric="acc", mode="max", policy="sha", max_epochs=9, trials=27,
                          workers=2, run_dir=tmp_path / "run")
    table = result.table()
    assert table.column("own_epoch").to_pylist() == table.column("epoch").to_pylist()
    assert result.epochs_used == 27 + 9 * 2 + 3 * 6
    assert result.best_model == ("model", result.best_config["x"], 9)


def test_budget_is_exact(tmp_path):
    result = halving.tune(T.train_counting, SPACE, metric="acc", mode="max", policy="asha", max_epochs=9, trials=40,
                          budget=50, workers=2, run_dir=tmp_path / "run")
    assert result.epochs_used == 50
    assert result.table().num_rows == 50
    assert result.stop_reason == "budget"


@pytest.mark.parametrize("lookahead", [0, 1])
def test_concurrency_stays_within_workers(tmp_path, lookahead):
    # With a lookahead, a worker holds its next assignment while it trains: still one trial at a time.
    result = halving.tune(T.train_timed, SPACE, metric="acc", mode="max", policy="asha", max_epochs=3, trials=12,
                          workers=2, lookahead=lookahead, run_dir=tmp_path / "run")
    table = result.table()
    events = sorted([(t, 1) for t in table.column("t0").to_pylist()] + [(t, -1) for t in table.column("t1").to_pylist()],
                    key=lambda e: (e[0], e[1]))
    running = peak = 0
    for _, step in events:
        running += step
        peak = max(peak, running)
    assert 1 <= peak <= 2


def test_best_is_best_among_trials_that_reached_max_epochs(tmp_path):
    result = halving.tune(T.train_counting, SPACE, metric="acc", mode="max", policy="asha", max_epochs=9, trials=27,
                          workers=2, run_dir=tmp_path / "run")
    table = result.table()
    at_r = [(v, t) for t, e, v in zip(table.column("trial").to_pylist(), table.column("epoch").to_pylist(),
                                      table.column("acc").to_pylist()) if e == 9]
    assert at_r
    assert result.best_value == max(at_r)[0]
    assert result.states[result.best_trial] is TrialState.COMPLETED


def test_sha_on_ray_makes_the_same_decisions_as_simulate(tmp_path):
    n, R = 27, 9
    result = halving.tune(T.train_counting, SPACE, metric="acc", mode="max", policy="sha", max_epochs=R, trials=n, workers=2,
                          seed=3, run_dir=tmp_path / "run")
    configs = [result.configs[i] for i in range(n)]
    curves = np.array([[T.curve(c, e) for e in range(1, R + 1)] for c in configs])
    sim = halving.simulate(curves, policy="sha", workers=2, seed=3)

    def fate(r):
        # "waiting-for-rung" pauses depend on which trial reports last at a rung (arrival order);
        # every other decision (who is promoted, who stops where) must be identical.
        return sorted((d.trial, d.epoch, d.action.value, d.reason.rank) for d in r.decisions
                      if d.reason.rule != "waiting-for-rung")

    assert fate(result) == fate(sim)
    assert result.best_trial == sim.best_trial
    assert result.epochs_used == sim.epochs_used


def test_metrics_become_columns_and_load_matches(tmp_path):
    run = tmp_path / "run"
    result = halving.tune(T.train_counting, SPACE, metric="acc", mode="max", policy="asha", max_epochs=3, trials=9, workers=2,
                          run_dir=run)
    assert {"trial", "epoch", "acc", "own_epoch", "pid"} <= set(result.table().column_names)
    loaded = halving.load(run)
    assert loaded.best_trial == result.best_trial
    assert loaded.best_config == result.best_config
    assert loaded.epochs_used == result.epochs_used
    assert [(d.trial, d.epoch, d.action) for d in loaded.decisions] == [
        (d.trial, d.epoch, d.action) for d in result.decisions]
    assert_results_match_the_log(run, tmp_path)


def test_a_raising_trial_fails_and_others_go_on(tmp_path):
    grid = {"kind": space.grid(["ok", "raise", "nan", "missing"]), "x": space.grid([0.0, 0.5])}
    result = halving.tune(T.train_faulty, grid, metric="acc", mode="max", policy="none", max_epochs=3, workers=2,
                          run_dir=tmp_path / "run")
    by_kind = {}
    for trial, cfg in result.configs.items():
        by_kind.setdefault(cfg["kind"], []).append(trial)
    for t in by_kind["raise"]:
        assert result.states[t] is TrialState.FAILED
        assert "boom in trial code" in result.failures[t]
    epochs = {}
    for t, e in zip(result.table().column("trial").to_pylist(), result.table().column("epoch").to_pylist()):
        epochs[t] = max(epochs.get(t, 0), e)
    for t in by_kind["nan"]:
        assert result.states[t] is TrialState.STOPPED
        reasons = [d.reason.rule for d in result.decisions if d.trial == t]
        assert reasons == ["non-finite-metric"]
        # Stopped at the NaN report (epoch 2 of a grant to 3), not at the end of its grant.
        assert epochs[t] == 1 and result.epochs_used == sum(epochs.values()) + len(by_kind["nan"])
    for t in by_kind["missing"]:
        assert result.states[t] is TrialState.FAILED
        assert "no metric 'acc'" in result.failures[t] and "['loss', 'other']" in result.failures[t]
    for t in by_kind["ok"]:
        assert result.states[t] is TrialState.COMPLETED
    assert result.n_failed == 4
    assert result.best_config == {"kind": "ok", "x": 0.5}


def test_survivors_get_more_cpus(tmp_path):
    result = halving.tune(T.CpuClass, SPACE, metric="acc", mode="max", policy="sha", max_epochs=9, trials=9, workers=2,
                          cpus=[1, 2], run_dir=tmp_path / "run")
    table = result.table()
    rows = list(zip(table.column("epoch").to_pylist(), table.column("cpus").to_pylist(),
                    table.column("ray_cpus").to_pylist()))
    assert all(c == 1 and r == 1.0 for e, c, r in rows if e == 1)
    # Above the first rung the trial runs in a worker Ray placed with 2 CPUs.
    assert all(c == 2 and r == 2.0 for e, c, r in rows if e > 1)
    assert table.column("own_epoch").to_pylist() == table.column("epoch").to_pylist()
    assert result.epochs_used == 9 + 3 * 2 + 1 * 6
    assert result.backend_stats["migrations"] + result.backend_stats["spilled"] >= 3


def test_moved_and_returned_state_is_writable(tmp_path):
    """State and models cross the object store as pickled bytes: numpy arrays stay writable."""
    from halving.examples.class_trainable import SGDDigits

    from ray import cloudpickle

    cloudpickle.register_pickle_by_value(sys.modules[SGDDigits.__module__])
    result = halving.tune(SGDDigits, sys.modules[SGDDigits.__module__].space, metric="val_accuracy", mode="max",
                          policy="sha", max_epochs=9, trials=27, workers=2, run_dir=tmp_path / "run")
    assert result.n_failed == 0, result.failures
    assert result.backend_stats["migrations"] + result.backend_stats["warm_promotions"] > 0
    model = result.best_model
    X = np.random.default_rng(0).normal(size=(20, 64))
    y = np.arange(20) % 10
    model.partial_fit(X, y)  # raises on read-only coefficient arrays
    assert model.predict(X).shape == (20,)


def test_a_trainable_workers_cannot_load_fails_fast(tmp_path):
    # A function of a module that exists only in this process: workers cannot import it.
    import types

    fake = types.ModuleType("halving_no_such_module_for_workers")
    exec("def train(config):\n    import halving\n    halving.report(acc=1.0)\n", fake.__dict__)
    fake.train.__module__ = "halving_no_such_module_for_workers"
    sys.modules["halving_no_such_module_for_workers"] = fake
    try:
        with pytest.raises(RuntimeError, match="could not start or load the trainable"):
            halving.tune(fake.train, SPACE, metric="acc", mode="max", max_epochs=3, trials=3, workers=2,
                         run_dir=tmp_path / "run")
    finally:
        del sys.modules["halving_no_such_module_for_workers"]
    # The workers started while the log was made, but no record was written before they
    # failed: the run dir claims no experiment, and the same call with a loadable trainable
    # (no resume) runs in it, as does reading it back.
    from halving.eventlog import read_events

    assert read_events(tmp_path / "run").num_rows == 0
    assert not (tmp_path / "run" / "spec.json").exists()
    result = halving.tune(T.train_counting, SPACE, metric="acc", mode="max", max_epochs=3, trials=3, workers=2,
                          run_dir=tmp_path / "run")
    assert result.n_failed == 0 and len(result.configs) == 3
    assert halving.load(tmp_path / "run").best_trial == result.best_trial


def test_promotions_carry_their_reasons_and_survive_load(tmp_path):
    run = tmp_path / "run"
    result = halving.tune(T.train_counting, SPACE, metric="acc", mode="max", policy="asha", max_epochs=9, trials=27, workers=2,
                          run_dir=run)
    assert result.promotions
    for p in result.promotions:
        assert p.reason.rule in ("top-k", "end-game") and p.until in (3, 9)
        assert p.reason.rank <= max(1, p.reason.compared // 3) or p.reason.rule == "end-game"
    assert halving.load(run).promotions == result.promotions


def test_paused_trials_past_the_memory_bound_spill_to_checkpoints(tmp_path):
    result = halving.tune(T.CountingClass, SPACE, metric="acc", mode="max", policy="asha", max_epochs=9, trials=27, workers=2,
                          paused_in_memory=2, run_dir=tmp_path / "run")
    assert result.backend_stats["spilled"] > 0
    assert result.n_failed == 0
    table = result.table()
    # Promoted from a checkpoint on disk, the trial goes on from where it paused.
    assert table.column("own_epoch").to_pylist() == table.column("epoch").to_pylist()
    # Once no trial can need them, the checkpoints (and their signatures) are gone.
    assert not list((tmp_path / "run" / "checkpoints").glob("*"))


def test_idle_workers_are_kept_only_inside_reuse_workers(tmp_path, monkeypatch):
    import time

    import ray

    from halving.backends import ray_pool

    # The test session runs inside reuse_workers(): after a tune() its workers wait, holding CPUs.
    halving.tune(T.train_counting, SPACE, metric="acc", mode="max", max_epochs=3, trials=3, workers=2, run_dir=tmp_path / "a")
    assert len(ray_pool._idle["actors"]) == 2
    ray_pool.release_idle_workers()
    # Outside reuse_workers() (the default), a tune() leaves nothing holding CPUs.
    monkeypatch.setitem(ray_pool._idle, "keep", 0)
    halving.tune(T.train_counting, SPACE, metric="acc", mode="max", max_epochs=3, trials=3, workers=2, run_dir=tmp_path / "b")
    assert ray_pool._idle["actors"] == []
    deadline = time.time() + 30
    while ray.available_resources().get("CPU", 0) < 2 and time.time() < deadline:
        time.sleep(0.2)
    assert ray.available_resources().get("CPU", 0) == 2


def test_time_queued_behind_another_trial_is_not_training_time(tmp_path):
    # One worker, lookahead 1: the second trial waits on the worker while the first trains 0.9 s.
    # Only its own 0.9 s count toward trial_timeout, not the wait.
    grid = {"x": space.grid([0.3, 0.6]), "sleep": space.grid([0.3])}
    result = halving.tune(T.train_counting, grid, metric="acc", mode="max", policy="none", max_epochs=3, workers=1,
                          lookahead=1, trial_timeout=1.5, run_dir=tmp_path / "run")
    assert result.n_completed == 2
    assert not result.failures
    assert len(set(result.table().column("pid").to_pylist())) == 1  # one worker: never a second one
