"""Worker utilisation: the share of worker time spent training, with 50 ms epochs.

The issue: "with a 50 ms epoch, the share of worker time spent training. Target:
at least 95%."

Each epoch is a busy CPU loop of ``--epoch-ms``, timed by the trainable and
reported as ``train_seconds``; ASHA (eta 3), 81 trials, R=27, 2 workers, on one
local Ray started before anything is timed.

    utilisation = sum of train_seconds over every epoch / (workers * wall seconds)

For halving, wall is the engine loop (``result.wall_seconds``; the whole ``tune()``
call is shown too); the rest of each worker's time is split into the time before
its first epoch, the gaps between epochs (halving's overhead) and the time after
its last epoch (ASHA's tail: fewer trials with work than workers). Ray Tune's
ASHAScheduler runs the same trainable for reference (wall = ``tuner.fit()``).
``--sleep`` makes each epoch a sleep: the scheduling overhead alone, not the target's
measure. Medians of ``--repeats``.
"""

from __future__ import annotations

import argparse
import math
import time
from typing import Any

from .adapters import halving_tune, ray_tune
from .ray_session import add_run_arguments, start_ray, stop_ray
from .results import Target
from .table import print_table
from .timing import median
from .workloads import make, sample_configs

TARGET = 0.95


def add_arguments(ap: argparse.ArgumentParser) -> None:
    add_run_arguments(ap, trials=81)
    ap.add_argument("--epoch-ms", type=float, default=50.0)
    ap.add_argument("--sleep", action="store_true", help="epochs sleep instead of spinning (not the target's measure)")
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--skip-ray-tune", action="store_true")
    ap.add_argument("--quick", action="store_true", help="smoke run: 27 trials, R=9, 1 repeat")


def _breakdown(table: Any, t_call: float, call: float, workers: int) -> dict[str, float]:
    """Per worker, from the reports' times: seconds before its first epoch, in gaps, after its last."""
    per: dict[int, list[float]] = {}  # worker -> [busy, first start, last end]
    cols = table.to_pydict()
    for tr, end, wk in zip(cols["train_seconds"], cols["time"], cols["worker"]):
        p = per.setdefault(wk, [0.0, math.inf, -math.inf])
        p[0] += tr
        p[1] = min(p[1], end - tr)
        p[2] = max(p[2], end)
    return {"startup_before_first_epoch": sum(p[1] - t_call for p in per.values()) / workers,
            "gaps_between_epochs": sum(p[2] - p[1] - p[0] for p in per.values()) / workers,
            "after_last_epoch": sum(t_call + call - p[2] for p in per.values()) / workers,
            "working_span": sum(p[2] - p[1] for p in per.values())}


def _halving(w: Any, args: argparse.Namespace, configs: list[dict]) -> dict:
    t_call = time.time()
    o = halving_tune.run(w, "asha", trials=args.trials, max_epochs=args.max_epochs, workers=args.workers,
                         seed=args.seed, eta=args.eta, configs=configs)
    total, n, loop = sum(o.table.column("train_seconds").to_pylist()), o.table.num_rows, o.extra["engine_wall"]
    b = _breakdown(o.table, t_call, o.wall, args.workers)
    return {"train_seconds": total, "engine_wall": loop, "call_wall": o.wall, "epochs": n,
            "utilisation": total / (args.workers * loop), "utilisation_call": total / (args.workers * o.wall),
            "utilisation_while_working": total / b.pop("working_span"),
            "gap_per_epoch_ms": 1000 * b["gaps_between_epochs"] * args.workers / max(1, n), **b}


def _ray(w: Any, args: argparse.Namespace, configs: list[dict]) -> dict:
    o = ray_tune.run(w, "ASHAScheduler", configs, max_epochs=args.max_epochs, eta=args.eta, workers=args.workers,
                     keep=("train_seconds",))
    total = sum(m["train_seconds"] or 0.0 for _, _, _, m in o.events)
    return {"train_seconds": total, "wall": o.wall, "epochs": o.epochs,
            "utilisation": total / (args.workers * o.wall), "errors": o.extra["errors"]}


def run(args: argparse.Namespace) -> tuple[dict, list[Target]]:
    if args.quick:
        args.trials, args.max_epochs, args.repeats = 27, 9, 1
    w = make("busy", epoch_s=args.epoch_ms / 1000, sleep=args.sleep)
    configs = sample_configs(w.space, args.trials, args.seed)
    ray_init = start_ray(args.cpus)
    print(f"Ray started once with num_cpus={args.cpus} in {ray_init:.2f} s (shared, excluded)", flush=True)
    runs: dict[str, list[dict]] = {"halving": [], "ray_tune": []}
    try:
        for rep in range(args.repeats):
            order = ["halving"] if args.skip_ray_tune else ["halving", "ray_tune"][:: 1 if rep % 2 == 0 else -1]
            for tool in order:
                r = _halving(w, args, configs) if tool == "halving" else _ray(w, args, configs)
                runs[tool].append(r)
                print(f"[repeat {rep + 1}/{args.repeats}] {tool}: {r['epochs']} epochs, utilisation "
                      f"{r['utilisation']:.1%}", flush=True)
    finally:
        stop_ray()
    summary: dict[str, Any] = {t: {k: median(r[k] for r in rs) for k in rs[0]} for t, rs in runs.items() if rs}
    hs = summary["halving"]
    rows = [["halving asha (engine loop)", hs["epochs"], hs["train_seconds"], hs["engine_wall"], hs["utilisation"]],
            ["halving asha (whole tune() call)", hs["epochs"], hs["train_seconds"], hs["call_wall"],
             hs["utilisation_call"]]]
    if "ray_tune" in summary:
        rt = summary["ray_tune"]
        rows.append(["Ray Tune ASHAScheduler", rt["epochs"], rt["train_seconds"], rt["wall"], rt["utilisation"]])
    print_table(f"Utilisation: {args.epoch_ms:g} ms {'sleeping' if args.sleep else 'busy'} epochs, {args.trials} "
                f"trials, ASHA R={args.max_epochs}, {args.workers} workers; medians of {args.repeats}",
                ["tool", "epochs", "training s", "wall s", "utilisation"], rows)
    print(f"halving per worker: {hs['startup_before_first_epoch']:.2f} s before its first epoch, "
          f"{hs['gaps_between_epochs']:.2f} s in gaps ({hs['gap_per_epoch_ms']:.2f} ms per epoch), "
          f"{hs['after_last_epoch']:.2f} s after its last; {hs['utilisation_while_working']:.1%} from first to last")
    summary["ray_init_seconds"] = ray_init
    targets = [Target("halving utilisation (engine loop)", hs["utilisation"], TARGET, at_least=True)]
    return {"params": vars(args), "summary": summary, "runs": runs}, targets
