"""Worker utilisation: the share of worker time spent training, with 50 ms epochs.

The issue: "with a 50 ms epoch, the share of worker time spent training.
Target: at least 95%."

Each epoch is a busy CPU loop of ``--epoch-ms`` (50 ms), timed by the trainable
itself with ``time.perf_counter`` and reported as the extra metric
``train_seconds``; the reported value is a deterministic pseudo-random curve
of (config, epoch) as in ``overhead.py``. ASHA (eta 3), ``--trials`` (81)
configurations, R = ``--max-epochs`` (27), ``--workers`` (2) workers, on a
local Ray started once with ``num_cpus=2`` before anything is timed (its
start-up is excluded).

    utilisation = sum of train_seconds over every epoch / (workers * wall seconds)

For halving, wall is ``result.wall_seconds`` (the engine loop only: the worker
actors are started before it); the figure with the whole ``tune()`` call as
wall (actor start-up, run dir, results file included) is shown too. The same trainable runs under Ray Tune's
ASHAScheduler (``reuse_actors=True``, ``max_concurrent_trials=2``, wall =
``tuner.fit()``) for reference: its trainable reports its running total of
training seconds, and the last total of each trial is summed.

On a 2-core machine the two spinning workers and the driver compete for the
cores (as they would for any real training); ``--sleep`` makes each epoch a
``time.sleep`` instead, which shows the scheduling overhead alone (not the
target's measure).

Utilisation below 100% has three causes, which the output separates for
halving: the time before the first epoch starts (actor start-up), the
scheduling gaps between epochs, and the tail at the end where the policy has
work for fewer trials than workers (the last trials climbing to R). The
second is halving's overhead; the third is ASHA's.

Medians of ``--repeats`` runs. Run from the repository root::

    python benchmarks/utilisation.py [--quick] [--repeats 3] [--out utilisation.json]
"""

from __future__ import annotations

import argparse
import math
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from _peers import RAY_TUNE_SETTINGS, median, print_table, ray_tune_asha, save_json, start_ray, stop_ray, tempdir  # noqa: E402,E501

import halving  # noqa: E402
from halving.space import Space, loguniform, randint, uniform  # noqa: E402

SPACE = {"final": uniform(0.5, 1.0), "tau": loguniform(1.0, 20.0), "key": randint(0, 2**31 - 1)}
TARGET = 0.95


def curve(cfg: dict, epoch: int) -> float:
    noise = math.sin(cfg["key"] * 1e-3 + epoch * 12.9898) * 43758.5453
    noise -= math.floor(noise)
    return cfg["final"] * (1.0 - math.exp(-epoch / cfg["tau"])) + 0.01 * (noise - 0.5)


def idle(seconds: float) -> float:
    """``--sleep``: the epoch sleeps instead (no CPU used), to see the scheduling overhead alone."""
    t0 = time.perf_counter()
    time.sleep(seconds)
    return time.perf_counter() - t0


def busy(seconds: float) -> float:
    """Spin the CPU for ``seconds`` of wall time; returns the seconds measured."""
    t0 = time.perf_counter()
    end = t0 + seconds
    x = 0
    while time.perf_counter() < end:
        for _ in range(200):
            x += 1
    return time.perf_counter() - t0


def make_halving_fn(epoch_s: float, sleep: bool = False):
    work = idle if sleep else busy

    def halving_fn(config: dict) -> None:
        epoch = 0
        while True:
            epoch += 1
            dt = work(epoch_s)
            halving.report(acc=curve(config, epoch), train_seconds=dt)

    return halving_fn


def make_ray_fn(configs: list[dict], max_t: int, epoch_s: float, sleep: bool = False):
    work = idle if sleep else busy

    def ray_fn(config: dict) -> None:
        from ray import tune

        cfg = configs[config["i"]]
        total = 0.0
        for epoch in range(1, max_t + 1):
            dt = work(epoch_s)
            total += dt
            tune.report({"acc": curve(cfg, epoch), "train_seconds": dt, "train_total": total})

    return ray_fn


