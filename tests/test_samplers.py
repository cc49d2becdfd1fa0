"""The samplers without Ray: the defaults reproduce the sampling of before, proposals are
valid values of their dimensions, deterministic for a seed, spread out under many workers,
recorded in the log with their origin, and bad settings are refused naming the value."""

from __future__ import annotations

import ast
import json
import math
from pathlib import Path

import numpy as np
import pytest

import halving
from halving import samplers as S
from halving import space as hs
from halving.errors import SpecError, SpecTypeError
from halving.experiment import ExperimentSpec, PolicySpec, SamplerSpec
from halving.space import Space

from ._sampler_runs import SPACE, logged_run, proposals, score, session_checks


def _spec(sampler=None, **kw) -> ExperimentSpec:
    args = dict(space=SPACE, metric="acc", mode="max", max_epochs=9, trials=40, policy=PolicySpec.of("asha"),
                sampler=sampler)
    args.update(kw)
    return ExperimentSpec(**args)


def _fed(name: str, n: int, *, seed: int = 0, **params) -> tuple[S.Sampler, list[float]]:
    """A started sampler fed ``n`` trials, each proposed by it and observed at epoch 9 (the
    policy's top rung), and the values they got."""
    sampler = S.make(name, **params)
    sampler.start(Space(SPACE), seed=seed, mode="max", n_trials=n + 100, levels=(1, 3, 9))
    values = []
    for t in range(n):
        config = sampler.propose(t, ()).config
        values.append(score(config, 9))
        if sampler.observes:
            sampler.created(t, config)
            sampler.observe(t, 9, values[-1])
    return sampler, values


# ------------------------------------------------------------------ defaults

def test_the_default_is_random_and_reproduces_space_config_exactly():
    spec = _spec()
    assert spec.sampler == SamplerSpec("random")
    space = Space(SPACE)
    sampler = spec.started_sampler()
    for t in range(50):
        assert sampler.propose(t, ()).config == space.config(t, 0) == spec.config_of(t)


def test_the_default_with_trials_none_is_the_grid_walk():
    grid = {"a": hs.choice([1, 2, 3]), "b": hs.grid(["x", "y"]), "c": 7}
    spec = ExperimentSpec(space=grid, metric="m", mode="min", max_epochs=3, trials=None)
    assert spec.sampler == SamplerSpec("grid") and spec.n_trials == 6
    assert [spec.config_of(t) for t in range(6)] == list(Space(grid).grid())


def test_a_spec_written_before_samplers_reads_back_with_its_default_and_resumes():
    spec = _spec()
    old = {k: v for k, v in spec.to_dict().items() if k not in ("sampler", "sampler_params")}
    back = ExperimentSpec.from_dict(old)
    assert back == spec and back.sampler.name == "random"
    spec.check_same(back.to_dict(), "old log")  # the same experiment
    tpe = _spec("tpe")
    with pytest.raises(SpecError, match="its sampler is 'random'"):
        tpe.check_same(back.to_dict(), "old log")


def test_spec_round_trip_keeps_the_sampler_and_its_params():
    spec = _spec(S.TPESampler(n_startup=5, gamma=0.2))
    assert spec.sampler == SamplerSpec("tpe", {"n_startup": 5, "gamma": 0.2, "max_good": 25, "n_candidates": 24,
                                               "prior_weight": 1.0, "bandwidth_factor": 8.0})
    assert ExperimentSpec.from_dict(json.loads(json.dumps(spec.to_dict()))) == spec


# ------------------------------------------------------------------ proposals

