"""benchmarks.quality: the wide workloads, each peer's translation of our space, the epoch
budget every tool trains under, and one smoke run of the benchmark.

The peers train real models (digits, a few epochs) in this process; Syne Tune and dehb
are optional and their tests skip when they are not installed.
"""

from __future__ import annotations

import json
import math
import subprocess
import sys
import warnings
from pathlib import Path

import numpy as np
import pytest

from benchmarks import quality, results, workloads
from benchmarks.adapters import (EpochBudget, NotInstalled, dehb_search, halving_in_process, halving_tune, optuna_study,
                                 syne_tune_bohb)
from halving import space

ROOT = Path(__file__).resolve().parents[1]
#: Every kind of dimension the translations handle, and one they refuse.
MIXED = {"lr": space.loguniform(1e-4, 1.0), "m": space.uniform(0.1, 0.9), "k": space.randint(2, 5),
         "act": space.choice(["relu", "tanh"]), "avg": space.choice([False, True]), "width": space.choice([8, 16]),
         "fixed": 7}
NOT_TRANSLATED = {"x": space.normal(0.0, 1.0)}


def _in_space(config: dict) -> None:
    """``config`` is a plain-typed point of MIXED."""
    assert 1e-4 <= config["lr"] <= 1.0 and type(config["lr"]) is float
    assert 0.1 <= config["m"] <= 0.9
    assert config["k"] in (2, 3, 4) and type(config["k"]) is int
    assert config["act"] in ("relu", "tanh") and config["avg"] in (False, True) and config["width"] in (8, 16)
    assert type(config["width"]) is int and type(config["avg"]) is bool


@pytest.mark.parametrize("name", ["sgd-wide", "mlp-wide"])
def test_wide_workloads_train_and_report_both_accuracies(name):
    w = workloads.make(name)
    narrow = workloads.make(name.split("-")[0])
    assert set(narrow.space) < set(w.space)  # more settings than the example's space, and wider ranges
    for config in workloads.sample_configs(w.space, 3, 1):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            m = w.epoch(w.start(config), 1)
        assert set(m) == {"val_accuracy", "test_accuracy"} and 0.0 <= m[w.metric] <= 1.0


def test_epoch_budget_counts_what_is_trained():
    b = EpochBudget(3)
    assert [b.take() for _ in range(5)] == [True, True, True, False, False]
    assert b.used == 3 and b.spent
    with pytest.raises(ValueError, match="total=0"):
        EpochBudget(0)


def test_optuna_distributions_follow_our_space():
    import optuna

    dists, constants = optuna_study.distributions(MIXED)
    assert constants == {"fixed": 7}
    assert dists["k"].low == 2 and dists["k"].high == 4  # randint(2, 5) excludes 5; Optuna's includes high
    assert dists["lr"].log and not dists["m"].log
    study = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=0))
    for _ in range(20):
        _in_space({**constants, **study.ask(dists).params})
    with pytest.raises(ValueError, match="'x'"):
        optuna_study.distributions(NOT_TRANSLATED)


def test_optuna_tpe_hyperband_trains_exactly_the_budget():
    w = workloads.make("sgd-wide")
    a = optuna_study.run_sampled(w, budget=40, max_epochs=9, eta=3, seed=1)
    b = optuna_study.run_sampled(w, budget=40, max_epochs=9, eta=3, seed=1)
    assert a.epochs == 40 and a.finals and a.extra["trials_started"] > len(a.finals)
    assert a.finals == b.finals  # seeded: the same trials, the same accuracies
    _, best = a.best(w.metric)
    assert a.extra["curve"][-1] == (a.extra["curve"][-1][0], best[w.metric])


def _peer(module):  # noqa: ANN001, ANN202
    try:
        module.version()
    except NotInstalled as exc:
        assert "pip install --no-deps" in str(exc)  # the skip says how to install it
        pytest.skip(str(exc))
    return module


