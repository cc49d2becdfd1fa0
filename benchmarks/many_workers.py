"""Many workers: does one driver keep a cluster-sized pool busy?

The issue: "a local multi-node cluster made with ``ray.cluster_utils.Cluster`` (for example
4 nodes of 8 logical CPUs, 32 workers; trials that sleep 100 ms per epoch so the cores are
not the limit), 1,000 or more trials, ASHA: the share of worker time spent training from
the first epoch to the last at least 97%, driver CPU per result reported, and the same for
Ray Tune's ASHA. Also report how the driver's results/s grows with workers (2, 8, 32), and
from it the cluster size at which one driver would saturate with 1-second epochs."

One ``Cluster`` of ``--nodes`` nodes of ``--node-cpus`` logical CPUs is started (its start
is excluded and reported). For each worker count of ``--workers-list`` halving's ASHA runs
``--trials * w / max(w)`` trials (so every run takes about as long), epochs sleeping
``--epoch-ms`` and timing themselves (``train_seconds``). Ray Tune's ASHAScheduler runs the
largest size. Per run:

* busy share: training seconds / the sum over workers of (its last epoch's end - its first
  epoch's start), from the log's per-worker times (halving); for Ray Tune, which does not
  say which worker ran an epoch, training seconds / (workers x the span from the first result
  to the last), a bound its per-worker figure can only exceed;
* driver CPU per result: this process's CPU seconds (``time.process_time``: the driver's own
  threads, Ray's included) over the call, per result and per round trip;
* saturation: a driver spending c seconds of CPU per result handles at most 1/c results/s,
  so with 1-second epochs it keeps about 1/c workers busy (taken at the largest size).
"""

from __future__ import annotations

import argparse
import time
from typing import Any

from .adapters import halving_tune, ray_tune
from .results import Target
from .table import print_table
from .utilisation import _breakdown
from .workloads import make, sample_configs

TARGET = 0.97


def add_arguments(ap: argparse.ArgumentParser) -> None:
    ap.add_argument("--nodes", type=int, default=4)
    ap.add_argument("--node-cpus", type=int, default=8)
    ap.add_argument("--workers-list", default="2,8,32")
    ap.add_argument("--trials", type=int, default=1056, help="trials at the largest worker count")
    ap.add_argument("--max-epochs", type=int, default=27)
    ap.add_argument("--eta", type=int, default=3)
    ap.add_argument("--epoch-ms", type=float, default=100.0)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--skip-ray-tune", action="store_true")
    ap.add_argument("--quick", action="store_true", help="smoke run: 2 nodes of 2 CPUs, workers 1,4, 24 trials, R=3")


def _cpu_lap(fn: Any) -> tuple[float, float, Any]:
    t0, c0 = time.perf_counter(), time.process_time()
    out = fn()
    return time.perf_counter() - t0, time.process_time() - c0, out


def _halving(w: Any, workers: int, trials: int, args: argparse.Namespace) -> dict:
    configs = sample_configs(w.space, trials, args.seed)
    t_call = time.time()
    wall, cpu, o = _cpu_lap(lambda: halving_tune.run(w, "asha", trials=trials, max_epochs=args.max_epochs,
                                                      workers=workers, seed=args.seed, eta=args.eta, configs=configs))
    n = o.table.num_rows
    train = sum(o.table.column("train_seconds").to_pylist())
    b = _breakdown(o.table, t_call, o.wall, workers)
    trips = o.extra.get("round_trips") or n
    return {"workers": workers, "trials": trials, "results": n, "call_wall": wall, "engine_wall": o.extra["engine_wall"],
            "results_per_s": n / o.extra["engine_wall"], "busy_share_first_to_last": train / b["working_span"],
            "driver_cpu_s": cpu, "driver_cpu_ms_per_result": 1000 * cpu / n,
            "driver_cpu_ms_per_round_trip": 1000 * cpu / trips, "round_trips": trips,
            "startup_before_first_epoch": b["startup_before_first_epoch"]}


