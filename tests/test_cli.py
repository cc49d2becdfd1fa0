"""The CLI, through typer's CliRunner (and once through the installed command)."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

import halving
import policies as P
from halving import testfunctions
from halving.cli import app

from ._sampler_runs import proposals
from halving.simulation import curve_matrix

runner = CliRunner()
TARGET = str(Path(__file__).with_name("_cli_target.py")) + ":train"
SMALL = ["--metric", "val_acc", "--mode", "max", "--trials", "12", "--max-epochs", "9", "--workers", "2", "--quiet"]


def _has_matplotlib() -> bool:
    try:
        import matplotlib  # noqa: F401
    except ImportError:
        return False
    return True


def invoke(*args):
    return runner.invoke(app, [str(a) for a in args])


def test_policies_lists_every_policy_with_defaults():
    out = invoke("policies", "--json")
    assert out.exit_code == 0
    table = json.loads(out.output)
    assert set(table) == {"asha", "asha-curve", "asha-stop", "sha", "hyperband", "median", "bandit", "truncation", "none"}
    assert table["asha"] == {"eta": 3, "min_epochs": 1}
    assert table["bandit"]["slack_factor"] == 0.1


def test_simulate_runs_at_scale_in_virtual_time():
    out = invoke("simulate", "--policy", "asha", "--trials", "3000", "--max-epochs", "27", "--workers", "10",
                 "--json")
    assert out.exit_code == 0, out.output
    row = json.loads(out.output)
    assert row["n_trials"] == 3000 and row["best_value"] is not None and row["regret"] >= 0


def test_simulate_a_test_function_with_a_model_sampler():
    out = invoke("simulate", "--function", "hartmann6", "--sampler", "tpe", "--trials", "300", "--max-epochs", "27",
                 "--workers", "4", "--json")
    assert out.exit_code == 0, out.output
    row = json.loads(out.output)
    fn = testfunctions.hartmann6(max_epochs=27, seed=0)
    direct = halving.simulate(fn.curve, space=fn.space, mode="min", max_epochs=27, trials=300, workers=4, seed=0,
                              policy="asha", sampler="tpe")
    assert row["best_value"] == direct.best_value and row["regret"] >= 0


@pytest.mark.parametrize(
    "args, message",
    [
        (["run", "sgd-digits", "--policy", "nope"], "unknown policy 'nope'"),
        (["run", "no_such_module_xyz:train", "--metric", "a", "--mode", "max", "--max-epochs", "3"], "cannot import module"),
        (["run", "not-an-example"], "unknown target 'not-an-example'"),
        (["run", "missing/file.py:train", "--metric", "a", "--mode", "max", "--max-epochs", "3"], "does not exist"),
        (["run", "sgd-digits", "--policy", "asha", "--grace", "2"], "--grace does not apply to policy 'asha'"),
        (["run", "sgd-digits", "--policy", "asha", "--kappa", "2"], "--kappa does not apply to policy 'asha'"),
        (["run", "sgd-digits", "--policy", "asha-curve", "--calibration", "1"], "calibration must be >= 2"),
        (["run", "sgd-digits", "--eta", "1"], "eta must be >= 2"),
        (["run", "sgd-digits", "--trials", "0"], "trials must be a positive int"),
        (["show", "no/such/run_dir"], "does not exist"),
        (["replay", "no/such/run_dir"], "does not exist"),
        (["resume", "no/such/run_dir"], "does not exist"),
        (["replay", ".", "--policies", "asha,bogus"], "unknown policy 'bogus'"),
        (["simulate", "--function", "branin", "--sampler", "nope"], "unknown sampler 'nope'"),
        (["simulate", "--sampler", "tpe"], "--sampler tpe needs --function"),
    ],
)
def test_bad_arguments_give_one_line_and_exit_code_2(args, message):
    out = invoke(*args)
    assert out.exit_code == 2, out.output
    assert message in out.output
    assert "Traceback" not in out.output
    assert len([l for l in out.output.splitlines() if l.startswith("halving: error")]) == 1


@pytest.mark.parametrize("content, message", [
    ("{not json", "space.json"),
    ('{"lr": {"type": "loguniform", "low": 0, "high": 1}}', "loguniform needs low > 0"),
    ('{"lr": {"type": "bogus"}}', "bogus"),
])
def test_malformed_space_file_is_exit_code_2(tmp_path, content, message):
    path = tmp_path / "space.json"
    path.write_text(content)
    out = invoke("run", TARGET, "--space", path, "--metric", "val_acc", "--mode", "max", "--max-epochs", "3")
    assert out.exit_code == 2, out.output
    assert message in out.output and "Traceback" not in out.output


def test_debug_shows_the_traceback():
    out = runner.invoke(app, ["--debug", "run", "sgd-digits", "--eta", "1"])
    assert out.exit_code == 2
    assert "Traceback" in out.output


@pytest.fixture(scope="module")
def finished_run(tmp_path_factory, ray_session):
    run_dir = tmp_path_factory.mktemp("cli") / "run"
    out = invoke("run", TARGET, "--policy", "none", *SMALL, "--run-dir", run_dir)
    assert out.exit_code == 0, out.output
    assert "best val_acc" in out.output
    return run_dir


@pytest.mark.usefixtures("ray_session")
def test_run_with_a_model_sampler_and_the_curve_rule_s_parameters(tmp_path):
    run_dir = tmp_path / "run"
    out = invoke("run", TARGET, "--policy", "asha-curve", "--kappa", "0.5", "--calibration", "4", "--min-points", "4",
                 "--sampler", "tpe", "--metric", "val_acc", "--mode", "max", "--trials", "30", "--max-epochs", "3",
                 "--workers", "2", "--quiet", "--run-dir", run_dir)
    assert out.exit_code == 0, out.output
    spec = json.loads((run_dir / "spec.json").read_text())
    assert spec["policy"] == "asha-curve" and spec["policy_params"] == {"kappa": 0.5, "calibration": 4, "min_points": 4}
    assert spec["sampler"] == "tpe" and spec["sampler_defaults"]["bandwidth_factor"] == 8.0
    models = {json.loads(o)["model"] for _, _, o in proposals(run_dir)}
    assert models == {"random", "tpe"}  # 10 startup trials at random, then the model


def test_run_then_show(finished_run):
    out = invoke("show", finished_run, "--json")
    assert out.exit_code == 0, out.output
    shown = json.loads(out.output)
    assert shown["summary"]["n_trials"] == 12 and shown["summary"]["epochs_used"] == 12 * 9
    assert shown["leaderboard"][0]["trial"] == shown["summary"]["best_trial"]
    assert all(d["reason"]["rule"] for d in shown["decisions"])
    text = invoke("show", finished_run)
    assert text.exit_code == 0 and "leaderboard" in text.output and "decisions" in text.output


def test_replay_of_a_full_run_matches_direct_simulation(finished_run):
    out = invoke("replay", finished_run, "--policies", "asha,sha,median,bandit,truncation,hyperband", "--json")
    assert out.exit_code == 0, out.output
    rows = {r["policy"]: r for r in json.loads(out.output)}
    recorded = halving.load(finished_run)
    curves, ids = curve_matrix(recorded)
    assert not np.isnan(curves).any()  # policy none recorded every curve in full
    for name, row in rows.items():
        direct = halving.simulate(curves, policy=name, workers=2, seed=0)
        assert row["epochs_used"] == direct.epochs_used
        assert row["best_value"] == pytest.approx(direct.best_value)
        assert row["cut_short"] == 0
        assert row["regret"] >= -1e-12


def test_replay_counts_curves_cut_short(tmp_path, ray_session):
    run_dir = tmp_path / "sha"
    out = invoke("run", TARGET, "--policy", "sha", *SMALL, "--run-dir", run_dir)
    assert out.exit_code == 0, out.output
    out = invoke("replay", run_dir, "--policies", "none,sha", "--json")
    rows = {r["policy"]: r for r in json.loads(out.output)}
    assert rows["sha"]["cut_short"] == 0  # the same policy asks only for what was recorded
    assert rows["none"]["cut_short"] > 0  # no pruning wants every curve in full


def test_compare_writes_a_table(tmp_path, ray_session):
    csv = tmp_path / "cmp.csv"
    plot = ["--plot", tmp_path / "best.png"] if _has_matplotlib() else []
    out = invoke("compare", TARGET, "--policies", "asha,none", "--seeds", "1", "--metric", "val_acc", "--mode", "max",
                 "--trials", "9", "--max-epochs", "3", "--workers", "2", "--run-dir", tmp_path / "runs",
                 "--out", csv, "--json", "--quiet", *plot)
    assert out.exit_code == 0, out.output
    rows = json.loads(out.output)
    assert [r["policy"] for r in rows] == ["asha", "none"]
    assert all(r["test_value"] is not None for r in rows)
    assert rows[1]["epochs_used"] == 27 and rows[0]["epochs_used"] < 27
    assert csv.read_text().splitlines()[0].startswith('"policy"')
    if plot:
        assert (tmp_path / "best.png").stat().st_size > 5000


def test_resume_of_a_finished_run_changes_nothing(finished_run):
    before = halving.load(finished_run)
    out = invoke("resume", finished_run, "--json", "--quiet")
    assert out.exit_code == 0, out.output
    after = halving.load(finished_run)
    assert after.epochs_used == before.epochs_used and after.best_trial == before.best_trial


def test_installed_command_runs():
    exe = shutil.which("halving") or str(Path(sys.executable).with_name("halving"))
    done = subprocess.run([exe, "policies"], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert "hyperband" in done.stdout
    bad = subprocess.run([exe, "show", "no/such/dir"], capture_output=True, text=True, timeout=120)
    assert bad.returncode == 2 and "does not exist" in bad.stderr and "Traceback" not in bad.stderr


def test_show_plot_draws_the_learning_curves(finished_run, tmp_path):
    pytest.importorskip("matplotlib")
    png = tmp_path / "curves.png"
    out = invoke("show", finished_run, "--decisions", "1", "--plot", png)
    assert out.exit_code == 0, out.output
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and png.stat().st_size > 5000


def test_without_matplotlib_plots_give_an_install_hint(finished_run, tmp_path, monkeypatch):
    import builtins

    real_import = builtins.__import__

    def no_matplotlib(name, *args, **kwargs):
        if name == "matplotlib" or name.startswith("matplotlib."):
            raise ImportError("No module named 'matplotlib'")
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_matplotlib)
    out = invoke("show", finished_run, "--decisions", "1", "--plot", tmp_path / "x.png")
    assert out.exit_code == 2
    assert "pip install 'halving[plot]'" in out.output and "Traceback" not in out.output


def test_live_progress_shows_trial_states_budget_best_and_elapsed():
    from rich.console import Console

    from halving.backends.simulated import SimulatedBackend
    from halving.cli.common import Progress
    from halving.engine import Engine
    from halving.experiment import ExperimentSpec, PolicySpec

    curves = np.linspace(0.1, 1.0, 9 * 5).reshape(9, 5)
    spec = ExperimentSpec(metric="value", mode="max", max_epochs=5, trials=9, budget=40, policy=PolicySpec.of("asha"))
    engine = Engine(spec, spec.policy.build(), SimulatedBackend(curves, workers=2))
    engine.run()
    console = Console(record=True, width=120)
    console.print(Progress(False, "demo", 40).render(engine))
    text = console.export_text()
    assert "running" in text and "paused" in text and "stopped" in text and "finished" in text
    assert f"{engine.epochs_used} of 40" in text
    assert "best" in text and "elapsed" in text


def test_a_continuous_space_needs_trials():
    out = invoke("run", TARGET, "--metric", "val_acc", "--mode", "max", "--max-epochs", "3")
    assert out.exit_code == 2 and "--trials N is required" in out.output


def test_resuming_a_run_started_from_a_scripts_main_block_says_how(tmp_path):
    from halving.eventlog import EventLog
    from halving.experiment import ExperimentSpec, PolicySpec

    spec = ExperimentSpec(space={"x": halving.space.uniform(0, 1)}, metric="acc", mode="max", max_epochs=3, trials=2,
                          policy=PolicySpec.of("asha"), target="__main__:train")
    log = EventLog(tmp_path / "run")
    log.experiment_started(spec.to_dict(), 0.0)
    log.close()
    out = invoke("resume", tmp_path / "run")
    assert out.exit_code == 2 and "`if __name__ == \"__main__\":` block" in out.output
    assert "halving.tune(..., run_dir=" in out.output and "resume=True" in out.output


def test_help_shows_no_value_after_flags():
    out = invoke("run", "--help")
    assert out.exit_code == 0 and "--json" in out.output
    assert "<bool>" not in out.output


def test_policies_describes_each_policy_in_whole_sentences():
    out = invoke("policies")
    assert out.exit_code == 0
    lines = [line for line in out.output.splitlines() if line and not line.startswith(" ")]
    assert len(lines) == len(P.POLICIES)
    for line in lines:
        assert line.rstrip().endswith("."), line  # not cut mid-sentence


def test_live_progress_counts_queued_trials_apart_from_training_ones():
    from rich.console import Console

    from halving.backends.simulated import SimulatedBackend
    from halving.cli.common import Progress
    from halving.engine import Engine
    from halving.experiment import ExperimentSpec, PolicySpec
    from halving.result import TrialState

    curves = np.linspace(0.1, 1.0, 9 * 5).reshape(9, 5)
    spec = ExperimentSpec(metric="value", mode="max", max_epochs=5, trials=9, policy=PolicySpec.of("asha"))
    engine = Engine(spec, spec.policy.build(), SimulatedBackend(curves, workers=2))
    for trial in range(4):  # four trials hold work (lookahead queues two behind the two workers)
        engine.created(trial, {"row": trial})
        engine.assigned(trial, 0, 1)
    assert sum(r.state is TrialState.RUNNING for r in engine.trials.values()) == 4
    console = Console(record=True, width=120)
    console.print(Progress(False, "demo", None).render(engine))
    assert "2 running (2 queued)" in console.export_text()
