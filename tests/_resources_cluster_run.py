"""Run by tests/test_resources_cluster.py in its own process: a two-node
ray.cluster_utils.Cluster where only the second node has GPUs (2, logical) and the
custom resource ``accel`` (1); only the head has ``disk`` (1)."""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import ray  # noqa: E402
from ray import cloudpickle  # noqa: E402
from ray.cluster_utils import Cluster  # noqa: E402

import halving  # noqa: E402
from halving import space  # noqa: E402
from halving.eventlog import iter_events, read_events  # noqa: E402
from tests import _resource_trainables as R  # noqa: E402

SPACE = {"x": space.uniform(0.0, 1.0), "slow": space.uniform(0.0, 1.0)}


def rows(result) -> list:
    t = result.table()
    cols = ("trial", "epoch", "node", "ray_gpu", "ray_accel", "gpus", "own_epoch", "began", "time")
    return [dict(zip(cols, r)) for r in zip(*(t.column(c).to_pylist() for c in cols))]


def most_at_once(rs: list) -> int:
    edges = sorted([(r["began"], 1) for r in rs] + [(r["time"], -1) for r in rs], key=lambda x: (x[0], x[1]))
    most = now = 0
    for _, step in edges:
        now += step
        most = max(most, now)
    return most


def main(out_dir: str) -> None:
    cloudpickle.register_pickle_by_value(R)
    cluster = Cluster(initialize_head=True, head_node_args={"num_cpus": 2, "resources": {"disk": 1}})
    gpu_node = cluster.add_node(num_cpus=2, num_gpus=2, resources={"accel": 1})
    cluster.wait_for_nodes()
    report: dict = {"gpu_node": gpu_node.node_id}
    try:
        ray.init(address=cluster.address)
        report["head"] = next(n["NodeID"] for n in ray.nodes() if n["Alive"] and n["NodeID"] != gpu_node.node_id)

        def run(name: str, trainable, **kw):
            return halving.tune(trainable, SPACE, metric="acc", mode="max", policy="sha", run_dir=f"{out_dir}/{name}",
                                **kw)

        # Whole GPUs: only on the GPU node, distinct ids, 2 at once although 4 workers are asked for.
        r = run("gpu", R.train_fn, max_epochs=3, trials=6, workers=4, gpus=1)
        report["gpu"] = {"rows": rows(r), "workers": r.backend_stats["workers"], "failed": r.n_failed}
        # The custom resource: one node holds one.
        r = run("accel", R.train_fn, max_epochs=3, trials=3, workers=2, resources={"accel": 1})
        report["accel"] = {"rows": rows(r), "workers": r.backend_stats["workers"], "failed": r.n_failed}
        # CPU-only first rung anywhere; promoted trials move to the GPU node, warm.
        r = run("promote", R.Hooked, max_epochs=9, trials=9, workers=4, gpus=[0, 1])
        report["promote"] = {"rows": rows(r), "failed": r.n_failed, "stats": r.backend_stats,
                             "moved": [json.loads(e["payload"]) for e in iter_events(read_events(r.run_dir))
                                       if e["kind"] == "moved"]}
        # More than any node has: 3 GPUs (2 on the one GPU node), or accel and disk together (each on one node).
        refused = {}
        for name, kw in {"gpus3": {"gpus": 3}, "accel_disk": {"resources": {"accel": 1, "disk": 1}}}.items():
            t0 = time.time()
            try:
                run(name, R.train_fn, max_epochs=3, trials=3, **kw)
                refused[name] = {"error": None}
            except halving.errors.UserError as exc:
                refused[name] = {"error": str(exc), "seconds": time.time() - t0,
                                 "logged": sorted(p.name for p in Path(f"{out_dir}/{name}").glob("events-*"))}
        report["refused"] = refused
    finally:
        ray.shutdown()
        cluster.shutdown()
    print("RESULT " + json.dumps(report))


if __name__ == "__main__":
    main(sys.argv[1])