def test_syne_tune_space_and_bohb_run():
    st = _peer(syne_tune_bohb)
    import numpy as np

    cs = st.config_space(MIXED)
    rng = np.random.RandomState(0)
    for _ in range(20):
        _in_space({k: (v.sample(random_state=rng) if hasattr(v, "sample") else v) for k, v in cs.items()})
    with pytest.raises(ValueError, match="'x'"):
        st.config_space(NOT_TRANSLATED)
    w = workloads.make("sgd-wide")
    before = np.random.get_state()[1][:4].copy()
    o = st.run(w, budget=40, max_epochs=9, eta=3, seed=0)
    assert (np.random.get_state()[1][:4] == before).all()  # NumPy's global generator is given back
    assert o.epochs == 40 and o.finals and all(0.0 <= m[w.metric] <= 1.0 for _, m in o.finals)
    assert st.run(w, budget=40, max_epochs=9, eta=3, seed=0).finals == o.finals


def test_dehb_space_and_run():
    dh = _peer(dehb_search)
    cs = dh.config_space(MIXED, seed=0)
    for c in cs.sample_configuration(20):
        _in_space(dh._plain_config(MIXED, c))
    with pytest.raises(ValueError, match="'x'"):
        dh.config_space(NOT_TRANSLATED, seed=0)
    w = workloads.make("sgd-wide")
    o = dh.run(w, budget=40, max_epochs=9, eta=3, seed=0)
    assert o.epochs == 40 and o.finals and o.extra["jobs"] >= o.extra["trials_started"]
    assert dh.run(w, budget=40, max_epochs=9, eta=3, seed=0).finals == o.finals