def run_halving(args) -> dict:
    with tempdir("bench-halving-") as d:
        t_call = time.time()
        t0 = time.perf_counter()
        result = halving.tune(make_halving_fn(args.epoch_ms / 1000, args.sleep), SPACE, metric="acc", mode="max",
                              policy="asha", eta=args.eta, max_epochs=args.max_epochs, trials=args.trials,
                              workers=args.workers, seed=args.seed, run_dir=os.path.join(d, "run"))
        call = time.perf_counter() - t0
    t = result.table()
    train = t.column("train_seconds").to_pylist()
    ends = t.column("time").to_pylist()  # time.time() when each report was made (end of its epoch)
    workers = t.column("worker").to_pylist()
    total = sum(train)
    w = args.workers
    # Per worker: busy seconds, first epoch start, last epoch end (wall-clock, from the reports).
    per: dict[int, dict] = {}
    for tr, end, wk in zip(train, ends, workers):
        p = per.setdefault(wk, {"busy": 0.0, "first_start": math.inf, "last_end": -math.inf})
        p["busy"] += tr
        p["first_start"] = min(p["first_start"], end - tr)
        p["last_end"] = max(p["last_end"], end)
    # Where the rest of each worker's time went, over the whole call:
    startup = sum(p["first_start"] - t_call for p in per.values()) / w
    tail = sum(t_call + call - p["last_end"] for p in per.values()) / w
    gaps = sum(p["last_end"] - p["first_start"] - p["busy"] for p in per.values()) / w
    return {
        "train_seconds": total,
        "engine_wall": result.wall_seconds,
        "call_wall": call,
        "utilisation": total / (w * result.wall_seconds),
        "utilisation_call": total / (w * call),
        "epochs": t.num_rows,
        "ideal_wall": total / w,
        "per_worker_seconds": {"startup_before_first_epoch": startup, "gaps_between_epochs": gaps,
                               "after_last_epoch": tail},
        "gap_per_epoch_ms": 1000 * gaps * w / max(1, t.num_rows),
        "utilisation_while_working": total / sum(p["last_end"] - p["first_start"] for p in per.values()),
        "backend_stats": result.backend_stats,
    }


def run_ray(args, configs: list[dict]) -> dict:
    out = ray_tune_asha(make_ray_fn(configs, args.max_epochs, args.epoch_ms / 1000, args.sleep), len(configs), metric="acc",
                        mode="max", max_t=args.max_epochs, eta=args.eta, workers=args.workers)
    total = sum(t["last"].get("train_total", 0.0) for t in out["trials"])
    return {"train_seconds": total, "wall": out["wall"], "utilisation": total / (args.workers * out["wall"]),
            "epochs": out["results"], "errors": out["errors"]}