@pytest.mark.parametrize("name", ["tpe", "bohb"])
def test_model_proposals_are_values_each_dimension_can_take(name):
    sampler, _ = _fed(name, 60, **({"random_fraction": 0.0} if name == "bohb" else {}))
    models = set()
    for t in range(60, 160):
        p = sampler.propose(t, ())
        models.add(p.model)
        c = p.config
        assert set(c) == set(SPACE) and c["name"] == "net"
        assert 1e-4 <= c["lr"] <= 1.0 and isinstance(c["lr"], float)
        assert c["width"] % 8 == 0 and 8 <= c["width"] <= 512
        assert type(c["depth"]) is int and 1 <= c["depth"] < 6
        assert c["drop"] in [round(0.05 * k, 2) for k in range(11)]
        assert c["act"] in ("relu", "tanh", "gelu") and isinstance(c["shift"], float)
    assert models == {"tpe"} if name == "tpe" else models == {"kde@epoch 9"}


@pytest.mark.parametrize(("name", "params"), [("tpe", {}), ("tpe", {"bandwidth_factor": 1.0}), ("bohb", {})])
def test_the_model_beats_random_search_on_a_known_function(name, params):
    # Over 5 seeds of 80 trials the best found is better than random search's. With its draws
    # at l(x)'s own bandwidths (factor 1) TPE exploits: its later proposals score far above
    # random ones on average. The default's wide draws trade that for exploration.
    runs = {n: [_fed(n, 80, seed=seed, **(params if n == name else {}))[1] for seed in range(5)]
            for n in (name, "random")}
    tail = {n: np.mean([np.mean(v[40:]) for v in r]) for n, r in runs.items()}
    best = {n: np.mean([max(v) for v in r]) for n, r in runs.items()}
    assert best[name] > best["random"] + 0.02, best
    if name == "bohb" or params:
        assert tail[name] > tail["random"] + 0.2, tail


# ------------------------------------------------------------------ many workers

def _spread(name: str, seed: int, liar: bool) -> float:
    """Mean nearest-neighbour distance (unit space) of 64 proposals made while the earlier
    ones run with no report, as when 64 workers ask at once."""
    # No random proposals and draws at l(x)'s own bandwidths: the spread comes from the lies alone.
    sampler, _ = _fed(name, 40, seed=seed, bandwidth_factor=1.0, **({"random_fraction": 0.0} if name == "bohb" else {}))
    running: set[int] = set()
    for t in range(40, 104):
        p = sampler.propose(t, running if liar else ())
        assert p.pending == (len(running) if liar else 0)
        sampler.created(t, p.config)
        running.add(t)
    x = sampler._num[[sampler.rows[t] for t in range(40, 104)]]
    d = np.sqrt(((x[:, None] - x[None]) ** 2).sum(-1))
    np.fill_diagonal(d, np.inf)
    return float(d.min(axis=1).mean())


@pytest.mark.parametrize(("name", "factor"), [("tpe", 1.5), ("bohb", 1.1)])
def test_running_trials_are_lies_that_spread_concurrent_proposals(name, factor):
    with_liar = np.mean([_spread(name, seed, True) for seed in range(3)])
    without = np.mean([_spread(name, seed, False) for seed in range(3)])
    assert with_liar > factor * without, (with_liar, without)


@pytest.mark.parametrize("name", ["tpe", "bohb"])
def test_64_workers_get_64_different_configs_and_the_log_counts_the_lies(tmp_path, name):
    spec = _spec(name, trials=200, workers=64)
    logged_run(spec, tmp_path / "run", workers=64)
    made = proposals(tmp_path / "run")
    assert len(made) == 200
    assert len({config for _, config, _ in made}) == 200  # no two trials got the same config
    origins = [json.loads(o) for _, _, o in made]
    assert {o["sampler"] for o in origins} == {name}
    modelled = [o for o in origins if o["model"] != "random"]
    assert modelled and max(o["pending"] for o in modelled) >= 32  # proposals made with many trials running
    assert all(o["n_obs"] > 0 for o in modelled)


# ------------------------------------------------------------------ determinism and the log

