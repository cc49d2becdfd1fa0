"""Ray faults injected for real: clusters that cannot be joined (nothing listening, a wrong
token, another Ray version), what a local Ray listens on, and a node whose raylet is
SIGKILLed mid-run (with capacity left on the head, and with none). Each runs Ray in
processes of its own, so the session's Ray (conftest) is untouched."""

from __future__ import annotations

import ipaddress
import json
import os
import secrets
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow

HERE = Path(__file__).parent
TARGET = str(HERE / "_cli_target.py") + ":train"
TINY = ["--metric", "val_acc", "--mode", "max", "--trials", "2", "--max-epochs", "1", "--workers", "1", "--quiet"]
FAIL_WITHIN = 30.0  # seconds: the promise of ray_cluster.join


def _env(**extra: str) -> dict:
    root = str(HERE.parent)
    path = os.environ.get("PYTHONPATH")
    return dict(os.environ, PYTHONPATH=root + os.pathsep + path if path else root, **extra)


def _halving_run(address: str, run_dir: Path, **env: str) -> dict:
    """`halving run` joining ``address`` in a process of its own: exit code, stderr, seconds."""
    t0 = time.monotonic()
    done = subprocess.run([sys.executable, "-m", "halving.cli", "run", TARGET, *TINY, "--address", address,
                           "--run-dir", str(run_dir)], capture_output=True, text=True, timeout=120,
                          env=_env(**env))
    return {"code": done.returncode, "stderr": done.stderr, "seconds": time.monotonic() - t0}


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]  # closed again on leaving: nothing listens there


@pytest.fixture(scope="module")
def joins(tmp_path_factory):
    """Every join attempt, in order, against one token-protected cluster of our own."""
    out = tmp_path_factory.mktemp("joins")
    token = secrets.token_hex(32)
    ours = {"RAY_AUTH_MODE": "token", "RAY_AUTH_TOKEN": token}
    server = subprocess.Popen([sys.executable, str(HERE / "_serve_cluster.py")], stdin=subprocess.PIPE,
                              stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, env=_env(**ours))
    try:
        line = server.stdout.readline()
        assert line.startswith("ADDRESS "), line
        address = line.split()[1]
        report = {"closed_port": _halving_run(f"127.0.0.1:{_closed_port()}", out / "closed")}
        report["wrong_token"] = _halving_run(address, out / "wrong", RAY_AUTH_MODE="token",
                                             RAY_AUTH_TOKEN=secrets.token_hex(32))
        report["right_token"] = _halving_run(address, out / "right", **ours)  # the control: it joins
        server.stdin.write("claim-version 2.0.0\n")
        server.stdin.flush()
        assert server.stdout.readline().strip() == "CLAIMED"
        report["other_version"] = _halving_run(address, out / "version", **ours)
        report["address"] = address
        for name, run in report.items():  # shown with pytest -s: the fault matrix of the join
            if isinstance(run, dict):
                print(f"{name}: exit {run['code']} after {run['seconds']:.1f} s: {run['stderr'].strip()[-300:]!r}")
        return report
    finally:
        server.stdin.close()
        server.wait(timeout=60)


def _one_clear_line(run: dict, *words: str) -> None:
    ours = [l for l in run["stderr"].splitlines() if l.startswith("halving:")]
    assert run["code"] == 2, run
    assert run["seconds"] < FAIL_WITHIN, run
    assert len(ours) == 1 and "Traceback" not in run["stderr"], run["stderr"]
    for word in words:
        assert word in ours[0], ours[0]


def test_nothing_listening_fails_at_once(joins):
    _one_clear_line(joins["closed_port"], "nothing answers at 127.0.0.1:")
    assert joins["closed_port"]["seconds"] < 10


def test_a_wrong_token_is_named(joins):
    _one_clear_line(joins["wrong_token"], joins["address"], "token")


def test_the_right_token_joins(joins):
    assert joins["right_token"]["code"] == 0, joins["right_token"]["stderr"][-3000:]


def test_another_ray_version_is_named(joins):
    _one_clear_line(joins["other_version"], "Ray 2.0.0", "install ray==2.0.0")


def test_a_local_ray_listens_on_loopback_only():
    """Every TCP socket in LISTEN state of the processes of a Ray started by start_local."""
    done = subprocess.run([sys.executable, str(HERE / "_loopback_run.py")], capture_output=True, text=True,
                          timeout=180, env=_env())
    lines = [l for l in done.stdout.splitlines() if l.startswith("RESULT ")]
    assert done.returncode == 0 and lines, done.stdout[-2000:] + done.stderr[-3000:]
    seen = json.loads(lines[-1][len("RESULT "):])
    sockets = seen["sockets"]
    print("processes:", seen["processes"], "listening:", sockets)  # shown with pytest -s
    assert {"gcs_server", "raylet"} <= {s["process"] for s in sockets}, seen  # the measurement saw Ray's servers
    exposed = [s for s in sockets if not ipaddress.ip_address(s["listen"].rsplit(":", 1)[0]).is_loopback]
    assert not exposed, exposed


def _node_loss(tmp_path_factory, scenario: str) -> dict:
    """tests/_node_loss_run.py in a process of its own; a hang fails the test by its timeout."""
    out = tmp_path_factory.mktemp(scenario)
    done = subprocess.run([sys.executable, str(HERE / "_node_loss_run.py"), str(out), scenario],
                          capture_output=True, text=True, timeout=400, env=_env())
    lines = [l for l in done.stdout.splitlines() if l.startswith("RESULT ")]
    assert done.returncode == 0 and lines, done.stdout[-3000:] + done.stderr[-3000:]
    report = json.loads(lines[-1][len("RESULT "):])
    print(scenario, json.dumps(report))  # shown with pytest -s
    return report


@pytest.fixture(scope="module")
def survived(tmp_path_factory):
    return _node_loss(tmp_path_factory, "survive")


@pytest.fixture(scope="module")
def no_capacity(tmp_path_factory):
    return _node_loss(tmp_path_factory, "no-capacity")


def test_a_run_outlives_the_raylet_of_another_node(survived):
    assert survived["finished"] and survived["n_completed"] == 3 and survived["n_failed"] == 0
    assert survived["epochs_used"] == 27 + 9 * 2 + 3 * 6 == survived["reports_after"]
    assert survived["lost"] == [] and survived["duplicates"] == 0
    assert survived["restarts"] > 0  # the dead node's trials were restarted, and the log says so
    assert survived["seconds_after_kill"] < 120


def test_no_capacity_left_stops_cleanly_and_resumes(no_capacity):
    stop = no_capacity["stop"]
    assert stop["code"] == 2 and not stop["traceback"], stop
    assert len(stop["lines"]) == 1 and "no worker can be placed" in stop["lines"][0], stop
    assert "halving resume" in stop["lines"][0]
    assert stop["seconds_after_kill"] < 60
    at_stop = no_capacity["at_stop"]
    assert at_stop["lost"] == [] and at_stop["duplicates"] == 0 and not at_stop["finished"]
    assert no_capacity["resume"]["code"] == 0, no_capacity["resume"]["stderr"]
    after = no_capacity["after_resume"]
    assert after["finished"] and after["lost"] == [] and after["duplicates"] == 0
    assert after["reports_after"] == 9 + 3 * 2 + 1 * 6