def main(argv: list[str] | None = None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--trials", type=int, default=81)
    ap.add_argument("--max-epochs", type=int, default=27)
    ap.add_argument("--eta", type=int, default=3)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--cpus", type=int, default=2, help="CPUs of the local Ray")
    ap.add_argument("--epoch-ms", type=float, default=50.0)
    ap.add_argument("--sleep", action="store_true",
                    help="epochs sleep instead of spinning the CPU (scheduling overhead alone; not the target's)")
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--skip-ray-tune", action="store_true")
    ap.add_argument("--quick", action="store_true", help="smoke run: 27 trials, R=9, 1 repeat")
    ap.add_argument("--out", help="write the numbers to this JSON file")
    args = ap.parse_args(argv)
    if args.quick:
        args.trials, args.max_epochs, args.repeats = 27, 9, 1

    configs = Space.from_spec(SPACE).sample(args.trials, args.seed)
    ray_init = start_ray(args.cpus)
    print(f"Ray started once with num_cpus={args.cpus} in {ray_init:.2f} s (excluded: both tools run on it)")
    runs: dict[str, list[dict]] = {"halving": [], "ray_tune": []}
    try:
        for rep in range(args.repeats):
            order = ["halving", "ray_tune"] if rep % 2 == 0 else ["ray_tune", "halving"]
            if args.skip_ray_tune:
                order = ["halving"]
            for tool in order:
                if tool == "halving":
                    r = run_halving(args)
                    pw = r["per_worker_seconds"]
                    msg = (f"{r['epochs']} epochs, {r['train_seconds']:.2f} s training in {r['engine_wall']:.2f} s "
                           f"engine loop ({r['call_wall']:.2f} s call): utilisation {r['utilisation']:.1%} "
                           f"({r['utilisation_call']:.1%} of the call); per worker: "
                           f"{pw['startup_before_first_epoch']:.2f} s before the first epoch, "
                           f"{pw['gaps_between_epochs']:.2f} s in gaps ({r['gap_per_epoch_ms']:.2f} ms/epoch), "
                           f"{pw['after_last_epoch']:.2f} s after the last")
                else:
                    r = run_ray(args, configs)
                    msg = (f"{r['epochs']} epochs, {r['train_seconds']:.2f} s training in {r['wall']:.2f} s: "
                           f"utilisation {r['utilisation']:.1%}; errors {r['errors']}")
                runs[tool].append(r)
                print(f"[repeat {rep + 1}/{args.repeats}] {tool}: {msg}", flush=True)
    finally:
        stop_ray()

    h = runs["halving"]
    summary: dict = {"ray_init_seconds": ray_init, "halving": {
        k: median([r[k] for r in h])
        for k in ("utilisation", "utilisation_call", "utilisation_while_working", "engine_wall", "call_wall",
                  "train_seconds", "epochs", "gap_per_epoch_ms")}}
    summary["halving"]["per_worker_seconds"] = {
        k: median([r["per_worker_seconds"][k] for r in h]) for k in h[0]["per_worker_seconds"]}
    hs = summary["halving"]
    rows = [["halving asha (engine loop)", hs["epochs"], hs["train_seconds"], hs["engine_wall"], hs["utilisation"]],
            ["halving asha (whole tune() call)", hs["epochs"], hs["train_seconds"], hs["call_wall"],
             hs["utilisation_call"]]]
    if runs["ray_tune"]:
        rt = runs["ray_tune"]
        summary["ray_tune"] = {k: median([r[k] for r in rt]) for k in ("utilisation", "wall", "train_seconds",
                                                                        "epochs")}
        summary["ray_tune"]["ratio_halving_over"] = hs["utilisation"] / summary["ray_tune"]["utilisation"]
        rows.append(["Ray Tune ASHAScheduler", summary["ray_tune"]["epochs"], summary["ray_tune"]["train_seconds"],
                     summary["ray_tune"]["wall"], summary["ray_tune"]["utilisation"]])
    print_table(f"Utilisation: {args.epoch_ms:g} ms {'sleeping' if args.sleep else 'busy-loop'} epochs, {args.trials} trials, ASHA R={args.max_epochs} "
                f"eta={args.eta}, {args.workers} workers; medians of {args.repeats}",
                ["tool", "epochs", "training s", "wall s", "utilisation"], rows)
    pw = hs["per_worker_seconds"]
    print(f"halving, per worker (medians): {pw['startup_before_first_epoch']:.2f} s before its first epoch "
          f"(from the tune() call), {pw['gaps_between_epochs']:.2f} s in gaps between epochs "
          f"({hs['gap_per_epoch_ms']:.2f} ms per epoch), {pw['after_last_epoch']:.2f} s after its last epoch; "
          f"utilisation from each worker's first epoch to its last: {hs['utilisation_while_working']:.1%}")
    print("Ray's start-up is excluded (one ray.init before anything is timed, shared by both tools).")
    print("Ray Tune settings:", RAY_TUNE_SETTINGS)
    met = hs["utilisation"] >= TARGET
    summary["target"] = {"want": f"halving utilisation >= {TARGET:.0%}", "value": hs["utilisation"], "met": met}
    print(f"target: utilisation >= {TARGET:.0%}: {hs['utilisation']:.1%} -> {'MET' if met else 'NOT MET'}")
    if args.quick:
        print("(--quick: a smoke run, not the target's workload)")
    payload = {"benchmark": "utilisation", "params": vars(args), "summary": summary, "runs": runs}
    save_json(args.out, payload)
    return payload


if __name__ == "__main__":
    main()
