"""``halving.simulate`` driven by a function of each config, and the test functions of
``halving.testfunctions``: both forms of ``curve_fn``, laziness, determinism, bad input,
scale, and regret against the known optimum."""

from __future__ import annotations

import functools
import math
import time

import numpy as np
import pytest

import halving
import policies as P
from halving import space, testfunctions
from halving.errors import SpecError, SpecTypeError, UserError

SPACE = {"x": space.uniform(0.0, 1.0), "rate": space.loguniform(0.05, 2.0)}
R = 27


def curve_at(config: dict, epoch: int) -> float:
    """A rising curve to a plateau x, at a per-config rate: curves cross."""
    return config["x"] * (1.0 - math.exp(-epoch * config["rate"]))


def whole_curve(config: dict) -> list[float]:
    return [curve_at(config, e) for e in range(1, R + 1)]


def run(fn, policy="asha", trials=60, workers=3, seed=0, **kw):
    return halving.simulate(fn, space=SPACE, trials=trials, max_epochs=R, mode="max", policy=policy,
                            workers=workers, seed=seed, **kw)


def same_run(a, b) -> None:
    assert a.decisions == b.decisions
    assert a.promotions == b.promotions
    assert a.table().equals(b.table())
    assert (a.best_trial, a.best_value, a.epochs_used, a.virtual_seconds) == \
        (b.best_trial, b.best_value, b.epochs_used, b.virtual_seconds)


# -- the two forms, and the table ------------------------------------------------------


@pytest.mark.parametrize("policy", sorted(P.POLICIES))
@pytest.mark.parametrize("budget", [None, 500])
def test_both_forms_and_the_table_decide_the_same(policy, budget):
    by_epoch, whole = run(curve_at, policy, budget=budget), run(whole_curve, policy, budget=budget)
    same_run(by_epoch, whole)
    # The same curves as a table: the same trials, decisions and reports; only configs differ.
    configs = [space.Space.from_spec(SPACE).config(t, 0) for t in range(60)]
    table = halving.simulate(np.array([whole_curve(c) for c in configs]), policy=policy, workers=3, seed=0,
                             budget=budget)
    same_run(by_epoch, table)
    assert by_epoch.configs == {t: configs[t] for t in by_epoch.configs}  # sampled as tune() samples them
    assert len(by_epoch.configs) == 60 or budget is not None
    assert by_epoch.best_config == configs[by_epoch.best_trial]
    assert table.best_config == {"row": by_epoch.best_trial}


def test_callable_objects_and_partials_are_read_by_their_signature():
    class Curve:
        def __call__(self, config, epoch):
            return curve_at(config, epoch)

    def scaled(k, config, epoch):
        return k * curve_at(config, epoch)

    same_run(run(Curve()), run(curve_at))
    same_run(run(functools.partial(scaled, 1.0)), run(curve_at))
    same_run(run(lambda config, epoch, *more: curve_at(config, epoch)), run(curve_at))


def test_same_seed_same_run_and_another_seed_another():
    a, b, c = run(curve_at, seed=4), run(curve_at, seed=4), run(curve_at, seed=5)
    same_run(a, b)
    assert a.configs == b.configs
    assert a.configs != c.configs


# -- laziness --------------------------------------------------------------------------


def test_only_the_epochs_trained_are_evaluated():
    asked: list[tuple[float, int]] = []

    def counted(config, epoch):
        asked.append((config["x"], epoch))
        return curve_at(config, epoch)

    result = run(counted, "asha", trials=81)
    table = result.table()
    trained = sorted((result.configs[t]["x"], e) for t, e in zip(table.column("trial").to_pylist(),
                                                                   table.column("epoch").to_pylist()))
    assert sorted(asked) == trained  # each epoch trained asked once, and no other
    assert len(asked) == result.epochs_used == result.backend_stats["curve_fn_calls"]
    stopped = [d for d in result.decisions if d.action.value in ("stop", "pause") and d.epoch < R]
    assert stopped, "ASHA must stop or leave trials paused before R here"
    for d in stopped:  # a trial left below R: its later epochs were never asked for
        x = result.configs[d.trial]["x"]
        last = max(e for t, e in zip(table.column("trial").to_pylist(), table.column("epoch").to_pylist())
                   if t == d.trial)
        assert (x, last + 1) not in asked
    assert len(asked) < 81 * R / 3  # early stopping saved most of the work
    assert run(counted, "none", trials=81).backend_stats["curve_fn_calls"] == 81 * R


