"""One writer per run dir: real processes contend for the lock, and one is killed."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import textwrap
import time

import pytest

from halving import runlock
from halving.runlock import RunLockedError

_HOLDER = textwrap.dedent("""
    import sys, time
    from halving import runlock
    lock = runlock.acquire(sys.argv[1])
    print("locked", flush=True)
    time.sleep(120)
""")


def _env() -> dict:
    return {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}


def _hold_in_child(run_dir) -> subprocess.Popen:
    child = subprocess.Popen([sys.executable, "-c", _HOLDER, str(run_dir)], stdout=subprocess.PIPE, text=True,
                             env=_env())
    assert child.stdout.readline().strip() == "locked"
    return child


def test_a_second_process_is_refused_by_name_and_a_killed_holder_frees_the_lock(tmp_path):
    child = _hold_in_child(tmp_path)
    try:
        with pytest.raises(RunLockedError, match=f"process {child.pid} on {socket.gethostname()}") as info:
            runlock.acquire(tmp_path)
        assert info.value.pid == child.pid and info.value.host == socket.gethostname()
        assert isinstance(info.value, ValueError)
    finally:
        child.send_signal(signal.SIGKILL)
        child.wait()
    # SIGKILL runs no cleanup: the kernel released the lock with the process.
    with runlock.acquire(tmp_path) as lock:
        assert lock.held
        assert json.loads((tmp_path / ".lock").read_text())["pid"] == os.getpid()


def test_only_one_of_many_racing_processes_gets_the_lock(tmp_path):
    racer = textwrap.dedent("""
        import sys, time
        from halving import runlock
        time.sleep(max(0.0, float(sys.argv[2]) - time.time()))  # all try at once
        try:
            lock = runlock.acquire(sys.argv[1])
        except runlock.RunLockedError as exc:
            print("refused", exc.pid, flush=True)
        else:
            print("locked", flush=True)
            time.sleep(3.0)
    """)
    start = time.time() + 3.0
    procs = [subprocess.Popen([sys.executable, "-c", racer, str(tmp_path), str(start)], stdout=subprocess.PIPE,
                              text=True, env=_env()) for _ in range(6)]
    outs = [p.communicate(timeout=60)[0].split() for p in procs]
    winners = [p.pid for p, out in zip(procs, outs) if out[0] == "locked"]
    assert len(winners) == 1
    named = {int(out[1]) for out in outs if out[0] == "refused" and out[1] != "None"}
    assert named <= set(winners)


def test_in_one_process_a_second_acquire_is_refused_too(tmp_path):
    with runlock.acquire(tmp_path):
        with pytest.raises(RunLockedError, match=f"process {os.getpid()}"):
            runlock.acquire(tmp_path)
    runlock.acquire(tmp_path).release()


def test_release_clears_the_label_and_is_idempotent(tmp_path):
    lock = runlock.acquire(tmp_path / "new" / "dir")
    assert json.loads((tmp_path / "new" / "dir" / ".lock").read_text())["host"] == socket.gethostname()
    lock.release()
    lock.release()
    assert not lock.held and (tmp_path / "new" / "dir" / ".lock").read_text() == ""


def test_children_do_not_inherit_the_lock(tmp_path):
    # Ray starts workers and a raylet from the driver: they must not keep the run dir locked.
    lock = runlock.acquire(tmp_path)
    child = subprocess.Popen(["sleep", "30"], close_fds=False)
    try:
        lock.release()
        runlock.acquire(tmp_path).release()
    finally:
        child.kill()
        child.wait()


def test_a_run_dir_that_is_a_file_is_a_clear_error(tmp_path):
    target = tmp_path / "file"
    target.write_text("x")
    with pytest.raises(ValueError, match="file exists and is not a directory"):
        runlock.acquire(target)
