"""Resources on a real two-node cluster (ray.cluster_utils.Cluster, in a process of its own):
only the second node has GPUs and the custom resource ``accel``."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def report(tmp_path_factory):
    out = tmp_path_factory.mktemp("resources-cluster")
    script = Path(__file__).with_name("_resources_cluster_run.py")
    done = subprocess.run([sys.executable, str(script), str(out)], capture_output=True, text=True, timeout=600)
    lines = [l for l in done.stdout.splitlines() if l.startswith("RESULT ")]
    assert done.returncode == 0 and lines, done.stdout[-3000:] + done.stderr[-3000:]
    return json.loads(lines[-1][len("RESULT "):])


def test_gpu_trials_run_only_on_the_gpu_node_with_distinct_ids(report):
    gpu = report["gpu"]
    assert gpu["failed"] == 0 and len(gpu["rows"]) == 6 + 2 * 2
    assert {r["node"] for r in gpu["rows"]} == {report["gpu_node"]}
    assert {r["ray_gpu"] for r in gpu["rows"]} == {1.0} and {r["gpus"] for r in gpu["rows"]} == {"0", "1"}
    assert gpu["workers"] == 2  # 4 asked for; the cluster holds 2 such trials at once


def test_a_custom_resource_on_one_node_bounds_concurrency_there(report):
    accel = report["accel"]
    assert accel["failed"] == 0 and accel["workers"] == 1
    assert {r["node"] for r in accel["rows"]} == {report["gpu_node"]}
    assert {r["ray_accel"] for r in accel["rows"]} == {1.0}


def test_promoted_trials_move_to_the_gpu_node_warm(report):
    promote = report["promote"]
    rows = promote["rows"]
    assert promote["failed"] == 0 and len(rows) == 9 + 3 * 2 + 6
    first = [r for r in rows if r["epoch"] == 1]
    later = [r for r in rows if r["epoch"] > 1]
    assert {r["ray_gpu"] for r in first} == {0.0} and report["head"] in {r["node"] for r in first}
    assert {r["ray_gpu"] for r in later} == {1.0} and {r["node"] for r in later} == {report["gpu_node"]}
    assert all(r["epoch"] == r["own_epoch"] for r in rows)  # their state came along: nothing retrained
    assert promote["stats"]["resized"] >= 1 and any(m["what"] in ("worker", "spill") for m in promote["moved"])


def test_more_than_any_node_has_is_refused_up_front(report):
    refused = report["refused"]
    assert "3 GPU" in refused["gpus3"]["error"] and "no node has enough GPU" in refused["gpus3"]["error"]
    # Each amount exists on some node, but no node has both: Ray could never place the worker.
    assert "1 accel, 1 disk" in refused["accel_disk"]["error"]
    assert "no single node has all of it" in refused["accel_disk"]["error"]
    for case in refused.values():
        assert case["seconds"] < 30 and case["logged"] == []  # before any trial: nothing logged, no hang
