"""Every policy, and a user's own Policy subclass, reads back from its run dir: run,
interrupt, then show, replay, load and resume all work (the Hyperband read-back failed
with "resolve_policy() got multiple values for argument 'seed'"; a custom policy with
"unknown policy")."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

import halving
import policies as P
from halving import space
from halving.cli import app
from halving.eventlog import iter_events, read_events
from halving.experiment import ExperimentSpec, PolicySpec, SamplerSpec
from halving.rundir import read_spec

from . import _custom_policy
from . import _trainables as T

pytestmark = pytest.mark.usefixtures("ray_session")

SPACE = {"x": space.uniform(0.0, 1.0), "slow": space.uniform(0.0, 1.0)}
CASES = [*P.POLICIES, "custom"]


def _policy(name: str):
    return _custom_policy.PatientASHA(eta=3, patience=2) if name == "custom" else name


def _interrupt_after(epochs: int):
    def progress(engine) -> None:
        if engine.epochs_used >= epochs:
            raise KeyboardInterrupt
    return progress


def _reports(run_dir) -> list[tuple[int, int, float]]:
    return [(e["trial"], e["epoch"], e["value"]) for e in iter_events(read_events(run_dir)) if e["kind"] == "report"]


@pytest.mark.parametrize("name", CASES)
def test_an_interrupted_run_reads_back_and_resumes(tmp_path, name):
    run_dir = tmp_path / "run"
    with pytest.raises(KeyboardInterrupt, match="halving resume"):
        halving.tune(T.train_counting, SPACE, metric="acc", mode="max", policy=_policy(name), max_epochs=9,
                     trials=12, workers=2, seed=3, run_dir=run_dir, progress=_interrupt_after(6))
    spec = read_spec(run_dir)
    if name == "custom":
        assert spec.policy.name == f"{_custom_policy.__name__}:PatientASHA"
        assert spec.policy.build().params() == {"eta": 3, "patience": 2}
    unfinished = halving.load(run_dir)
    assert unfinished.stop_reason == "unfinished" and unfinished.epochs_used >= 6

    runner = CliRunner()
    shown = runner.invoke(app, ["show", str(run_dir), "--json"])
    assert shown.exit_code == 0, shown.output
    assert json.loads(shown.output)["summary"]["stop_reason"] == "unfinished"
    replayed = runner.invoke(app, ["replay", str(run_dir), "--policies", "asha,sha", "--json"])
    assert replayed.exit_code == 0, replayed.output

    before = _reports(run_dir)
    resumed = runner.invoke(app, ["resume", str(run_dir), "--quiet", "--json"])
    assert resumed.exit_code == 0, resumed.output
    after = _reports(run_dir)
    assert after[: len(before)] == before  # nothing logged before the interrupt changed
    assert len({(t, e) for t, e, _ in after}) == len(after)  # and no epoch is logged twice
    done = halving.load(run_dir)
    assert done.stop_reason == "done" and done.best_trial is not None
    # "wall" is the same thing everywhere: both sessions' running time, the time between them excluded.
    resumed_wall = json.loads(resumed.output)["wall_seconds"]
    assert abs(done.wall_seconds - resumed_wall) < 0.25, (done.wall_seconds, resumed_wall)
    assert json.loads(resumed.output)["best_trial"] == done.best_trial


@pytest.mark.parametrize("name", CASES)
def test_the_spec_round_trips_exactly(name):
    spec = ExperimentSpec(space=SPACE, metric="acc", mode="min", max_epochs=9, trials=12, seed=4,
                          policy=PolicySpec.of(_policy(name), seed=4), budget=50, trial_timeout=3.5,
                          cpus=(1, 2), gpus=(0, 0.5), resources={"accel": 1}, sampler=SamplerSpec("tpe", {"n_startup": 5}), lookahead=0, target="pkg.mod:train")
    data = json.loads(json.dumps(spec.to_dict()))  # what spec.json and the log hold
    again = ExperimentSpec.from_dict(data)
    assert again == spec and again.to_dict() == spec.to_dict()
    assert again.policy.build().params() == spec.policy.build().params()


def test_a_policy_class_defined_in_a_function_is_refused_before_anything_runs(tmp_path):
    class Local(P.ASHA):
        pass

    with pytest.raises(ValueError, match="inside a function"):
        halving.tune(T.train_counting, SPACE, metric="acc", mode="max", policy=Local(), max_epochs=3, trials=2,
                     run_dir=tmp_path / "run")
    assert not (tmp_path / "run").exists()


def test_building_a_spec_starts_no_policy(tmp_path):
    policy = P.ASHA(eta=3)
    ExperimentSpec(space=SPACE, metric="acc", mode="max", max_epochs=9, trials=5, policy=PolicySpec.of(policy))
    policy.start(n_trials=5, max_epochs=9)  # a started policy would refuse a second start
