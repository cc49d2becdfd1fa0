"""Malformed input: each gets a specific message before Ray starts, and leaves no run dir behind."""

from __future__ import annotations

from pathlib import Path

import pytest

import halving
import halving.tuner
from halving import space
from halving.eventlog import CorruptLogError


def train(config):
    while True:
        halving.report(acc=config.get("x", 0.5))


class NoTrainEpoch:
    def setup(self, config):
        pass


GOOD = dict(space={"x": space.uniform(0, 1)}, metric="acc", mode="max", max_epochs=3, trials=3)

CASES = [
    # search spaces
    ({"space": {"x": {"type": "uniform", "low": 1, "high": 0}}}, ValueError, "low"),
    ({"space": {"x": {"type": "loguniform", "low": 0, "high": 1}}}, ValueError, "loguniform needs low > 0"),
    ({"space": {"x": {"type": "choice", "values": []}}}, ValueError, "choice needs at least one value"),
    ({"space": {"x": {"type": "quniform", "low": 0, "high": 1, "q": 0}}}, ValueError, "q"),
    ({"space": {"x": {"type": "gaussian", "mu": 0, "sigma": 1}}}, ValueError, "gaussian"),
    ({"space": {"x": {"type": "uniform", "low": 0, "hi": 1}}}, ValueError, "hi"),
    ({"space": ["x", "y"]}, TypeError, "list"),
    ({"space": {}}, ValueError, "empty"),
    ({"space": {"x": space.uniform(0, 1)}, "trials": None}, ValueError, "grid"),
    # policies and their parameters
    ({"policy": "asha", "eta": 1}, ValueError, "eta must be >= 2, but got eta=1"),
    ({"policy": "asha", "min_epochs": 0}, ValueError, "min_epochs must be >= 1"),
    ({"policy": "sha", "min_epochs": 10}, ValueError, "min_epochs=10 > max_epochs=3"),
    ({"policy": "truncation", "truncation_percentage": 100}, ValueError, "truncation_percentage=100"),
    ({"policy": "bandit", "slack_factor": -1.0}, ValueError, "slack_factor=-1.0"),
    ({"policy": "bogus"}, ValueError, "unknown policy 'bogus'"),
    ({"policy": "asha", "grace": 3}, TypeError, "unexpected keyword argument 'grace'"),
    ({"gpus_per_trial": 1}, TypeError, "neither a setting of tune() (space, metric, mode, policy, sampler, max_epochs"),
    ({"gpus_per_trial": 1}, TypeError, "did you mean gpus=?"),
    ({"gpus_per_trial": 1}, TypeError, "nor a parameter of policy 'asha' (eta, min_epochs)"),
    ({"policy": "median", "evaluation_interval": 0}, ValueError, "evaluation_interval must be >= 1"),
    # budgets and run settings
    ({"budget": 0}, ValueError, "budget must be a positive int, but got budget=0"),
    ({"trials": 0}, ValueError, "trials must be a positive int, but got trials=0"),
    ({"max_epochs": 0}, ValueError, "max_epochs must be a positive int"),
    ({"workers": 0}, ValueError, "workers must be a positive int"),
    ({"timeout": -1}, ValueError, "timeout=-1"),
    ({"seed": -1}, ValueError, "seed=-1"),
    ({"metric": ""}, ValueError, "metric must be a non-empty string"),
    ({"mode": "maximize"}, ValueError, "mode='maximize'"),
    ({"max_failures": -1}, ValueError, "max_failures=-1"),
    ({"trial_timeout": 0}, ValueError, "trial_timeout=0"),
    ({"lookahead": -1}, ValueError, "lookahead must be an int >= 0, but got lookahead=-1"),
    ({"cpus_per_rung": [0, 2]}, ValueError, "cpus_per_rung"),
    # targets
    ({"trainable": 42}, TypeError, "trainable must be a function"),
    ({"trainable": NoTrainEpoch}, TypeError, "missing ['train_epoch']"),
]


@pytest.fixture
def no_ray(monkeypatch):
    def refuse(*args, **kwargs):
        raise AssertionError("validation let bad input through to the point where Ray starts")

    import halving.backends.ray_cluster

    monkeypatch.setattr(halving.backends.ray_cluster, "connect", refuse)