def _ray(w: Any, workers: int, trials: int, args: argparse.Namespace) -> dict:
    configs = sample_configs(w.space, trials, args.seed)
    wall, cpu, o = _cpu_lap(lambda: ray_tune.run(w, "ASHAScheduler", configs, max_epochs=args.max_epochs,
                                                 eta=args.eta, workers=workers, keep=("train_seconds",)))
    train = sum(m["train_seconds"] or 0.0 for _, _, _, m in o.events)
    times = [t for t, _, _, _ in o.events]
    span = (max(times) - min(times)) + args.epoch_ms / 1000 if times else float("nan")  # first epoch's start
    return {"workers": workers, "trials": trials, "results": o.epochs, "call_wall": wall,
            "results_per_s": o.epochs / o.wall, "busy_share_first_to_last": train / (workers * span),
            "driver_cpu_s": cpu, "driver_cpu_ms_per_result": 1000 * cpu / max(1, o.epochs),
            "driver_cpu_ms_per_round_trip": 1000 * cpu / max(1, o.epochs), "errors": o.extra["errors"]}


def run(args: argparse.Namespace) -> tuple[dict, list[Target]]:
    if args.quick:
        args.nodes, args.node_cpus, args.workers_list, args.trials, args.max_epochs = 2, 2, "1,4", 24, 3
    import ray
    from ray.cluster_utils import Cluster

    sizes = sorted(int(x) for x in args.workers_list.split(",") if x.strip())
    if sizes[-1] > args.nodes * args.node_cpus:
        raise SystemExit(f"{sizes[-1]} workers need more than {args.nodes} x {args.node_cpus} CPUs")
    w = make("busy", epoch_s=args.epoch_ms / 1000, sleep=True)
    t0 = time.perf_counter()
    cluster = Cluster(initialize_head=True, head_node_args={"num_cpus": args.node_cpus})
    for _ in range(args.nodes - 1):
        cluster.add_node(num_cpus=args.node_cpus)
    ray.init(address=cluster.address, include_dashboard=False, configure_logging=False, log_to_driver=False)
    cluster.wait_for_nodes()
    cluster_start = time.perf_counter() - t0
    print(f"cluster of {args.nodes} x {args.node_cpus} CPUs started in {cluster_start:.1f} s (excluded)", flush=True)
    runs: dict[str, list[dict]] = {"halving": [], "ray_tune": []}
    try:
        for k in sizes:
            trials = max(1, round(args.trials * k / sizes[-1]))
            runs["halving"].append(_halving(w, k, trials, args))
            print(f"halving, {k} workers: {runs['halving'][-1]}", flush=True)
        if not args.skip_ray_tune:
            runs["ray_tune"].append(_ray(w, sizes[-1], args.trials, args))
            print(f"ray tune, {sizes[-1]} workers: {runs['ray_tune'][-1]}", flush=True)
    finally:
        ray.shutdown()
        cluster.shutdown()
    rows = [[t, r["workers"], r["trials"], r["results"], r["results_per_s"], r["busy_share_first_to_last"],
             r["driver_cpu_ms_per_result"], r["driver_cpu_ms_per_round_trip"]] for t, rs in runs.items() for r in rs]
    print_table(f"{args.nodes} nodes x {args.node_cpus} CPUs, ASHA R={args.max_epochs}, {args.epoch_ms:g} ms "
                "sleeping epochs", ["tool", "workers", "trials", "results", "results/s", "busy first->last",
                                    "driver CPU ms/result", "ms/round trip"], rows)
    top = runs["halving"][-1]
    saturation = 1000.0 / top["driver_cpu_ms_per_result"]
    summary: dict[str, Any] = {"cluster_start_seconds": cluster_start,
                               "halving_workers_saturating_one_driver_at_1s_epochs": saturation,
                               "halving_results_per_s_by_workers": {r["workers"]: r["results_per_s"]
                                                                    for r in runs["halving"]}}
    if runs["ray_tune"]:
        summary["ray_tune_workers_saturating_one_driver_at_1s_epochs"] = \
            1000.0 / runs["ray_tune"][-1]["driver_cpu_ms_per_result"]
    print(f"one driver saturates at about {saturation:,.0f} workers with 1-second epochs (halving)", flush=True)
    targets = [Target(f"halving busy share from first epoch to last, {top['workers']} workers",
                      top["busy_share_first_to_last"], TARGET, at_least=True)]
    return {"params": vars(args), "summary": summary, "runs": runs}, targets
