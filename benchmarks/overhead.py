"""Per-result overhead: halving ASHA against Ray Tune's ASHAScheduler on a no-work trainable.

The issue: "a no-work trainable (a deterministic pseudo-random curve), 729 trials,
ASHA (R=27, eta=3), local Ray with 2 CPUs: halving against Ray Tune's
ASHAScheduler with reuse_actors=True. Target: at least 20x Ray Tune's results/s."
The target is judged on the whole ``tune()`` call with its workers started in the
call (cold), as a single ``tune()`` of a process gets it; ``halving_warm`` is a second
call right after, reusing those workers (``reuse_workers()``, what a later ``tune()``
gets by default when halving started Ray itself), and is reported beside it.

Both tools get the same configurations in the same order and run on one local Ray
started before anything is timed. halving's results/s is reports / the engine loop
(``result.wall_seconds``: its workers are started before it); the whole ``tune()``
call is shown too. Ray Tune's is results (counted by a callback) / ``tuner.fit()``.
Ray's ASHA only stops trials and halving's promotes paused ones, so the result
counts differ: results/s is the comparable figure. Medians of ``--repeats``; the
tools alternate who goes first. ``--ray-lean`` adds Ray Tune without result files.
"""

from __future__ import annotations

import argparse
import time
from typing import Any

from halving.backends.ray_pool import reuse_workers

from .adapters import halving_tune, ray_tune
from .ray_session import add_run_arguments, start_ray, stop_ray
from .results import Target
from .table import print_table
from .timing import median
from .workloads import make, sample_configs

TARGET = 20.0


def add_arguments(ap: argparse.ArgumentParser) -> None:
    add_run_arguments(ap, trials=729)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--ray-lean", action="store_true", help="also run Ray Tune with TUNE_DISABLE_AUTO_CALLBACK_LOGGERS=1")
    ap.add_argument("--skip-ray-tune", action="store_true", help="halving only (e.g. to profile it)")
    ap.add_argument("--quick", action="store_true", help="smoke run: 81 trials, 1 repeat")


def _halving(w: Any, args: argparse.Namespace, configs: list[dict]) -> dict:
    c0 = time.process_time()
    o = halving_tune.run(w, "asha", trials=args.trials, max_epochs=args.max_epochs, workers=args.workers,
                         seed=args.seed, eta=args.eta, configs=configs)
    cpu = time.process_time() - c0
    rows, loop = o.table.num_rows, o.extra["engine_wall"]
    trips = o.extra.get("round_trips") or rows
    return {"results": rows, "engine_wall": loop, "call_wall": o.wall, "results_per_s": rows / loop,
            "results_per_s_call": rows / o.wall, "epochs": o.epochs, "completed": len(o.finals),
            "driver_cpu_s": cpu, "driver_cpu_ms_per_result": 1000 * cpu / rows,
            "round_trips": trips, "driver_cpu_ms_per_round_trip": 1000 * cpu / trips}


def _ray(w: Any, args: argparse.Namespace, configs: list[dict], lean: bool) -> dict:
    c0 = time.process_time()
    o = ray_tune.run(w, "ASHAScheduler", configs, max_epochs=args.max_epochs, eta=args.eta, workers=args.workers,
                     lean=lean)
    cpu = time.process_time() - c0
    # Ray Tune makes one round trip per result: a trainable's report is one call back to the driver.
    return {"results": o.epochs, "wall": o.wall, "results_per_s": o.epochs / o.wall, "completed": len(o.finals),
            "errors": o.extra["errors"], "driver_cpu_s": cpu, "driver_cpu_ms_per_result": 1000 * cpu / o.epochs,
            "driver_cpu_ms_per_round_trip": 1000 * cpu / o.epochs}


def _summary(runs: dict[str, list[dict]]) -> dict:
    out: dict[str, Any] = {name: {k: median(r[k] for r in runs[name]) for k in runs[name][0]}
                           for name in ("halving", "halving_warm")}
    rps, rps_call = out["halving"]["results_per_s"], out["halving"]["results_per_s_call"]
    for tool in ("ray_tune", "ray_tune_lean"):
        if runs[tool]:
            s = {k: median(r[k] for r in runs[tool]) for k in runs[tool][0]}
            s["ratio_halving_over"] = rps / s["results_per_s"]
            s["ratio_halving_call_over"] = rps_call / s["results_per_s"]
            s["ratio_halving_warm_call_over"] = out["halving_warm"]["results_per_s_call"] / s["results_per_s"]
            out[tool] = s
    return out


