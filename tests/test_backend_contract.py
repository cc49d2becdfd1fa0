"""The backend contract: the same scenarios (promotion, budget, failure, timeout, resume)
run through the simulated backend and the Ray backend must end the same way.

Both run the engine through ``tuner.run_logged`` with an event log. The simulated backend
reads the trainable's curve; the Ray backend trains ``_trainables.train_contract`` on real
actors. Synchronous successive halving decides the same whatever the timing, so its
decisions must be identical on both.
"""

from __future__ import annotations

import numpy as np
import pytest

from halving import space
from halving.backends.checkpoints import CheckpointStore
from halving.backends.simulated import SimulatedBackend
from halving.eventlog import iter_events, read_events
from halving.experiment import ExperimentSpec, PolicySpec
from halving.result import TrialState
from halving.tuner import run_logged

from . import _trainables as T

pytestmark = pytest.mark.usefixtures("ray_session")

XS = [0.9, 0.1, 0.5, 0.7, 0.3, 0.8, 0.2, 0.6, 0.4]
SLOW = 0.3  # seconds (virtual on the simulator) an epoch of the slow trial takes


def _spec(*, trap: float = -1.0, slow_x: float = -1.0, **changes) -> ExperimentSpec:
    grid = {"x": space.grid(XS), "trap": space.grid([trap]), "slow_x": space.grid([slow_x]),
            "slow": space.grid([SLOW])}
    settings = dict(metric="acc", mode="max", max_epochs=9, trials=None, workers=2, seed=0,
                    policy=PolicySpec.of("sha"))
    settings.update(changes)
    return ExperimentSpec(space=grid, **settings)


def _simulated(spec: ExperimentSpec, run_dir) -> SimulatedBackend:
    configs = [spec.config_of(t) for t in range(spec.n_trials)]
    traps = {(t, 2) for t, c in enumerate(configs) if c["x"] == c["trap"]}
    costs = np.array([SLOW if c["x"] == c["slow_x"] else 0.002 for c in configs])
    return SimulatedBackend(lambda t, e: T.curve(configs[t], e), workers=spec.workers, epoch_seconds=costs,
                            failures=traps, trial_timeout=spec.trial_timeout)


def _ray(spec: ExperimentSpec, run_dir):
    from halving.backends.ray_backend import RayBackend

    return RayBackend(T.train_contract, spec, workers=spec.workers, class_trainable=False,
                      checkpoints=CheckpointStore(run_dir / "checkpoints"))


BACKENDS = {"simulated": _simulated, "ray": _ray}


def _run(kind: str, spec: ExperimentSpec, run_dir, *, events=None, progress=None):
    backend = BACKENDS[kind](spec, run_dir)
    try:
        return run_logged(spec, spec.policy.build(), backend, run_dir, events, progress)
    finally:
        backend.close()


def _decisions(result) -> dict[int, tuple]:
    """Each trial's fate: its state, the epoch it ended at and why. (Which trial of a rung
    is paused and which is judged on arrival depends on the arrival order, not its fate.)"""
    last = {d.trial: d for d in result.decisions}
    return {t: (result.states[t].value, d.epoch, d.reason.rule) for t, d in last.items()}


@pytest.fixture(scope="module")
def reference(tmp_path_factory):
    """SH's decisions on the plain scenario, from the simulator."""
    return _run("simulated", _spec(), tmp_path_factory.mktemp("ref"))


@pytest.mark.parametrize("kind", BACKENDS)
def test_promotion(kind, tmp_path, reference):
    result = _run(kind, _spec(), tmp_path / "run")
    assert _decisions(result) == _decisions(reference)
    assert sorted((d.trial, d.epoch, d.until) for d in result.promotions) == \
           sorted((d.trial, d.epoch, d.until) for d in reference.promotions)
    assert result.promotions and result.best_trial == XS.index(0.9)


@pytest.mark.parametrize("kind", BACKENDS)
def test_budget(kind, tmp_path):
    result = _run(kind, _spec(budget=14), tmp_path / "run")
    assert result.epochs_used <= 14 and result.stop_reason == "budget"
    assert any(d.reason.rule == "budget-exhausted" for d in result.decisions)


@pytest.mark.parametrize("kind", BACKENDS)
def test_failure(kind, tmp_path, reference):
    # The best trial raises in its second epoch, just after its first promotion.
    result = _run(kind, _spec(trap=0.9), tmp_path / "run")
    trapped = XS.index(0.9)
    assert result.states[trapped] is TrialState.FAILED
    assert "trap" in result.failures[trapped] or "InjectedFailure" in result.failures[trapped]
    assert result.table().filter(result.table().column("trial").to_numpy() == trapped).num_rows == 1
    fates = _decisions(result)
    assert fates.pop(trapped) == ("failed", 1, "failed")
    assert fates and result.best_trial == XS.index(0.8)


@pytest.mark.parametrize("kind", BACKENDS)
def test_timeout(kind, tmp_path):
    # The slow trial's epochs take 0.3 s: past 0.75 s it is stopped during its third epoch.
    result = _run(kind, _spec(slow_x=0.7, trial_timeout=0.75, policy=PolicySpec.of("none")), tmp_path / "run")
    slow = XS.index(0.7)
    reasons = {d.trial: d.reason.rule for d in result.decisions}
    assert reasons[slow] == "trial-timeout"
    assert [e for t, e in zip(result.table().column("trial").to_pylist(), result.table().column("epoch").to_pylist())
            if t == slow] == [1, 2]
    assert all(rule == "max-epochs" for t, rule in reasons.items() if t != slow)


@pytest.mark.parametrize("kind", BACKENDS)
def test_resume(kind, tmp_path, reference):
    run_dir = tmp_path / "run"

    def interrupt(engine):
        if engine.epochs_used >= 12:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        _run(kind, _spec(), run_dir, progress=interrupt)
    events = read_events(run_dir)
    before = [(e["trial"], e["epoch"]) for e in iter_events(events) if e["kind"] == "report"]
    result = _run(kind, _spec(), run_dir, events=events)
    after = [(e["trial"], e["epoch"]) for e in iter_events(read_events(run_dir)) if e["kind"] == "report"]
    assert after[: len(before)] == before and len(set(after)) == len(after)
    assert _decisions(result) == _decisions(reference)
    assert result.best_trial == reference.best_trial
