"""Run by tests/test_cluster_faults.py in its own process: a two-node
ray.cluster_utils.Cluster whose second node (not the driver's) loses its raylet to SIGKILL
mid-run, the fault that left a driver blocked in ray.wait for good.

``survive``: the head has CPUs too; the run must finish there with no report lost.
``no-capacity``: workers fit only on the second node; ``halving run`` must stop with one
line and exit code 2, and ``halving resume`` must finish the run on a node added after."""

from __future__ import annotations

import json
import math
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import ray
from ray import cloudpickle
from ray._private import ray_constants
from ray.cluster_utils import Cluster

import halving
from halving import space
from halving.eventlog import iter_events, read_events

SPACE = {"x": space.uniform(0.0, 1.0), "slow": space.uniform(0.0, 1.0)}
HERE = Path(__file__).parent


class NodeClass:
    """A class trainable reporting the node it trains on."""

    def setup(self, config):
        self.config = config
        self.epoch = 0

    def train_epoch(self):
        self.epoch += 1
        time.sleep(0.2)
        c = self.config
        return {"acc": c["x"] * (1.0 - math.exp(-self.epoch / (1.0 + 4.0 * c["slow"]))),
                "node": ray.get_runtime_context().get_node_id(), "own_epoch": self.epoch}


def logged(run_dir: str) -> dict:
    """What the live log holds now (reading never repairs: the writer owns its tail)."""
    events = list(iter_events(read_events(run_dir)))
    reports = [(e["trial"], e["epoch"]) for e in events if e["kind"] == "report"]
    return {"reports": reports, "restarts": sum(e["kind"] == "restarted" for e in events),
            "finished": any(e["kind"] == "experiment_finished" for e in events)}


def kill_raylet(node) -> None:
    """SIGKILL the node's raylet, as a machine that vanishes would leave it: no goodbye to the GCS."""
    raylet = node.all_processes[ray_constants.PROCESS_TYPE_RAYLET][0].process
    os.kill(raylet.pid, signal.SIGKILL)
    raylet.wait()


def kill_after(run_dir: str, node, reports: int, state: dict, running=lambda: True) -> None:
    deadline = time.time() + 120
    while time.time() < deadline and "killed_at" not in state and running():
        time.sleep(0.1)
        try:
            seen = logged(run_dir)
        except Exception:  # noqa: BLE001 - no log yet, or a batch half written
            continue
        if len(seen["reports"]) >= reports:
            kill_raylet(node)
            state.update(killed_at=time.time(), before=seen["reports"])


def compare(before: list, after: dict) -> dict:
    return {"reports_before_kill": len(before), "reports_after": len(after["reports"]),
            "lost": sorted(set(map(tuple, before)) - set(map(tuple, after["reports"]))),
            "duplicates": len(after["reports"]) - len(set(after["reports"])),
            "restarts": after["restarts"], "finished": after["finished"]}


def survive(out_dir: str) -> dict:
    cluster = Cluster(initialize_head=True, head_node_args={"num_cpus": 2})
    second = cluster.add_node(num_cpus=2)
    cluster.wait_for_nodes()
    ray.init(address=cluster.address)  # the driver is on the head node
    try:
        run_dir, state = f"{out_dir}/survive", {}
        threading.Thread(target=kill_after, args=(run_dir, second, 15, state), daemon=True).start()
        result = halving.tune(NodeClass, SPACE, metric="acc", mode="max", policy="sha", max_epochs=9, trials=27, workers=4,
                              run_dir=run_dir)
        report = compare(state["before"], logged(run_dir))
        t = result.table()
        rows = zip(t.column("trial").to_pylist(), t.column("epoch").to_pylist(), t.column("node").to_pylist())
        before = set(map(tuple, state["before"]))
        report.update(seconds_after_kill=time.time() - state["killed_at"], n_completed=result.n_completed,
                      n_failed=result.n_failed, epochs_used=result.epochs_used,
                      second_node_after_kill=sum(1 for tr, ep, node in rows
                                                 if node == second.node_id and (tr, ep) not in before))
        return report
    finally:
        ray.shutdown()
        cluster.shutdown()


def no_capacity(out_dir: str) -> dict:
    cluster = Cluster(initialize_head=True, head_node_args={"num_cpus": 0})  # the head runs no worker
    second = cluster.add_node(num_cpus=2)
    cluster.wait_for_nodes()
    try:
        run_dir, state = f"{out_dir}/nocap", {}
        cli = [sys.executable, "-m", "halving.cli"]
        run = subprocess.Popen(cli + ["run", str(HERE / "_slow_target.py") + ":train", "--metric", "val_acc", "--mode", "max",
                                      "--trials", "9", "--max-epochs", "9", "--policy", "sha", "--quiet",
                                      "--address", cluster.address, "--run-dir", run_dir],
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        kill_after(run_dir, second, 4, state, running=lambda: run.poll() is None)
        _, err = run.communicate(timeout=240)
        if "killed_at" not in state:
            raise RuntimeError(f"halving run ended (exit {run.returncode}) before the kill: {err[-2000:]}")
        report = {"stop": {"code": run.returncode, "seconds_after_kill": time.time() - state["killed_at"],
                           "lines": [l for l in err.splitlines() if l.startswith("halving:")],
                           "traceback": "Traceback" in err},
                  "at_stop": compare(state["before"], logged(run_dir))}
        cluster.remove_node(second, allow_graceful=False)  # what was left of it
        cluster.add_node(num_cpus=2)
        cluster.wait_for_nodes()
        resumed = subprocess.run(cli + ["resume", run_dir, "--address", cluster.address, "--quiet"],
                                 capture_output=True, text=True, timeout=240)
        report["resume"] = {"code": resumed.returncode, "stderr": resumed.stderr[-1500:]}
        report["after_resume"] = compare(state["before"], logged(run_dir))
        return report
    finally:
        cluster.shutdown()


def main(out_dir: str, scenario: str) -> None:
    cloudpickle.register_pickle_by_value(sys.modules[__name__])
    t0 = time.time()
    report = {"survive": survive, "no-capacity": no_capacity}[scenario](out_dir)
    report["seconds"] = time.time() - t0
    print("RESULT " + json.dumps(report))


if __name__ == "__main__":
    main(*sys.argv[1:3])