def test_a_whole_curve_is_asked_once_per_trial_that_starts():
    asked: list[float] = []

    def counted(config):
        asked.append(config["x"])
        return whole_curve(config)

    # ASHA pauses trials and promotes them later: the curve is held, not asked for again.
    result = run(counted, "asha", trials=81)
    assert sorted(asked) == sorted(c["x"] for c in result.configs.values())
    assert result.backend_stats["curve_fn_calls"] == 81
    # A budget that ends the run early: trials never started are never asked for.
    asked.clear()
    capped = run(counted, "sha", trials=81, budget=30)
    assert len(asked) == len(capped.configs) == 30 < 81


# -- values ------------------------------------------------------------------------------


@pytest.mark.parametrize("bad", [math.nan, math.inf, -math.inf])
@pytest.mark.parametrize("form", ["epoch", "whole"])
def test_a_non_finite_value_ends_the_trial_as_on_real_workers(bad, form):
    def at(config, epoch):
        return bad if config["x"] > 0.5 and epoch == 3 else curve_at(config, epoch)

    fn = at if form == "epoch" else (lambda config: [at(config, e) for e in range(1, R + 1)])
    result = run(fn, "none", trials=20)
    ended = {d.trial for d in result.decisions if d.reason.rule == "non-finite-metric"}
    assert ended == {t for t, c in result.configs.items() if c["x"] > 0.5} != set()
    epochs = result.table().column("epoch").to_pylist()
    assert all(e < 3 for t, e in zip(result.table().column("trial").to_pylist(), epochs) if t in ended)
    assert result.best_config["x"] <= 0.5


def test_numpy_numbers_and_arrays_are_values():
    same_run(run(lambda c, e: np.float32(curve_at(c, e))), run(lambda c, e: float(np.float32(curve_at(c, e)))))
    same_run(run(lambda c, e: np.array(curve_at(c, e))), run(curve_at))  # a 0-d array
    same_run(run(lambda c: np.array(whole_curve(c))), run(whole_curve))
    assert run(lambda c, e: np.float64(curve_at(c, e))).best_value == run(curve_at).best_value


# -- bad input ---------------------------------------------------------------------------


@pytest.mark.parametrize("returned, error, match", [
    (lambda c: whole_curve(c)[:-1], SpecError, r"max_epochs=27 values.*returned 26 values"),
    (lambda c: whole_curve(c) + [1.0], SpecError, r"returned 28 values"),
    (lambda c: 0.5, SpecError, r"returned 0.5"),
    (lambda c: [whole_curve(c)] * 2, SpecError, r"shape \(2, 27\)"),
    (lambda c: ["a"] * R, SpecTypeError, r"sequence of 27 numbers.*'a'"),
    (lambda c: None, SpecError, r"returned None"),
])
def test_a_curve_of_the_wrong_shape_or_type_is_refused_naming_the_config(returned, error, match):
    with pytest.raises(error, match=match) as info:
        run(returned)
    assert "config={'x': " in str(info.value)


@pytest.mark.parametrize("value", [None, "0.5", [0.5], True, {"v": 1}])
def test_a_value_that_is_not_a_number_is_refused(value):
    with pytest.raises(SpecTypeError, match=r"must return a number.*at epoch 1 it returned"):
        run(lambda config, epoch: value)