@pytest.mark.parametrize("name", ["random", "tpe", "bohb"])
def test_same_seed_same_proposals_and_origins_other_seed_others(tmp_path, name):
    runs = []
    for i, seed in enumerate((3, 3, 4)):
        logged_run(_spec(name, trials=60, workers=4, seed=seed), tmp_path / f"{i}", workers=4)
        runs.append(proposals(tmp_path / f"{i}"))
    assert runs[0] == runs[1]
    assert [c for _, c, _ in runs[0]] != [c for _, c, _ in runs[2]]
    origins = [json.loads(o) for _, _, o in runs[0]]
    if name != "random":  # the model took over once it had observations, and said so
        assert origins[0]["model"] == "random" and any(o["model"] != "random" for o in origins)
        assert all(set(o) >= {"sampler", "model", "n_obs", "pending"} for o in origins)


def test_an_old_log_without_origins_still_reads_and_resumes(tmp_path):
    # A log written before samplers: no origin on trial_created, no sampler in the spec.
    import pyarrow as pa
    from halving.eventlog import read_events

    run, old = tmp_path / "run", tmp_path / "old"
    logged_run(_spec(workers=2), run, workers=2, stop_after=20)
    table = read_events(run)
    kinds, reasons, payloads = (table.column(c).to_pylist() for c in ("kind", "reason", "payload"))
    spec = {k: v for k, v in json.loads(payloads[0]).items() if k not in ("sampler", "sampler_params")}
    payloads[0] = json.dumps(spec)
    reasons = [None if k == "trial_created" else r for k, r in zip(kinds, reasons)]
    table = table.set_column(table.schema.get_field_index("reason"), "reason", pa.array(reasons, pa.string()))
    table = table.set_column(table.schema.get_field_index("payload"), "payload", pa.array(payloads, pa.string()))
    old.mkdir()
    with pa.OSFile(str(old / "events-000.arrows"), "wb") as sink, pa.ipc.new_stream(sink, table.schema) as w:
        w.write_table(table)
    assert halving.load(old).configs == halving.load(run).configs
    logged_run(_spec(workers=2), old, workers=2)  # resumes: the same experiment, every proposal checked
    assert session_checks(old)[-1] == {"name": "random", "checked": 20, "same": 20, "diverged": None}


# ------------------------------------------------------------------ bad input

@pytest.mark.parametrize(("sampler", "params", "error", "match"), [
    ("tpe", {"n_startup": 1}, SpecError, "n_startup must be >= 2, but got n_startup=1"),
    ("tpe", {"n_startup": 2.5}, SpecTypeError, "n_startup must be an integer, but got n_startup=2.5"),
    ("tpe", {"gamma": 0}, SpecError, r"gamma must be in \(0, 1\], but got gamma=0"),
    ("tpe", {"gamma": "big"}, SpecTypeError, "gamma must be a number, but got gamma='big'"),
    ("tpe", {"n_candidates": 0}, SpecError, "n_candidates must be >= 1"),
    ("tpe", {"prior_weight": -1}, SpecError, "prior_weight must be a finite number >= 0, but got prior_weight=-1"),
    ("tpe", {"bandwidth_factor": 0}, SpecError, "bandwidth_factor must be a finite number > 0, but got bandwidth_factor=0"),
    ("tpe", {"bandwidth": 2}, SpecTypeError, "unexpected keyword argument 'bandwidth'"),
    ("bohb", {"random_fraction": 1.5}, SpecError, r"random_fraction must be in \[0, 1\], but got random_fraction=1.5"),
    ("bohb", {"top_fraction": 0.0}, SpecError, "top_fraction must be in"),
    ("bohb", {"min_points": 0}, SpecError, "min_points must be >= 1, but got min_points=0"),
    ("bohb", {"bandwidth_factor": float("inf")}, SpecError, "bandwidth_factor must be a finite number > 0"),
    ("bohb", {"min_bandwidth": None}, SpecTypeError, "min_bandwidth must be a number, but got min_bandwidth=None"),
    ("random", {"seed": 1}, SpecTypeError, r"with \{'seed': 1\}: RandomSampler\(\) takes no arguments"),
    ("grid", {"order": "shuffled"}, SpecTypeError, r"with \{'order': 'shuffled'\}: GridSampler\(\) takes no"),
])
def test_bad_sampler_parameters_are_refused_naming_the_value(sampler, params, error, match):
    with pytest.raises(error, match=match):
        SamplerSpec.of(sampler, params)


