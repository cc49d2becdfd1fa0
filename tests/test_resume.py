"""Kill the CLI mid-run with SIGKILL, resume, and lose nothing."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from typer.testing import CliRunner

import halving
from halving.cli import app
from halving.eventlog import iter_events, read_events

from . import _resume_target
from ._results import assert_results_match_the_log

pytestmark = [pytest.mark.usefixtures("ray_session"), pytest.mark.slow]

TARGET = str(Path(__file__).with_name("_resume_target.py")) + ":train"
ARGS = ["--policy", "sha", "--trials", "27", "--max-epochs", "9", "--workers", "2", "--seed", "5", "--metric", "acc", "--mode", "max"]


def _reports(run_dir: Path) -> list[tuple[int, int, float]]:
    return [(e["trial"], e["epoch"], e["value"]) for e in iter_events(read_events(run_dir)) if e["kind"] == "report"]


def test_sigkill_then_resume_loses_no_report_and_finds_the_same_best(tmp_path):
    run_dir = tmp_path / "killed"
    proc = subprocess.Popen(
        [sys.executable, "-m", "halving.cli", "run", TARGET, *ARGS, "--run-dir", str(run_dir), "--quiet"],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, start_new_session=True,
    )
    deadline = time.time() + 120
    before: list = []
    while time.time() < deadline:
        time.sleep(0.2)
        if proc.poll() is not None:
            pytest.fail(f"the run ended before it could be killed: {proc.stdout.read().decode()[-2000:]}")
        try:
            before = _reports(run_dir)
        except (FileNotFoundError, ValueError):
            continue
        if len(before) >= 30:  # mid-run: rung 0 is done or nearly, promotions under way
            break
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait(timeout=30)
    before = _reports(run_dir)  # everything on disk at the moment of the kill
    assert 30 <= len(before) < 63, len(before)
    unfinished = halving.load(run_dir)  # an unfinished run loads too
    assert unfinished.stop_reason == "unfinished"
    assert unfinished.table().num_rows == len([r for r in before if r[2] == r[2]])

    result = CliRunner().invoke(app, ["resume", str(run_dir), "--quiet", "--json"])
    assert result.exit_code == 0, result.output
    after = _reports(run_dir)
    # Every report logged before the kill is still there, unchanged, and none is logged twice.
    assert after[: len(before)] == before
    assert len({(t, e) for t, e, _ in after}) == len(after)
    events = list(iter_events(read_events(run_dir)))
    import json

    session = [json.loads(e["payload"]) for e in events if e["kind"] == "session_started"][-1]
    assert session["resumed"] is True
    restarted = {e["trial"]: e["payload"] for e in events if e["kind"] == "restarted"}
    # Trials running at the kill restart from scratch (this trainable keeps no checkpoint), and the log says so.
    assert set(session["running_at_crash"]) <= set(restarted)
    assert all("scratch" in p for p in restarted.values())
    resumed = halving.load(run_dir)
    assert resumed.epochs_used == 27 + 9 * 2 + 3 * 6
    assert_results_match_the_log(run_dir, tmp_path)  # both sessions' reports

    uninterrupted = halving.tune(_resume_target.train, _resume_target.space, metric="acc", mode="max", policy="sha",
                                 trials=27, max_epochs=9, workers=2, seed=5, run_dir=tmp_path / "whole")
    assert resumed.best_trial == uninterrupted.best_trial
    assert resumed.best_value == pytest.approx(uninterrupted.best_value)
    fate = lambda r: sorted((d.trial, d.epoch, d.action.value) for d in r.decisions  # noqa: E731
                            if d.reason.rule != "waiting-for-rung")
    assert fate(resumed) == fate(uninterrupted)


def test_ctrl_c_flushes_the_log_says_how_to_resume_and_resume_works(tmp_path):
    run_dir = tmp_path / "interrupted"
    args = ["--policy", "sha", "--trials", "81", "--max-epochs", "27", "--workers", "2", "--seed", "2",
            "--metric", "acc", "--mode", "max"]
    proc = subprocess.Popen(
        [sys.executable, "-m", "halving.cli", "run", TARGET, *args, "--run-dir", str(run_dir), "--quiet"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True,
    )
    deadline = time.time() + 120
    while time.time() < deadline:
        time.sleep(0.2)
        try:
            if len(_reports(run_dir)) >= 20:
                break
        except (FileNotFoundError, ValueError):
            continue
    os.killpg(proc.pid, signal.SIGINT)  # what Ctrl-C does: SIGINT to the foreground process group
    out, err = proc.communicate(timeout=120)
    assert proc.returncode == 130, (out, err)
    assert f"halving resume {run_dir}" in err
    events = list(iter_events(read_events(run_dir)))
    assert events[-1]["kind"] == "interrupted"
    before = _reports(run_dir)
    assert 20 <= len(before) < 243

    result = CliRunner().invoke(app, ["resume", str(run_dir), "--quiet", "--json"])
    assert result.exit_code == 0, result.output
    after = _reports(run_dir)
    assert after[: len(before)] == before
    assert halving.load(run_dir).epochs_used == 81 + 27 * 2 + 9 * 6 + 3 * 18