@pytest.mark.parametrize("fn, match", [
    (lambda: 0.0, "0 required positional"),
    (lambda config, epoch, other: 0.0, "3 required positional"),
    (lambda config, epoch=1: 0.0, "either way"),
    (lambda *args: 0.0, "either way"),
    (lambda config, *, scale: 0.0, "keyword-only"),
    (max, "cannot read the signature"),
])
def test_a_function_of_neither_form_is_a_type_error(fn, match):
    with pytest.raises(TypeError, match=match):
        run(fn)


def test_settings_that_do_not_fit_the_form_are_refused():
    with pytest.raises(SpecTypeError, match="not callable"):
        halving.simulate("branin", space=SPACE, max_epochs=R, mode="min", policy="asha")
    with pytest.raises(SpecTypeError, match="trials= and max_epochs= go with a curve function"):
        halving.simulate(np.ones((3, 3)), policy="asha", trials=3)
    with pytest.raises(SpecError, match="needs space="):
        halving.simulate(curve_at, max_epochs=R, mode="max", policy="asha", trials=3)
    with pytest.raises(SpecError, match="needs space="):
        halving.simulate(curve_at, space=SPACE, mode="max", policy="asha", trials=3)
    with pytest.raises(SpecError, match="mode is required"):
        halving.simulate(curve_at, space=SPACE, max_epochs=R, policy="asha", trials=3)
    with pytest.raises(SpecError, match="trials=N"):  # a continuous space has no grid to enumerate
        halving.simulate(curve_at, space=SPACE, max_epochs=R, mode="max", policy="asha")
    with pytest.raises(SpecError, match="cut_short"):
        run(curve_at, cut_short="stop")
    with pytest.raises(ValueError, match="max_epochs"):
        halving.simulate(curve_at, space=SPACE, max_epochs=0, mode="max", policy="asha", trials=3)


def test_a_grid_space_enumerates_its_points():
    grid = {"x": space.grid([0.2, 0.9, 0.5]), "rate": space.grid([0.1, 1.0])}
    result = halving.simulate(curve_at, space=grid, max_epochs=9, mode="max", policy="sha", eta=3)
    assert len(result.configs) == 6
    assert result.best_config == {"x": 0.9, "rate": 1.0}


# -- scale -------------------------------------------------------------------------------


def test_thousands_of_trials_take_about_a_second():
    fn = testfunctions.branin(seed=1)
    cpu = time.process_time()
    result = halving.simulate(fn.curve, space=fn.space, mode=fn.mode, max_epochs=fn.max_epochs, trials=5000,
                              policy="asha", workers=16, seed=1)
    cpu = time.process_time() - cpu
    assert len(result.configs) == 5000 and result.best_trial is not None
    # About 1 s of CPU here (python -m benchmarks testfunctions records the figures); the
    # bound is loose for a loaded machine, and catches a per-trial cost that grows with n.
    assert cpu < 8.0, f"5000 trials took {cpu:.2f} s of CPU"


# -- the test functions ------------------------------------------------------------------


@pytest.mark.parametrize("name", sorted(testfunctions.FUNCTIONS))
def test_the_optimum_is_the_minimum(name):
    fn = testfunctions.get(name)
    assert fn.mode == "min"
    for point in fn.argmin:
        assert fn.regret(point) == pytest.approx(0.0, abs=1e-12)
    configs = space.Space.from_spec(fn.space).sample(5000, seed=3)
    regrets = np.array([fn.regret(c) for c in configs])
    assert regrets.min() > 0  # nothing sampled beats the optimum
    # A search near the best sampled point does not either.
    best = configs[int(regrets.argmin())]
    rng = np.random.default_rng(0)
    for _ in range(500):
        near = {k: v + rng.normal(0, 0.01) for k, v in best.items()}
        assert fn.regret(near) >= -1e-12


def test_published_values():
    b, h = testfunctions.branin(), testfunctions.hartmann6()
    assert b.value({"x1": 0.0, "x2": 0.0}) == pytest.approx(55.60211264, abs=1e-7)
    assert b.optimum == pytest.approx(0.397887, abs=1e-6)
    assert h.optimum == pytest.approx(-3.32237, abs=1e-5)
    assert h.value({f"x{i}": 0.0 for i in range(1, 7)}) == pytest.approx(
        -sum(a * math.exp(-sum(aj * pj * pj for aj, pj in zip(A, P)))
             for a, A, P in zip(testfunctions._ALPHA, testfunctions._A, testfunctions._P)))


