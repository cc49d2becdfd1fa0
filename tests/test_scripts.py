"""Script trials: an unchanged argparse script, once per trial, through the CLI."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

import halving
from halving.cli import app
from halving.eventlog import iter_events, read_events
from halving.scripts import ScriptError, ScriptTrainable, script_args

ROOT = Path(__file__).resolve().parent.parent
SCRIPT = ROOT / "examples" / "train_script.py"
SPACE = ROOT / "examples" / "script_space.json"


def test_script_args_pass_a_boolean_as_a_flag_present_or_absent():
    assert script_args({"lr": 0.1, "loss": "hinge", "deep": True, "wide": False}) == ["--lr", "0.1", "--loss",
                                                                                        "hinge", "--deep"]
    assert script_args({"deep": np.True_, "wide": np.False_}) == ["--deep"]  # as sampled by choice()


def test_the_script_runs_on_its_own_and_prints_its_metrics():
    done = subprocess.run([sys.executable, str(SCRIPT), "--alpha", "0.001", "--epochs", "2"], capture_output=True,
                          text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    lines = [json.loads(l) for l in done.stdout.splitlines()]
    assert [l["script_epoch"] for l in lines] == [1, 2] and all(0 < l["val_accuracy"] <= 1 for l in lines)


def test_halving_tunes_the_unchanged_script_with_pause_and_promotion(tmp_path, ray_session):
    run_dir = tmp_path / "run"
    out = CliRunner().invoke(app, ["run", str(SCRIPT), "--space", str(SPACE), "--metric", "val_accuracy", "--mode", "max",
                                   "--policy", "asha", "--max-epochs", "9", "--trials", "12", "--workers", "2",
                                   "--run-dir", str(run_dir), "--quiet", "--json"])
    assert out.exit_code == 0, out.output
    result = halving.load(run_dir)
    table = result.table()
    # Promoted trials go on in the same script process where they paused: the script's own count agrees.
    assert table.column("script_epoch").to_pylist() == table.column("epoch").to_pylist()
    assert max(table.column("epoch").to_pylist()) == 9 and result.n_failed == 0


def test_a_failing_script_is_a_failed_trial_with_its_stderr_tail(tmp_path, ray_session):
    script = tmp_path / "bad.py"
    script.write_text(
        "import argparse, sys\nimport halving\n"
        "p = argparse.ArgumentParser(); p.add_argument('--x', type=float); a = p.parse_args()\n"
        "halving.report(acc=a.x)\n"
        "print('loading shard 7 failed: disk full', file=sys.stderr)\n"
        "sys.exit(3)\n"
    )
    space = tmp_path / "space.json"
    space.write_text('{"x": {"type": "uniform", "low": 0, "high": 1}}')
    run_dir = tmp_path / "run"
    out = CliRunner().invoke(app, ["run", str(script), "--space", str(space), "--metric", "acc", "--mode", "max", "--policy", "none",
                                   "--max-epochs", "3", "--trials", "2", "--workers", "2", "--run-dir",
                                   str(run_dir), "--quiet"])
    assert out.exit_code == 1, out.output  # no trial produced a best value: CI must see a failure
    assert "no trial produced a best acc: 2 of 2 trials failed" in out.output
    assert "failed: trial" in out.output and "exited with code 3: loading shard 7 failed: disk full" in out.output
    failed = [json.loads(e["payload"]) for e in iter_events(read_events(run_dir)) if e["kind"] == "trial_failed"]
    assert len(failed) == 2
    assert all("exited with code 3" in f["error"] and "disk full" in f["error"] for f in failed), failed


def test_a_script_with_a_syntax_error_is_refused(tmp_path):
    script = tmp_path / "broken.py"
    script.write_text("def f(:\n    pass\n")
    out = CliRunner().invoke(app, ["run", str(script), "--space", str(SPACE), "--metric", "a", "--mode", "max", "--max-epochs", "3"])
    assert out.exit_code == 2 and "syntax error" in out.output and "Traceback" not in out.output


# A script beside its own helpers.py, with a store_true flag, as a project lays it out.
_TRAIN = """\\
import argparse
import helpers  # beside the script, found as `python train.py` finds it
import halving

