"""A run dir that cannot be written: under a file, on a read-only file system, on a full
disk before the run and on a disk that fills up mid-run. Each is one clear line (exit 2
from the CLI), found before Ray starts where it can be, and a disk that fills mid-run stops
in order keeping every report written, so the run resumes once there is room again.

The read-only and full-disk cases mount a small tmpfs (the tests run as root, as CI does);
where mounting is not permitted they are skipped with the reason."""

from __future__ import annotations

import subprocess
import threading
import time
from pathlib import Path

import pytest
from typer.testing import CliRunner

import halving
from halving import space
from halving.cli import app
from halving.errors import UserError
from halving.eventlog import iter_events, read_events

from . import _trainables as T

TARGET = str(Path(__file__).with_name("_resume_target.py")) + ":train"
ARGS = ["--policy", "sha", "--trials", "9", "--max-epochs", "3", "--metric", "acc", "--mode", "max", "--quiet"]


@pytest.fixture
def no_ray(monkeypatch):
    import halving.backends.ray_cluster

    def refuse(*args, **kwargs):
        raise AssertionError("the run dir's fault was found only after Ray started")

    monkeypatch.setattr(halving.backends.ray_cluster, "connect", refuse)


def _mount_tmpfs(path: Path, size: str, *options: str) -> None:
    path.mkdir(parents=True, exist_ok=True)
    opts = ",".join([f"size={size}", *options])
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", opts, "tmpfs", str(path)], capture_output=True, text=True)
    if done.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {done.stderr.strip()}")


@pytest.fixture
def tmpfs(tmp_path):
    mounted: list[Path] = []

    def make(size: str, *options: str) -> Path:
        where = tmp_path / f"fs{len(mounted)}"
        _mount_tmpfs(where, size, *options)
        mounted.append(where)
        return where

    yield make
    for where in mounted:
        subprocess.run(["umount", "-l", str(where)], capture_output=True)


def _run_cli(run_dir: Path) -> tuple[int, str]:
    out = CliRunner().invoke(app, ["run", TARGET, *ARGS, "--run-dir", str(run_dir)])
    return out.exit_code, out.output


def test_a_run_dir_under_a_file_is_one_line_before_ray(tmp_path, no_ray):
    (tmp_path / "file").write_text("not a folder")
    code, output = _run_cli(tmp_path / "file" / "run")
    assert code == 2 and "cannot write the run dir" in output and "Not a directory" in output
    assert "Traceback" not in output


def test_a_read_only_file_system_is_one_line_before_ray(tmpfs, no_ray):
    where = tmpfs("1m", "ro")
    code, output = _run_cli(where / "run")
    assert code == 2 and "Read-only file system" in output and "Traceback" not in output


def test_a_full_disk_is_one_line_before_ray(tmpfs, no_ray):
    where = tmpfs("256k")
    code, output = _run_cli(where / "run")
    assert code == 2 and "No space left on device" in output and "Traceback" not in output
    assert not list((where / "run").glob("events-*"))  # nothing half-written


def _reports(run_dir: Path) -> list[tuple[int, int, float]]:
    return [(e["trial"], e["epoch"], e["value"]) for e in iter_events(read_events(run_dir)) if e["kind"] == "report"]


@pytest.mark.usefixtures("ray_session")
def test_a_disk_that_fills_mid_run_stops_in_order_and_resumes(tmpfs):
    where = tmpfs("3m")
    run_dir = where / "run"
    filler = where / "filler"
    filled = threading.Event()

    def fill_when_busy() -> None:
        deadline = time.time() + 60
        while time.time() < deadline and not filled.is_set():
            time.sleep(0.05)
            try:
                if len(_reports(run_dir)) >= 20:
                    with open(filler, "wb") as fh:  # every byte left
                        try:
                            while True:
                                fh.write(bytes(64 * 1024))
                                fh.flush()
                        except OSError:
                            pass
                    filled.set()
            except (OSError, ValueError):
                continue

    thread = threading.Thread(target=fill_when_busy, daemon=True)
    thread.start()
    grid = {"x": space.grid([i / 40 for i in range(1, 41)]), "slow": space.grid([0.0]),
            "sleep": space.grid([0.01])}
    with pytest.raises(UserError, match="No space left on device.*halving resume"):
        halving.tune(T.train_counting, grid, metric="acc", mode="max", policy="sha", max_epochs=9, workers=2,
                     run_dir=run_dir)
    thread.join(timeout=5)
    assert filled.is_set()
    before = _reports(run_dir)  # what was on disk when the write failed
    assert len(before) >= 20
    filler.unlink()
    result = halving.tune(T.train_counting, grid, metric="acc", mode="max", policy="sha", max_epochs=9, workers=2,
                          run_dir=run_dir, resume=True)
    after = _reports(run_dir)
    assert after[: len(before)] == before and len(set((t, e) for t, e, _ in after)) == len(after)
    assert result.stop_reason == "done" and result.best_trial is not None
