"""Script trials: an unchanged argparse script, once per trial, through the CLI."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

import halving
from halving.cli import app
from halving.eventlog import iter_events, read_events
from halving.scripts import script_args

ROOT = Path(__file__).resolve().parent.parent
SCRIPT = ROOT / "examples" / "train_script.py"
SPACE = ROOT / "examples" / "script_space.json"


def test_script_args():
    assert script_args({"lr": 0.1, "loss": "hinge", "deep": True}) == ["--lr", "0.1", "--loss", "hinge",
                                                                         "--deep", "True"]


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
    assert "failed: trial" in out.output  # the CLI summary names the failed trials
    assert "no trial produced a best acc: 2 of 2 trials failed" in out.output
    failed = [json.loads(e["payload"]) for e in iter_events(read_events(run_dir)) if e["kind"] == "trial_failed"]
    assert len(failed) == 2
    assert all("exited with code 3" in f["error"] and "disk full" in f["error"] for f in failed), failed


def test_a_script_with_a_syntax_error_is_refused(tmp_path):
    script = tmp_path / "broken.py"
    script.write_text("def f(:\n    pass\n")
    out = CliRunner().invoke(app, ["run", str(script), "--space", str(SPACE), "--metric", "a", "--mode", "max", "--max-epochs", "3"])
    assert out.exit_code == 2 and "syntax error" in out.output and "Traceback" not in out.output