def test_halving_sampler_names_are_checked_before_anything_runs():
    assert halving_tune.sampler_argument("random") == {}
    assert halving_tune.sampler_argument("tpe") == {"sampler": "tpe"}
    with pytest.raises(ValueError, match="'nope' is not one of this halving's samplers: .*bohb"):
        halving_tune.sampler_argument("nope")
    run = subprocess.run([sys.executable, "-m", "benchmarks", "quality", "--quick", "--samplers", "random,nope"],
                         cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert run.returncode != 0 and "--samplers: sampler 'nope'" in run.stderr


def test_a_quality_run_is_judged_whatever_the_load():
    loaded = results.Record("quality", [], load_start=[64.0, 64.0, 64.0], timed=False)
    assert loaded.why_not_judged() is None
    assert loaded.finish({}, [results.Target("x", 2.0, 2.0, at_least=True)])["targets"][0]["verdict"] == "met"


def test_median_gap_interval_holds_the_gap_and_tells_apart_only_what_differs():
    same = [0.95, 0.96, 0.97, 0.96, 0.95]
    lo, hi = quality.median_gap_interval(same, list(reversed(same)))
    assert lo < 0 < hi  # the same values: the interval holds 0
    lo, hi = quality.median_gap_interval([x + 0.05 for x in same], same)
    assert 0 < lo <= 0.05 <= hi  # 0.05 apart with no overlap: 0 is outside
    assert quality.median_gap_interval([0.9], same) is None
    assert quality.median_gap_interval(same, same, seed=3) == quality.median_gap_interval(same, same, seed=3)


def test_comparisons_and_targets_from_medians():
    rows = [{"workload": w, "tool": t, "best_val": v, "test": v - 0.01}
            for w, vals in (("a", (0.90, 0.92, 0.91)), ("b", (0.80, 0.79, 0.81)))
            for t, v in zip(("halving asha random", "halving asha tpe", "optuna TPE"), vals)]
    comps = quality.comparisons(rows, ["random", "tpe"])
    tpe = {c["workload"]: c for c in comps if c["halving"] == "asha tpe"}
    assert math.isclose(tpe["a"]["val_minus_best_peer"], 0.01) and math.isclose(tpe["a"]["val_minus_random"], 0.02)
    assert math.isclose(tpe["b"]["val_minus_best_peer"], -0.02)
    got = {t.name: t.value for t in quality.targets(comps, 2, ["random", "tpe"])}
    assert got == {"halving asha tpe: workloads where its median best val >= every peer's": 1.0,
                   "halving asha tpe: workloads where its median best test >= every peer's": 1.0,
                   "halving asha tpe: workloads where its median best val > halving asha random's": 1.0}


@pytest.mark.slow  # about 20 s: a local Ray and five tiny runs of every tool that is installed
def test_quick_run_gives_every_tool_the_same_epochs(tmp_path):
    out = tmp_path / "q.json"
    run = subprocess.run([sys.executable, "-m", "benchmarks", "quality", "--quick", "--out", str(out)], cwd=ROOT,
                         capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stdout[-2000:] + run.stderr[-2000:]
    data = json.loads(out.read_text())
    runs = data["figures"]["runs"]
    tools = {r["tool"] for r in runs}
    assert {"halving", "optuna"} <= tools
    assert all(r.get("error") is None and r["epochs"] == 30 for r in runs), runs
    absent = {p for p in ("syne_tune", "dehb") if p not in tools}
    assert {s.split(":")[0] for s in data["figures"]["skipped"]} == absent


@pytest.mark.parametrize("sampler", ["random", "tpe"])
def test_in_process_runs_repeat_exactly_and_report_the_real_training(sampler):
    w = workloads.make("sgd-wide")
    kw = {"trials": 30, "max_epochs": 3, "workers": 2, "seed": 4, "eta": 3, "budget": 30, "sampler": sampler}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        first, again = halving_in_process.run(w, "asha", **kw), halving_in_process.run(w, "asha", **kw)
        assert first.finals and first.finals == again.finals and first.epochs == again.epochs <= 30
        assert first.extra["trials_started"] > len(first.finals)  # ASHA stopped some early
        # A finished trial's metrics are what training its configuration for R epochs from scratch gives.
        trial, metrics = max(first.finals, key=lambda f: f[1][w.metric])
        state = w.start(first.extra["configs"][trial])
        fresh = [w.epoch(state, e) for e in (1, 2, 3)]
    assert fresh[-1] == metrics


@pytest.mark.parametrize("one_thread", [False, True])
def test_optuna_pruner_run_over_given_configs(one_thread):
    """The given-configurations path of the Optuna adapter (the wall and compare_peers benchmarks)."""
    w = workloads.make("noop")
    configs = workloads.sample_configs(w.space, 9, 0)
    o = optuna_study.run(w, "SuccessiveHalvingPruner", configs, max_epochs=9, eta=3, seed=0, one_thread=one_thread)
    assert 0 < len(o.finals) < len(configs) and o.epochs < 9 * len(configs)  # some pruned, some finished
    assert {i for i, _ in o.finals} <= set(range(len(configs)))


def test_a_float32_tie_of_medians_is_a_tie_not_a_loss():
    # Medians of 20 float32 accuracies: 0.834 and 0.835 halved against 0.832 and 0.837 halved.
    f32 = lambda x: float(np.float32(x))  # noqa: E731
    rows = [{"workload": "cnn", "tool": "halving asha tpe", "best_val": f32(0.84),
             "test": (f32(0.834) + f32(0.835)) / 2},
            {"workload": "cnn", "tool": "dehb DEHB", "best_val": f32(0.84), "test": (f32(0.832) + f32(0.837)) / 2}]
    assert rows[0]["test"] < rows[1]["test"]  # what the raw difference said
    (comp,) = quality.comparisons(rows, ["tpe"])
    assert comp["test_minus_best_peer"] == 0.0 and comp["val_minus_best_peer"] == 0.0
    got = {t.name: t.value for t in quality.targets([comp], 1, ["tpe"])}
    assert got["halving asha tpe: workloads where its median best test >= every peer's"] == 1.0