@pytest.mark.parametrize("name", sorted(testfunctions.FUNCTIONS))
def test_the_curve_approaches_the_function_with_fidelity(name):
    fn, exact = testfunctions.get(name), testfunctions.get(name, noise=0.0)
    configs = space.Space.from_spec(fn.space).sample(400, seed=1)
    for c in configs[:20]:
        assert exact.curve(c, fn.max_epochs) == exact.value(c)  # the last epoch is the function
        assert exact.curve(c, 1) == exact.value(c, 1 / fn.max_epochs) != exact.value(c)
    # The landscape moves with fidelity: at epoch 1 it ranks configs differently.
    first = [exact.curve(c, 1) for c in configs]
    last = [exact.curve(c, fn.max_epochs) for c in configs]
    assert np.argsort(first).tolist() != np.argsort(last).tolist()
    # The bias shrinks as epochs go by.
    gap = [np.mean([abs(exact.curve(c, e) - exact.value(c)) for c in configs]) for e in (1, 9, 27, 81)]
    assert gap == sorted(gap, reverse=True) and gap[-1] == 0.0


@pytest.mark.parametrize("name", sorted(testfunctions.FUNCTIONS))
def test_noise_is_seeded_by_seed_config_and_epoch_and_shrinks(name):
    fn = testfunctions.get(name, seed=7)
    configs = space.Space.from_spec(fn.space).sample(3000, seed=2)
    c = configs[0]
    assert fn.curve(c, 5) == testfunctions.get(name, seed=7).curve(c, 5)  # no state: the same again
    assert fn.curve(c, 5) != testfunctions.get(name, seed=8).curve(c, 5)
    assert fn.curve(c, 5) - fn.value(c, 5 / 81) != fn.curve(c, 6) - fn.value(c, 6 / 81)
    for epoch in (1, 81):
        noise = np.array([fn.curve(x, epoch) - fn.value(x, epoch / 81) for x in configs])
        sd = fn.noise / math.sqrt(epoch)
        assert abs(noise.mean()) < 4 * sd / math.sqrt(len(noise))
        assert noise.std() == pytest.approx(sd, rel=0.06)


def test_settings_of_a_test_function_are_checked():
    with pytest.raises(UserError, match="unknown test function 'rosen'"):
        testfunctions.get("rosen")
    for bad in ({"max_epochs": 0}, {"noise": -1.0}, {"seed": -1}):
        with pytest.raises(UserError, match=next(iter(bad))):
            testfunctions.get("branin", **bad)
    with pytest.raises(UserError, match=r"\['x1', 'x2'\]"):
        testfunctions.branin().curve({"x": 1.0}, 1)


# -- regret --------------------------------------------------------------------------------


def _brute_regrets(fn, result, budgets) -> list[float]:
    """The incumbent after each budget of reports, found by scanning them in arrival order."""
    table = result.table()
    rows = sorted(zip(table.column("time").to_pylist(), range(table.num_rows), table.column("trial").to_pylist(),
                      table.column("epoch").to_pylist(), table.column("value").to_pylist()))
    out = []
    for budget in budgets:
        full = [(v, t) for _, _, t, e, v in rows[:budget] if e == result.max_epochs]
        out.append(fn.regret(result.configs[min(full)[1]]) if full else math.inf)
    return out


@pytest.mark.parametrize("name, policy, workers", [("branin", "asha", 4), ("hartmann6", "hyperband", 3),
                                                   ("branin", "median", 1)])
