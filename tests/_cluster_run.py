"""Run by tests/test_cluster.py in its own process: a two-node ray.cluster_utils.Cluster."""

from __future__ import annotations

import json
import math
import sys
import threading
import time

import ray
from ray import cloudpickle
from ray.cluster_utils import Cluster

import halving
from halving import space
from halving.eventlog import iter_events, read_events

SPACE = {"x": space.uniform(0.0, 1.0), "slow": space.uniform(0.0, 1.0)}


class NodeClass:
    """Reports the node it trains on; a class trainable, so its state can move between nodes."""

    def setup(self, config):
        self.config = config
        self.epoch = 0

    def train_epoch(self):
        self.epoch += 1
        time.sleep(0.03)
        c = self.config
        acc = c["x"] * (1.0 - math.exp(-self.epoch / (1.0 + 4.0 * c["slow"])))
        return {"acc": acc, "node": ray.get_runtime_context().get_node_id(), "own_epoch": self.epoch}


def summary(result):
    t = result.table()
    rows = list(zip(t.column("trial").to_pylist(), t.column("epoch").to_pylist(), t.column("node").to_pylist(),
                    t.column("own_epoch").to_pylist()))
    return {
        "nodes": sorted({r[2] for r in rows}),
        "promoted_nodes": sorted({r[2] for r in rows if r[1] > 1}),
        "own_epoch_ok": all(r[1] == r[3] for r in rows),
        "unique_reports": len(rows) == len({(r[0], r[1]) for r in rows}),
        "n_completed": result.n_completed,
        "n_failed": result.n_failed,
        "epochs_used": result.epochs_used,
        "best_trial": result.best_trial,
        "backend": result.backend_stats,
    }


def main(out_dir: str) -> None:
    cloudpickle.register_pickle_by_value(sys.modules[__name__])
    cluster = Cluster(initialize_head=True, head_node_args={"num_cpus": 2})
    second = cluster.add_node(num_cpus=2)
    cluster.wait_for_nodes()
    report = {"node_ids": None}
    try:
        # 1. Join the cluster by address: trials on both nodes, promotions across them.
        joined = halving.tune(NodeClass, SPACE, metric="acc", policy="sha", max_epochs=9, trials=27, workers=4,
                              address=cluster.address, run_dir=f"{out_dir}/joined")
        report["joined"] = summary(joined)
        # tune() disconnected from the cluster it joined, and left it running.
        report["disconnected"] = not ray.is_initialized()
        ray.init(address=cluster.address)
        report["left_running"] = len([n for n in ray.nodes() if n["Alive"]]) == 2
        report["node_ids"] = sorted(n["NodeID"] for n in ray.nodes() if n["Alive"])

        # 2. Remove the second node mid-run: the experiment completes on the head node.
        run_dir = f"{out_dir}/removed"
        removed = {}

        def remove_when_busy():
            deadline = time.time() + 60
            while time.time() < deadline:
                time.sleep(0.1)
                try:
                    n = sum(1 for e in iter_events(read_events(run_dir)) if e["kind"] == "report")
                except (FileNotFoundError, ValueError):
                    continue
                if n >= 15:
                    cluster.remove_node(second)
                    removed["after_reports"] = n
                    return

        killer = threading.Thread(target=remove_when_busy, daemon=True)
        killer.start()
        result = halving.tune(NodeClass, SPACE, metric="acc", policy="sha", max_epochs=9, trials=27, workers=4,
                              run_dir=run_dir)
        killer.join(timeout=5)
        report["removed"] = summary(result)
        report["removed"]["after_reports"] = removed.get("after_reports")
        report["removed"]["restarts"] = [json.loads(e["payload"]) for e in iter_events(read_events(run_dir))
                                         if e["kind"] == "restarted"]
    finally:
        ray.shutdown()
        cluster.shutdown()
    print("RESULT " + json.dumps(report))


if __name__ == "__main__":
    main(sys.argv[1])
