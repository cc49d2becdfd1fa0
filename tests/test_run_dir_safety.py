"""Reading a run dir never changes or executes it; one writer per run dir.

The faults are injected for real: a crafted pickle that writes a marker file when it is
unpickled, placed where halving keeps its best model and its checkpoints; a damaged record
in the middle of a log; a second writer process on a run dir in use."""

from __future__ import annotations

import os
import pickle
import subprocess
import sys
import time
from pathlib import Path

import pytest
from typer.testing import CliRunner

import halving
from halving import space
from halving.cli import app
from halving.eventlog import iter_events, log_files, read_events
from halving.signing import UntrustedFileError

from . import _trainables as T

pytestmark = pytest.mark.usefixtures("ray_session")

SPACE = {"x": space.uniform(0.0, 1.0), "slow": space.uniform(0.0, 1.0)}
TARGET = str(Path(__file__).with_name("_resume_target.py")) + ":train"


class _Evil:
    """Unpickling it runs a command: what a crafted pickle in a shared run dir can do."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self):
        return (os.system, (f"touch {self.marker}",))


def _snapshot(run_dir: Path) -> dict[str, tuple[int, int, bytes]]:
    return {str(p.relative_to(run_dir)): (p.stat().st_size, p.stat().st_mtime_ns, p.read_bytes())
            for p in sorted(run_dir.rglob("*")) if p.is_file()}


@pytest.fixture(scope="module")
def finished(tmp_path_factory) -> Path:
    run_dir = tmp_path_factory.mktemp("safety") / "run"
    result = halving.tune(T.CountingClass, SPACE, metric="acc", mode="max", policy="sha", max_epochs=9, trials=9,
                          workers=2, run_dir=run_dir)
    assert result.best_model is not None and (run_dir / "best_model.pkl").exists()
    return run_dir


def test_reading_commands_never_write(finished, tmp_path):
    before = _snapshot(finished)
    runner = CliRunner()
    for args in (["show", str(finished)], ["show", str(finished), "--json"],
                 ["replay", str(finished), "--policies", "asha,median"]):
        out = runner.invoke(app, args)
        assert out.exit_code == 0, out.output
    loaded = halving.load(finished)
    assert loaded.best_model == ("model", loaded.best_config["x"], 9)  # asked for, and signed by this run
    assert _snapshot(finished) == before


def test_a_crafted_best_model_is_never_unpickled(finished, tmp_path):
    run_dir = tmp_path / "shared"
    subprocess.run(["cp", "-a", str(finished), str(run_dir)], check=True)
    marker = tmp_path / "pwned"
    (run_dir / "best_model.pkl").write_bytes(pickle.dumps(_Evil(marker)))
    runner = CliRunner()
    assert runner.invoke(app, ["show", str(run_dir)]).exit_code == 0
    assert runner.invoke(app, ["replay", str(run_dir), "--policies", "asha"]).exit_code == 0
    result = halving.load(run_dir)  # reading the run never unpickles
    assert not marker.exists()
    with pytest.raises(UntrustedFileError, match="signature does not match"):
        result.best_model  # asking for the model checks first
    assert not marker.exists()


def test_a_crafted_checkpoint_is_refused_at_resume(tmp_path):
    run_dir = tmp_path / "run"

    def interrupt(engine) -> None:
        if engine.epochs_used >= 9:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        halving.tune(T.CountingClass, SPACE, metric="acc", mode="max", policy="sha", max_epochs=9, trials=9,
                     workers=2, run_dir=run_dir, progress=interrupt)
    paused = halving.load(run_dir)
    marker = tmp_path / "pwned"
    evil = pickle.dumps(_Evil(marker))
    (run_dir / "checkpoints").mkdir(exist_ok=True)
    for trial in paused.configs:  # any trial resume could restore
        (run_dir / "checkpoints" / f"trial-{trial}.pkl").write_bytes(evil)
    result = halving.tune(T.CountingClass, SPACE, metric="acc", mode="max", policy="sha", max_epochs=9, trials=9,
                          workers=2, run_dir=run_dir, resume=True)
    assert not marker.exists()
    assert result.stop_reason == "done" and result.best_trial is not None
    restarts = [e for e in iter_events(read_events(run_dir)) if e["kind"] == "restarted"]
    assert restarts and all('"scratch"' in e["payload"] for e in restarts)  # never from the crafted files
    assert not list((run_dir / "checkpoints").glob("trial-*"))  # and none is left behind


def test_a_damaged_log_is_reported_not_cut(finished, tmp_path):
    run_dir = tmp_path / "damaged"
    subprocess.run(["cp", "-a", str(finished), str(run_dir)], check=True)
    path = log_files(run_dir)[0]
    data = bytearray(path.read_bytes())
    # The header of the message nearest the middle: the reader checks structure and seq, not a
    # checksum, so bytes inside a string value that still decodes would go unnoticed.
    middle = data.find(b"\xff\xff\xff\xff", len(data) // 2)
    data[middle + 4:middle + 20] = b"\xde\xad\xbe\xef" * 4
    path.write_bytes(bytes(data))
    before = _snapshot(run_dir)
    out = CliRunner().invoke(app, ["show", str(run_dir), "--json"])
    assert out.exit_code == 0, out.output
    assert "halving: warning: the event log is damaged" in out.output and "damaged at byte" in out.output
    assert _snapshot(run_dir) == before  # nothing deleted


def _start_run(run_dir: Path) -> subprocess.Popen:
    args = ["--policy", "sha", "--trials", "27", "--max-epochs", "9", "--workers", "2", "--metric", "acc",
            "--mode", "max", "--quiet"]
    return subprocess.Popen([sys.executable, "-m", "halving.cli", "run", TARGET, *args, "--run-dir", str(run_dir)],
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, start_new_session=True)


@pytest.mark.slow
def test_a_second_writer_is_refused_naming_the_holder(tmp_path):
    run_dir = tmp_path / "run"
    first = _start_run(run_dir)
    deadline = time.time() + 120
    while time.time() < deadline and not (run_dir / ".lock").exists():
        time.sleep(0.1)
    try:
        runner = CliRunner()
        for args in (["run", TARGET, "--metric", "acc", "--mode", "max", "--trials", "3", "--max-epochs", "3",
                      "--run-dir", str(run_dir), "--quiet"],
                     ["resume", str(run_dir), "--quiet"]):
            out = runner.invoke(app, args)
            assert out.exit_code == 2, out.output
            assert f"in use by process {first.pid}" in out.output and "Traceback" not in out.output
        output, _ = first.communicate(timeout=240)
    finally:
        if first.poll() is None:
            first.kill()
    assert first.returncode == 0, output.decode()[-2000:]
    reports = [(e["trial"], e["epoch"]) for e in iter_events(read_events(run_dir)) if e["kind"] == "report"]
    assert len(reports) == len(set(reports)) == 27 * 1 + 9 * 2 + 3 * 6  # one writer's log, whole


def test_a_run_dir_left_with_only_a_header_can_be_run_again(tmp_path):
    # Ctrl-C while the run was starting: its log has a schema and no record.
    from halving.eventlog import EventLog

    run_dir = tmp_path / "run"
    EventLog(run_dir).close()
    assert log_files(run_dir) and read_events(run_dir).num_rows == 0
    out = CliRunner().invoke(app, ["run", TARGET, "--metric", "acc", "--mode", "max", "--policy", "sha", "--trials",
                                   "3", "--max-epochs", "3", "--run-dir", str(run_dir), "--quiet"])
    assert out.exit_code == 0, out.output
    assert halving.load(run_dir).stop_reason == "done"