def test_regret_by_budget_follows_the_incumbent(name, policy, workers):
    fn = testfunctions.get(name, max_epochs=27, seed=2)
    result = halving.simulate(fn.curve, space=fn.space, mode=fn.mode, max_epochs=27, trials=200, policy=policy,
                              workers=workers, seed=2)
    budgets = np.unique(np.linspace(1, result.epochs_used + 50, 60).astype(int))
    got = fn.regret_by_budget(result, budgets)
    assert got.tolist() == _brute_regrets(fn, result, budgets.tolist())
    assert got[0] == math.inf and math.isfinite(got[-1])
    # At the end: the regret of the result's own best config, against the known optimum.
    assert got[-1] == fn.regret(result.best_config) == fn.value(result.best_config) - fn.optimum > 0


def test_regret_refuses_a_result_of_the_other_mode():
    fn = testfunctions.branin(max_epochs=9)
    result = halving.simulate(fn.curve, space=fn.space, mode="max", max_epochs=9, trials=9, policy="sha")
    with pytest.raises(UserError, match="minimised"):
        fn.regret_by_budget(result, [10])


# -- the command line ----------------------------------------------------------------------


def test_cli_simulates_a_test_function_with_its_regret():
    import json

    from typer.testing import CliRunner

    from halving.cli import app

    out = CliRunner().invoke(app, ["simulate", "--function", "hartmann6", "--trials", "300", "--max-epochs", "27",
                                   "--workers", "4", "--seed", "3", "--json"])
    assert out.exit_code == 0, out.output
    row = json.loads(out.output)
    fn = testfunctions.hartmann6(max_epochs=27, seed=3)
    direct = halving.simulate(fn.curve, space=fn.space, mode="min", max_epochs=27, trials=300, policy="asha",
                              workers=4, seed=3)
    assert row["epochs_used"] == direct.epochs_used and row["best_value"] == direct.best_value
    assert row["regret"] == fn.regret(direct.best_config) > 0
    bad = CliRunner().invoke(app, ["simulate", "--function", "rosen"])
    assert bad.exit_code == 2 and "unknown test function 'rosen'" in bad.output


# -- virtual time --------------------------------------------------------------------------


@pytest.mark.parametrize("workers", [1, 3])
def test_epoch_seconds_may_be_a_function_of_the_config(workers):
    costs = {}

    def cost(config):
        costs[config["x"]] = costs.get(config["x"], 0) + 1
        return 0.5 + config["x"]

    result = run(curve_at, "none", trials=12, workers=workers, epoch_seconds=cost)
    assert sorted(costs.values()) == [1] * 12  # asked once per trial
    per_trial = [R * (0.5 + c["x"]) for c in result.configs.values()]
    if workers == 1:
        assert result.virtual_seconds == pytest.approx(sum(per_trial))
    assert result.backend_stats["busy_seconds"] == pytest.approx(sum(per_trial))
    table = result.table()
    for t, e, at in zip(*(table.column(k).to_pylist() for k in ("trial", "epoch", "time"))):
        if t < workers:  # started at 0: epoch e ends at e times the trial's own cost
            assert at == pytest.approx(e * (0.5 + result.configs[t]["x"]))
    same = run(curve_at, "asha", trials=40, epoch_seconds=lambda c: 2.0)
    assert same.virtual_seconds == 2.0 * run(curve_at, "asha", trials=40).virtual_seconds


@pytest.mark.parametrize("bad", [0.0, -1.0, math.nan, math.inf, "1", None])
def test_a_bad_epoch_cost_is_refused_naming_the_config(bad):
    with pytest.raises(SpecError, match=r"epoch_seconds\(config\) must return a positive.*config=\{'x'"):
        run(curve_at, epoch_seconds=lambda c: bad)


def test_epoch_seconds_as_a_function_needs_a_curve_function():
    with pytest.raises(ValueError, match="not with a table"):
        halving.simulate(np.ones((3, 3)), policy="none", epoch_seconds=lambda c: 1.0)


# -- the benchmark ---------------------------------------------------------------------------


