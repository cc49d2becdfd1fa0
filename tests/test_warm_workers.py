"""tune() keeps the Ray it started, and its workers, for the next tune() of the process; a
trainable's module is imported by every worker before its first assignment; a module changed
on disk is never run from a kept worker. In a process of its own: no Ray may run before."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def warm(tmp_path_factory):
    folder = tmp_path_factory.mktemp("warm")
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(ROOT), str(folder), env.get("PYTHONPATH", "")])
    done = subprocess.run([sys.executable, str(Path(__file__).with_name("_warm_run.py")), str(folder)],
                          capture_output=True, text=True, timeout=300, env=env, cwd=folder)
    line = [s for s in done.stdout.splitlines() if s.startswith("WARM ")]
    assert done.returncode == 0 and line, done.stderr[-3000:]
    return json.loads(line[0][5:])


@pytest.mark.slow
def test_a_second_tune_runs_on_the_same_worker_processes(warm):
    first, second = set(warm["first"]["pid"]), set(warm["second"]["pid"])
    assert len(first) == 2 and second == first


@pytest.mark.slow
def test_every_worker_imported_the_module_before_the_first_assignment_was_made(warm):
    # Both runs that started workers: each imported the module before the driver logged
    # (and so before it sent) the experiment's first assignment.
    for run in ("first", "third"):
        t = warm[run]
        assert len(set(t["imported_at"])) == 2  # one import per worker process
        assert max(t["imported_at"]) < t["first_assigned"]


@pytest.mark.slow
def test_a_module_changed_on_disk_gets_new_workers_with_its_new_code(warm):
    assert set(warm["third"]["version"]) == {2.0}
    assert not set(warm["third"]["pid"]) & set(warm["first"]["pid"])
