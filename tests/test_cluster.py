"""A real two-node Ray cluster (ray.cluster_utils.Cluster), in a process of its own."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def cluster_report(tmp_path_factory):
    out = tmp_path_factory.mktemp("cluster")
    script = Path(__file__).with_name("_cluster_run.py")
    done = subprocess.run([sys.executable, str(script), str(out)], capture_output=True, text=True, timeout=600)
    lines = [l for l in done.stdout.splitlines() if l.startswith("RESULT ")]
    assert done.returncode == 0 and lines, done.stdout[-3000:] + done.stderr[-3000:]
    return json.loads(lines[-1][len("RESULT "):])


def test_trials_run_and_are_promoted_on_both_nodes(cluster_report):
    joined = cluster_report["joined"]
    assert sorted(joined["nodes"]) == cluster_report["node_ids"]
    assert len(joined["promoted_nodes"]) == 2  # promotions trained on both nodes
    assert joined["own_epoch_ok"] and joined["unique_reports"]
    assert joined["n_completed"] == 3 and joined["n_failed"] == 0
    assert joined["epochs_used"] == 27 + 9 * 2 + 3 * 6
    assert cluster_report["left_running"]  # halving joined the cluster and left it running
    assert cluster_report["disconnected"]  # ... and let go of its connection


def test_the_experiment_completes_after_a_node_is_removed(cluster_report):
    removed = cluster_report["removed"]
    assert removed["after_reports"] is not None  # the node really went away mid-run
    assert removed["n_failed"] == 0 and removed["n_completed"] == 3
    assert removed["unique_reports"] and removed["own_epoch_ok"]
    assert removed["epochs_used"] == 27 + 9 * 2 + 3 * 6
    assert any("died" in r["why"] for r in removed["restarts"])