@pytest.mark.parametrize(("kwargs", "error", "match"), [
    ({"sampler": "cmaes"}, SpecError, "unknown sampler 'cmaes'; choose one of random, grid, tpe, bohb"),
    ({"sampler": 3}, SpecTypeError, "sampler must be a name"),
    ({"sampler": "tests._sampler_runs:ConfigCurves"}, SpecError, "is not a halving.samplers.Sampler subclass"),
    ({"sampler": "no_such_module:X"}, SpecError, "cannot import sampler class no_such_module:X"),
    ({"sampler": "tpe", "space": None, "trials": 5}, SpecError, "the tpe sampler needs a search space"),
    ({"sampler": "bohb", "space": {"k": 1}}, SpecError, "needs a search space with at least one dimension"),
    ({"sampler": "grid"}, SpecError, "grid enumeration needs every dimension to be choice or grid"),
    ({"sampler": "grid", "space": {"a": hs.choice([1, 2])}, "trials": 3}, SpecError,
     "the grid has 2 points, but trials=3"),
])
def test_bad_sampler_settings_are_refused_before_anything_runs(kwargs, error, match):
    with pytest.raises(error, match=match):
        _spec(**kwargs)


def test_a_sampler_object_with_parameters_beside_it_is_refused():
    with pytest.raises(SpecTypeError, match=r"sampler parameters \['gamma'\] were given with a sampler object"):
        SamplerSpec.of(S.TPESampler(), {"gamma": 0.2})


def test_tune_refuses_a_bad_sampler_before_ray_starts(tmp_path, monkeypatch):
    import halving.backends.ray_cluster

    monkeypatch.setattr(halving.backends.ray_cluster, "connect", None)  # calling it would fail the test
    with pytest.raises(SpecError, match="unknown sampler 'tpee'"):
        halving.tune(lambda c: None, SPACE, metric="acc", mode="max", max_epochs=3, trials=4, sampler="tpee",
                     run_dir=tmp_path / "r")
    assert not (tmp_path / "r").exists()


# ------------------------------------------------------------------ purity

def test_the_sampler_package_imports_no_ray_pyarrow_or_typer():
    allowed_halving = {"halving.space", "halving.errors"}
    root = Path(S.__file__).parent
    for path in root.glob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom):
                names = [("halving." if node.level == 2 else "halving.samplers." if node.level == 1 else "")
                         + (node.module or "")]
            else:
                continue
            for name in names:
                top = name.split(".")[0]
                assert top not in ("ray", "pyarrow", "typer", "policies", "time", "random"), (path.name, name)
                if top == "halving":
                    assert name.startswith("halving.samplers") or name in allowed_halving, (path.name, name)
                else:
                    assert top in ("numpy", "__future__", "typing", "dataclasses", "math", "numbers"), (path.name, name)


def test_the_cli_takes_sampler_and_refuses_an_unknown_one(tmp_path):
    from typer.testing import CliRunner

    from halving.cli import app
    from halving.cli.experiments import build_spec

    space = tmp_path / "space.json"
    space.write_text(json.dumps(Space(SPACE).to_spec()))
    target = str(Path(__file__).with_name("_sampler_runs.py")) + ":train"
    spec, _ = build_spec(target, space, "asha", {}, metric="acc", mode="max", trials=8, max_epochs=3, sampler="bohb")
    assert spec.sampler == SamplerSpec("bohb")
    out = CliRunner().invoke(app, ["run", target, "--space", str(space), "--metric", "acc", "--mode", "max",
                                   "--trials", "8", "--max-epochs", "3", "--sampler", "nope"])
    assert out.exit_code == 2 and "unknown sampler 'nope'" in out.output, out.output