def run(args: argparse.Namespace) -> tuple[dict, list[Target]]:
    if args.quick:
        args.trials, args.repeats = 81, 1
    w = make("noop")
    configs = sample_configs(w.space, args.trials, args.seed)
    ray_init = start_ray(args.cpus)
    print(f"Ray started once with num_cpus={args.cpus} in {ray_init:.2f} s (shared, excluded from both)", flush=True)
    runs: dict[str, list[dict]] = {"halving": [], "halving_warm": [], "ray_tune": [], "ray_tune_lean": []}
    try:
        for rep in range(args.repeats):
            order = ["halving"] if args.skip_ray_tune else (["halving", "ray_tune"][:: 1 if rep % 2 == 0 else -1]
                                                            + (["ray_tune_lean"] if args.ray_lean else []))
            for tool in order:
                if tool == "halving":
                    with reuse_workers():  # cold, then warm on the workers the first call started
                        got = [("halving", _halving(w, args, configs)), ("halving_warm", _halving(w, args, configs))]
                else:
                    got = [(tool, _ray(w, args, configs, tool.endswith("lean")))]
                for name, r in got:
                    runs[name].append(r)
                    print(f"[repeat {rep + 1}/{args.repeats}] {name}: {r['results']} results, "
                          f"{r['results_per_s_call' if name.startswith('halving') else 'results_per_s']:.0f} "
                          "results/s", flush=True)
    finally:
        stop_ray()
    summary = _summary(runs)
    h, hw = summary["halving"], summary["halving_warm"]
    rows = [["halving asha (engine loop)", h["results"], h["engine_wall"], h["results_per_s"], "-"],
            ["halving asha (whole tune() call, workers started in it)", h["results"], h["call_wall"],
             h["results_per_s_call"], "-"],
            ["halving asha (whole tune() call, workers reused)", hw["results"], hw["call_wall"],
             hw["results_per_s_call"], "-"]]
    rows += [[label, summary[t]["results"], summary[t]["wall"], summary[t]["results_per_s"],
              summary[t]["ratio_halving_over"]]
             for t, label in (("ray_tune", "Ray Tune ASHAScheduler"), ("ray_tune_lean", "Ray Tune, no result files"))
             if t in summary]
    print_table(f"Overhead: no-work trainable, {args.trials} trials, ASHA R={args.max_epochs} eta={args.eta}, "
                f"{args.workers} workers; medians of {args.repeats}",
                ["tool", "results", "wall s", "results/s", "halving results/s over this"], rows)
    cpu_rows = [["halving asha (whole tune() call)", h["driver_cpu_ms_per_result"], h["driver_cpu_ms_per_round_trip"]],
                ["halving asha (workers reused)", hw["driver_cpu_ms_per_result"],
                 hw["driver_cpu_ms_per_round_trip"]]]
    cpu_rows += [[t, summary[t]["driver_cpu_ms_per_result"], summary[t]["driver_cpu_ms_per_round_trip"]]
                 for t in ("ray_tune", "ray_tune_lean") if t in summary]
    print_table("Driver CPU (time.process_time of this process: load-independent)",
                ["tool", "ms per result", "ms per round trip"], cpu_rows)
    targets = []
    if "ray_tune" in summary:
        summary["ray_tune"]["driver_cpu_per_result_over_halving"] = (summary["ray_tune"]["driver_cpu_ms_per_result"]
                                                                     / h["driver_cpu_ms_per_result"])
        targets.append(Target("halving results/s over Ray Tune ASHAScheduler's (engine loop)",
                              summary["ray_tune"]["ratio_halving_over"], TARGET, at_least=True))
        targets.append(Target("halving results/s over Ray Tune ASHAScheduler's (whole tune() call)",
                              summary["ray_tune"]["ratio_halving_call_over"], TARGET, at_least=True))
        targets.append(Target("halving results/s over Ray Tune ASHAScheduler's (whole tune() call, workers reused)",
                              summary["ray_tune"]["ratio_halving_warm_call_over"], TARGET, at_least=True))
    summary["ray_init_seconds"] = ray_init
    return {"params": vars(args), "summary": summary, "runs": runs}, targets
