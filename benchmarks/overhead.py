"""Per-result overhead: halving ASHA against Ray Tune's ASHAScheduler, on a trainable that does no work.

The issue: "a no-work trainable (a deterministic pseudo-random curve), 729
trials, ASHA (R=27, eta=3), local Ray with 2 CPUs: halving against Ray Tune's
``ASHAScheduler`` with ``reuse_actors=True``. Target: at least 20x Ray Tune's
results/s."

The trainable's value at epoch e is a deterministic pseudo-random function of
(config, e): ``final * (1 - exp(-e / tau))`` plus a hash-like noise term of
amplitude 0.01; no sleep, no work. Both tools get the same ``--trials``
configurations (sampled once by ``halving.space.Space.sample``), in the same
order; Ray Tune through ``grid_search`` over their indices.

Ray is started once (``ray.init(num_cpus=2)``) before anything is timed and
both tools run on it, so Ray's own start-up is excluded from both.

* halving: ``halving.tune(fn, space, metric="acc", policy="asha", max_epochs=27,
  trials=729, workers=2)``. results/s = ``result.table().num_rows /
  result.wall_seconds`` (``wall_seconds`` is the engine loop only: the worker
  actors are started, and answer a ping, before it; results.parquet is written
  after it). The time of the whole ``tune()`` call is shown too.
* Ray Tune: ``Tuner(...).fit()`` with ASHAScheduler(max_t=27, grace_period=1,
  reduction_factor=3), ``reuse_actors=True``, ``max_concurrent_trials=2``,
  ``verbose=0``, a local temp dir as storage (no syncing); everything else at
  its defaults. results/s = results reported (counted by a ``tune.Callback``'s
  ``on_trial_result`` in the driver) / wall seconds of ``tuner.fit()``.
  ``--ray-lean`` adds a second Ray Tune run per repeat with
  ``TUNE_DISABLE_AUTO_CALLBACK_LOGGERS=1`` (no per-trial result files).

The two do not report the same number of results: Ray's ASHA only stops
trials (never promotes), halving's ASHA pauses and promotes them; results/s
is the fair measure of overhead per result.

Every figure is the median of ``--repeats`` runs (the tools alternate who goes first).

Run from the repository root::

    python benchmarks/overhead.py [--quick] [--repeats 3] [--out overhead.json]
"""

from __future__ import annotations

import argparse
import math
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from _peers import (RAY_TUNE_SETTINGS, median, print_table, ray_tune_asha, save_json, start_ray,  # noqa: E402
                    stop_ray, tempdir)

import halving  # noqa: E402
from halving.space import Space, loguniform, randint, uniform  # noqa: E402

SPACE = {"final": uniform(0.5, 1.0), "tau": loguniform(1.0, 20.0), "key": randint(0, 2**31 - 1)}
TARGET = 20.0


def curve(cfg: dict, epoch: int) -> float:
    """A deterministic pseudo-random learning curve: smooth trend plus hash-like noise."""
    noise = math.sin(cfg["key"] * 1e-3 + epoch * 12.9898) * 43758.5453
    noise -= math.floor(noise)
    return cfg["final"] * (1.0 - math.exp(-epoch / cfg["tau"])) + 0.01 * (noise - 0.5)


def halving_fn(config: dict) -> None:
    epoch = 0
    while True:  # halving grants epochs and ends the trial inside report()
        epoch += 1
        halving.report(acc=curve(config, epoch))


def make_ray_fn(configs: list[dict], max_t: int):
    def ray_fn(config: dict) -> None:
        from ray import tune

        cfg = configs[config["i"]]
        for epoch in range(1, max_t + 1):
            tune.report({"acc": curve(cfg, epoch)})

    return ray_fn


def run_halving(args) -> dict:
    with tempdir("bench-halving-") as d:
        t0 = time.perf_counter()
        result = halving.tune(halving_fn, SPACE, metric="acc", mode="max", policy="asha", eta=args.eta,
                              max_epochs=args.max_epochs, trials=args.trials, workers=args.workers,
                              seed=args.seed, run_dir=os.path.join(d, "run"))
        outer = time.perf_counter() - t0
    rows = result.table().num_rows
    return {"results": rows, "engine_wall": result.wall_seconds, "call_wall": outer,
            "results_per_s": rows / result.wall_seconds, "results_per_s_call": rows / outer,
            "epochs_used": result.epochs_used, "best_value": result.best_value,
            "completed": result.n_completed, "backend_stats": result.backend_stats}


def run_ray(args, configs: list[dict], lean: bool) -> dict:
    out = ray_tune_asha(make_ray_fn(configs, args.max_epochs), len(configs), metric="acc", mode="max",
                        max_t=args.max_epochs, eta=args.eta, workers=args.workers, lean=lean)
    completed = sum(1 for t in out["trials"] if t["results"] >= args.max_epochs)
    best = max((t["last"]["acc"] for t in out["trials"] if t["results"] >= args.max_epochs), default=None)
    return {"results": out["results"], "wall": out["wall"], "results_per_s": out["results"] / out["wall"],
            "completed": completed, "best_value": best, "errors": out["errors"], "trials_seen": out["trials_seen"]}