p = argparse.ArgumentParser()
p.add_argument("--lr", type=float, required=True)
p.add_argument("--nesterov", action="store_true")
p.add_argument("--no-augment", dest="augment", action="store_false")
a = p.parse_args()
for epoch in range(3):
    halving.report(acc=a.lr + epoch, folder=helpers.FOLDER, nesterov=float(a.nesterov), augment=float(a.augment))
"""

_FLAGS_SPACE = {"lr": {"type": "uniform", "low": 0, "high": 1}, "nesterov": {"type": "choice", "values": [True, False]},
                "no-augment": {"type": "choice", "values": [True, False]}}


def _project(root: Path, folder_id: int) -> Path:
    root.mkdir(parents=True)
    (root / "helpers.py").write_text(f"FOLDER = {folder_id}\n")
    (root / "train.py").write_text(_TRAIN)
    return root / "train.py"


def _run(script: Path, space: dict, run_dir: Path, trials: int = 6) -> object:
    space_file = run_dir.parent / f"{run_dir.name}-space.json"
    space_file.write_text(json.dumps(space))
    return CliRunner().invoke(app, ["run", str(script), "--space", str(space_file), "--metric", "acc", "--mode", "max",
                                    "--policy", "none", "--max-epochs", "3", "--trials", str(trials),
                                    "--workers", "2", "--run-dir", str(run_dir), "--quiet"])


def test_a_script_imports_its_neighbours_and_gets_its_flags_as_flags(tmp_path, ray_session):
    # Two projects, each with its own helpers.py, through the same reused workers: each sees its own.
    for folder_id in (1, 2):
        run_dir = tmp_path / f"run{folder_id}"
        out = _run(_project(tmp_path / f"proj{folder_id}", folder_id), _FLAGS_SPACE, run_dir)
        assert out.exit_code == 0, out.output
        result = halving.load(run_dir)
        assert result.n_failed == 0 and result.n_completed == 6, out.output
        table = result.table()
        assert set(table.column("folder").to_pylist()) == {folder_id}
        for row in table.to_pylist():  # the sampled booleans reached argparse's store_true / store_false
            config = result.configs[row["trial"]]
            assert row["nesterov"] == float(config["nesterov"]) and row["augment"] == float(not config["no-augment"])


def test_running_a_script_leaves_sys_path_and_modules_as_they_were(tmp_path, capsys):
    paths, modules = list(sys.path), set(sys.modules)
    for folder_id in (1, 2):
        ScriptTrainable(_project(tmp_path / f"proj{folder_id}", folder_id))({"lr": 0.5, "nesterov": True})
        assert json.loads(capsys.readouterr().out.splitlines()[0])["folder"] == folder_id
    assert sys.path == paths and "helpers" not in sys.modules and set(sys.modules) - modules <= {"argparse"}


def test_a_script_argparse_error_is_the_first_line_of_the_failure(tmp_path, ray_session):
    script = _project(tmp_path / "proj", 1)
    space = {**_FLAGS_SPACE, "momentum": {"type": "uniform", "low": 0, "high": 1}}  # a parameter train.py lacks
    out = _run(script, space, tmp_path / "run", trials=2)
    summary = [line for line in out.output.splitlines() if line.startswith("failed: trial")]
    assert len(summary) == 2, out.output
    assert all("script train.py exited with code 2: train.py: error: unrecognized arguments: --momentum" in line
               for line in summary), summary
    shown = CliRunner().invoke(app, ["show", str(tmp_path / "run")])
    text = " ".join(shown.output.split())  # rich wraps long lines at the terminal's width
    assert "failed: trial 0: ScriptError: script train.py exited with code 2: train.py: error: unrecognized " \
           "arguments: --momentum" in text, shown.output


def test_a_script_that_raises_names_the_exception_on_the_first_line(tmp_path):
    script = tmp_path / "boom.py"
    script.write_text("import helpers_that_do_not_exist\n")
    with pytest.raises(ScriptError) as caught:
        ScriptTrainable(script)({"lr": 0.5})
    first = str(caught.value).splitlines()[0]
    assert first == "script boom.py raised ModuleNotFoundError: No module named 'helpers_that_do_not_exist'"