@pytest.mark.parametrize("change, error, message", CASES, ids=[f"{i}-{c[2][:30]}" for i, c in enumerate(CASES)])
def test_bad_input_is_refused_before_ray_starts(tmp_path, no_ray, change, error, message):
    args = {**GOOD, **change}
    trainable = args.pop("trainable", train)
    run_dir = tmp_path / "run"
    with pytest.raises(error) as info:
        halving.tune(trainable, run_dir=run_dir, **args)
    assert message in str(info.value)
    assert not run_dir.exists()  # nothing half-written to trip a later run


def _snapshot(path):
    return {p.name: p.read_bytes() for p in sorted(path.iterdir())}


def test_run_dir_that_is_a_file(tmp_path, no_ray):
    path = tmp_path / "afile"
    path.write_text("x")
    with pytest.raises(ValueError, match="exists and is not a directory"):
        halving.tune(train, run_dir=path, **GOOD)


def test_corrupted_log_is_refused_and_left_alone(tmp_path, no_ray):
    run_dir = tmp_path / "run"
    run_dir.mkdir()
    (run_dir / "events-000.arrows").write_bytes(b"\x00garbage, not an arrow stream")
    before = _snapshot(run_dir)
    with pytest.raises(CorruptLogError, match="events-000.arrows"):
        halving.tune(train, run_dir=run_dir, resume=True, **GOOD)
    after = _snapshot(run_dir)
    assert after.pop(".lock", b"") == b""  # the writer's lock, released empty
    assert after == before


@pytest.fixture(scope="module")
def finished_run_dir(tmp_path_factory, ray_session):
    run_dir = tmp_path_factory.mktemp("bad") / "run"
    halving.tune(train, run_dir=run_dir, **GOOD)
    return run_dir


@pytest.mark.parametrize("change, message", [
    ({"metric": "loss"}, "its metric is 'acc', but this one has 'loss'"),
    ({"policy": "sha"}, "its policy is 'asha', but this one has 'sha'"),
    ({"seed": 7}, "its seed is 0, but this one has 7"),
    ({"space": {"x": space.uniform(0, 2)}}, "its space is"),
])
def test_resume_of_another_experiment_is_refused(finished_run_dir, no_ray, change, message):
    before = _snapshot(finished_run_dir)
    with pytest.raises(ValueError, match="holds another experiment") as info:
        halving.tune(train, run_dir=finished_run_dir, resume=True, **{**GOOD, **change})
    assert message in str(info.value)
    assert _snapshot(finished_run_dir) == before


def test_reusing_a_run_dir_without_resume_is_refused(finished_run_dir, no_ray):
    with pytest.raises(ValueError, match="already holds an experiment; pass resume=True"):
        halving.tune(train, run_dir=finished_run_dir, **GOOD)


def test_mode_is_required_and_the_error_names_the_metric(tmp_path, no_ray):
    args = {k: v for k, v in GOOD.items() if k != "mode"}
    with pytest.raises(ValueError, match="mode is required: mode='max' if a larger acc is better"):
        halving.tune(train, run_dir=tmp_path / "run", **args)
    from typer.testing import CliRunner

    from halving.cli import app

    example = Path(__file__).parents[1] / "examples" / "own_function.py"
    out = CliRunner().invoke(app, ["run", f"{example}:train", "--metric", "loss", "--trials", "9", "--max-epochs", "3"])
    assert out.exit_code == 2 and "--mode is required: max if a larger loss is better" in out.output


def test_a_huge_grid_is_refused_with_its_size_at_once(tmp_path, no_ray):
    huge = {f"d{i}": space.grid(list(range(10))) for i in range(24)}  # 10**24 points: counted, never enumerated
    with pytest.raises(ValueError, match=r"has 1e\+24 points .* pass trials=N to sample"):
        halving.tune(train, huge, metric="acc", mode="max", max_epochs=3, trials=None, run_dir=tmp_path / "run")
    sampled = halving.experiment.ExperimentSpec(space=huge, metric="acc", mode="max", max_epochs=3, trials=5)
    assert len(sampled.config_of(4)) == 24  # sampling from it is fine