def main(argv: list[str] | None = None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--trials", type=int, default=729)
    ap.add_argument("--max-epochs", type=int, default=27)
    ap.add_argument("--eta", type=int, default=3)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--cpus", type=int, default=2, help="CPUs of the local Ray")
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--ray-lean", action="store_true",
                    help="also run Ray Tune with TUNE_DISABLE_AUTO_CALLBACK_LOGGERS=1")
    ap.add_argument("--skip-ray-tune", action="store_true", help="halving only (e.g. to profile it)")
    ap.add_argument("--quick", action="store_true", help="smoke run: 81 trials, 1 repeat")
    ap.add_argument("--out", help="write the numbers to this JSON file")
    args = ap.parse_args(argv)
    if args.quick:
        args.trials, args.repeats = 81, 1

    configs = Space.from_spec(SPACE).sample(args.trials, args.seed)
    ray_init = start_ray(args.cpus)
    print(f"Ray started once with num_cpus={args.cpus} in {ray_init:.2f} s (excluded from both tools: "
          f"both run on this already-started Ray)")
    runs: dict[str, list[dict]] = {"halving": [], "ray_tune": [], "ray_tune_lean": []}
    try:
        for rep in range(args.repeats):
            order = ["halving", "ray_tune"] if rep % 2 == 0 else ["ray_tune", "halving"]
            if args.skip_ray_tune:
                order = ["halving"]
            if args.ray_lean and not args.skip_ray_tune:
                order.append("ray_tune_lean")
            for tool in order:
                if tool == "halving":
                    r = run_halving(args)
                    msg = (f"{r['results']} results in {r['engine_wall']:.2f} s engine loop "
                           f"({r['call_wall']:.2f} s whole tune() call): {r['results_per_s']:.0f} results/s; "
                           f"round trips {r['backend_stats'].get('round_trips')}")
                else:
                    r = run_ray(args, configs, lean=tool == "ray_tune_lean")
                    msg = (f"{r['results']} results in {r['wall']:.2f} s: {r['results_per_s']:.0f} results/s; "
                           f"{r['completed']} trials reached max_t; errors {r['errors']}")
                runs[tool].append(r)
                print(f"[repeat {rep + 1}/{args.repeats}] {tool}: {msg}", flush=True)
    finally:
        stop_ray()

    summary: dict = {"ray_init_seconds": ray_init}
    rows = []
    h = runs["halving"]
    hv_rps = median([r["results_per_s"] for r in h])
    summary["halving"] = {
        "results": median([r["results"] for r in h]),
        "wall": median([r["engine_wall"] for r in h]),
        "call_wall": median([r["call_wall"] for r in h]),
        "results_per_s": hv_rps,
        "results_per_s_call": median([r["results_per_s_call"] for r in h]),
        "epochs_used": median([r["epochs_used"] for r in h]),
    }
    rows.append(["halving asha (engine loop)", summary["halving"]["results"], summary["halving"]["wall"], hv_rps,
                 "-"])
    rows.append(["halving asha (whole tune() call)", summary["halving"]["results"], summary["halving"]["call_wall"],
                 summary["halving"]["results_per_s_call"], "-"])
    for tool, label in (("ray_tune", "Ray Tune ASHAScheduler"), ("ray_tune_lean", "Ray Tune, no result loggers")):
        if not runs[tool]:
            continue
        rps = median([r["results_per_s"] for r in runs[tool]])
        summary[tool] = {"results": median([r["results"] for r in runs[tool]]),
                         "wall": median([r["wall"] for r in runs[tool]]), "results_per_s": rps,
                         "ratio_halving_over": hv_rps / rps,
                         "ratio_halving_call_over": summary["halving"]["results_per_s_call"] / rps}
        rows.append([label, summary[tool]["results"], summary[tool]["wall"], rps, hv_rps / rps])

    print_table(f"Overhead: no-work trainable, {args.trials} trials, ASHA R={args.max_epochs} eta={args.eta}, "
                f"{args.workers} workers, local Ray num_cpus={args.cpus}; medians of {args.repeats}",
                ["tool", "results", "wall s", "results/s", "halving results/s over this"], rows)
    print("Ray's start-up is excluded from both tools (one ray.init before anything is timed, shared).")
    print("Ray Tune's ASHA only stops trials, halving's promotes paused ones: result counts differ;")
    print("results/s is the comparable figure.")
    print("Ray Tune settings:", RAY_TUNE_SETTINGS)
    if "ray_tune" in summary:
        ratio = summary["ray_tune"]["ratio_halving_over"]
        met = ratio >= TARGET
        summary["target"] = {"want": f">= {TARGET:g}x Ray Tune's results/s", "ratio": ratio, "met": met}
        print(f"target: halving >= {TARGET:g}x Ray Tune's results/s: {ratio:.1f}x -> {'MET' if met else 'NOT MET'}")
        if args.quick:
            print("(--quick: a smoke run, not the target's workload)")
    payload = {"benchmark": "overhead", "params": vars(args), "summary": summary, "runs": runs}
    save_json(args.out, payload)
    return payload


if __name__ == "__main__":
    main()