def test_the_benchmark_writes_regret_quantiles_and_a_plot(tmp_path):
    import json

    from benchmarks.__main__ import main

    out, plot = tmp_path / "tf.json", tmp_path / "tf.png"
    assert main(["testfunctions", "--seeds", "3", "--trials", "27", "--max-epochs", "9", "--workers", "2",
                 "--policy", "asha", "--policy", "none", "--function", "branin", "--out", str(out),
                 "--plot", str(plot)]) == 0
    figures = json.loads(out.read_text())["figures"]
    assert plot.stat().st_size > 10_000
    cells = {c["policy"]: c for c in figures["cells"]}
    assert set(cells) == {"asha", "none"} and all(c["sampler"] == "random" for c in cells.values())
    none = cells["none"]
    assert none["median_epochs_used"] == 27 * 9 and none["median_curve_fn_calls"] == 27 * 9
    # The median final regret is that of seed 0..2's own best configs, against the optimum.
    finals = []
    for seed in range(3):
        fn = testfunctions.branin(max_epochs=9, seed=seed)
        r = halving.simulate(fn.curve, space=fn.space, mode="min", max_epochs=9, trials=27, policy="none", workers=2,
                             seed=seed)
        finals.append(fn.regret(r.best_config))
    assert none["median_final_regret"] == sorted(finals)[1]
    assert none["regret_quantiles"]["q50"][-1] == round(sorted(finals)[1], 6)
    assert figures["budgets_epochs"][-1] == 27 * 9


@pytest.mark.parametrize("argv, message", [
    (["--sampler", "no-such-sampler"], "unknown sampler 'no-such-sampler'"),
    (["--policy", "nope"], "unknown policy 'nope'"),
])
def test_the_benchmark_refuses_an_unknown_name_before_it_runs(argv, message, tmp_path):
    from benchmarks.__main__ import main

    with pytest.raises(SystemExit, match=message):
        main(["testfunctions", "--seeds", "1", "--out", str(tmp_path / "x.json"), *argv])
    assert not (tmp_path / "x.json").exists()


@pytest.mark.parametrize("sampler", ["tpe", "bohb"])
def test_a_model_sampler_proposes_from_the_simulated_reports(sampler):
    fn = halving.testfunctions.branin()
    run = lambda seed: halving.simulate(fn.curve, space=fn.space, trials=60, max_epochs=fn.max_epochs, mode=fn.mode,
                                        policy="asha", sampler=sampler, workers=4, seed=seed)
    a, b = run(3), run(3)
    assert a.configs == b.configs and a.decisions == b.decisions  # deterministic for a seed
    rand = halving.simulate(fn.curve, space=fn.space, trials=60, max_epochs=fn.max_epochs, mode=fn.mode,
                            policy="asha", workers=4, seed=3)
    assert a.configs[0] == rand.configs[0]  # before the model has data it draws as random does
    assert a.configs != rand.configs  # ... and afterwards the model proposes


def test_a_table_takes_no_sampler():
    with pytest.raises(TypeError, match="a table's trials are its rows"):
        halving.simulate(np.ones((3, 2)), policy="asha", sampler="tpe")


def test_simulate_runs_with_ray_impossible_to_import():
    # A subprocess in which any import of ray fails: simulate, its samplers and policies never need it.
    import subprocess
    import sys
    import textwrap

    script = textwrap.dedent("""
        import sys

        class Block:
            def find_spec(self, name, path=None, target=None):
                if name.partition(".")[0] == "ray":
                    raise ImportError(name + " is blocked in this test")

        sys.meta_path.insert(0, Block())
        import halving
        from halving import testfunctions

        fn = testfunctions.hartmann6(seed=0)
        for sampler in ("random", "tpe", "bohb"):
            for policy in ("asha", "hyperband", "asha-curve"):
                result = halving.simulate(fn.curve, space=fn.space, trials=60, max_epochs=9, mode="min",
                                          policy=policy, sampler=sampler, workers=4, seed=1)
                assert result.best_value < 0, (sampler, policy, result.best_value)
        assert "ray" not in sys.modules
        print("ok")
    """)
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0 and done.stdout.strip() == "ok", done.stderr[-2000:]
