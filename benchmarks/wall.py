"""Wall time and accuracy on real training: halving ASHA against Ray Tune ASHA and Optuna's SH pruner.

The issue: "sgd and mlp on digits, 81 configurations, R=27, 2 workers: halving
ASHA against Ray Tune ASHA and Optuna's SuccessiveHalvingPruner (n_jobs=1).
Targets: wall time at most 0.5x Ray Tune's and at most 1.0x Optuna's, with best
validation accuracy at least theirs."

The workloads are the bundled examples ``sgd_digits`` and ``mlp_digits`` (their
spaces, 60/20/20 split and per-epoch step); every tool gets the same
configurations in the same order. halving and Ray Tune share one local Ray started
beforehand (excluded); halving's wall is its whole ``tune()`` call (the engine
loop alone is in the result), twice in a row: ``halving`` starts its worker
processes in the call (cold), ``halving_warm`` reuses them (as a second ``tune()``
of a process does by default on the Ray it started); the targets judge both. Ray
Tune's wall is ``tuner.fit()`` (its trial actors start in it), Optuna's
``create_study`` + ``optimize`` in this process, one trial at a time, its BLAS
threads at their default. The targets against Optuna exclude Ray's start, as
DESIGN.md says; halving with a fresh Ray start (``tune()`` starting and stopping
its own, in a new process) is reported beside it. Best validation accuracy at R is
the best final value among trials that trained R epochs (ties to the lowest
index); test accuracy is that trial's. Medians of ``--repeats`` (the tools
rotate who goes first); ``driver_cpu`` is the benchmark process's CPU seconds in
the call (``time.process_time``; Optuna trains in it, the others in workers);
``worker_cpu`` is what halving's worker processes spent in it (from /proc): cold,
that includes their start and loading the workload's module; warm, only training.
Per epoch, against Optuna's in-process ``driver_cpu_per_epoch``, it is what an
epoch costs on a worker (round trips, reports, 1 BLAS thread) against in-process.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from typing import Any

from halving.backends.ray_pool import reuse_workers

from .adapters import halving_tune, optuna_study, ray_tune
from .ray_session import add_run_arguments, start_ray, stop_ray
from .results import Target
from .table import print_table
from .timing import cpu_between, median, processes_cpu
from .workloads import make, sample_configs

WALL_VS_RAY = 0.5
WALL_VS_OPTUNA = 1.0
TOOLS = ("halving", "ray_tune", "optuna")
WORKER_TITLE = "ray::TrialWorker"  # halving's worker processes, as Ray names them


def add_arguments(ap: argparse.ArgumentParser) -> None:
    ap.add_argument("--workloads", default="sgd,mlp")
    add_run_arguments(ap, trials=81)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--no-fresh", action="store_true", help="skip halving's run with a fresh Ray start")
    ap.add_argument("--fresh-timeout", type=float, default=600.0)
    ap.add_argument("--fresh-child", help=argparse.SUPPRESS)
    ap.add_argument("--quick", action="store_true", help="smoke run: 27 trials, R=9, 1 repeat")


def _one(tool: str, w: Any, args: argparse.Namespace, configs: list[dict]) -> dict:
    kw = {"max_epochs": args.max_epochs, "eta": args.eta}
    if tool == "halving":
        o = halving_tune.run(w, "asha", trials=args.trials, workers=args.workers, seed=args.seed, configs=configs,
                             **kw)
    elif tool == "ray_tune":
        o = ray_tune.run(w, "ASHAScheduler", configs, workers=args.workers, keep=("test_accuracy",), **kw)
    else:
        o = optuna_study.run(w, "SuccessiveHalvingPruner", configs, seed=args.seed, **kw)
    return o.summary(w.metric, "test_accuracy")


def _tool(tool: str, w: Any, args: argparse.Namespace, configs: list[dict]) -> list[tuple[str, dict]]:
    """One tool's run(s), each with the driver's CPU seconds. halving runs twice in a row:
    ``halving`` starts its workers in the call (cold: Ray is up, no worker is), then
    ``halving_warm`` reuses them (``reuse_workers()``, what a second ``tune()`` of a process
    that started its own Ray gets by default): both are reported, the targets judge both."""
    def timed(name: str) -> tuple[str, dict]:
        # Every Ray worker process before: one Ray prestarted idle ("ray::IDLE") and halving's
        # actor then runs in counts only what it spent after this point.
        workers = processes_cpu("ray::")
        cpu = time.process_time()
        r = _one(tool, w, args, configs)
        r["driver_cpu"] = time.process_time() - cpu
        if tool == "halving":  # its workers outlive the call (kept idle): all of their CPU is seen
            r["worker_cpu"] = cpu_between(workers, processes_cpu(WORKER_TITLE))
            r["worker_cpu_per_epoch"] = r["worker_cpu"] / r["epochs"]
        elif tool == "optuna":  # trains in this process, one trial at a time
            r["driver_cpu_per_epoch"] = r["driver_cpu"] / r["epochs"]
        return name, r

    if tool != "halving":
        return [timed(tool)]
    with reuse_workers():
        return [timed("halving"), timed("halving_warm")]


def _fresh(workload: str, args: argparse.Namespace) -> dict:
    """halving in a new process with no Ray running, so that ``tune()`` starts and stops its own;
    only the ``tune()`` call is timed, inside the child."""
    cmd = [sys.executable, "-m", "benchmarks", "wall", "--fresh-child", workload, "--trials", str(args.trials),
           "--max-epochs", str(args.max_epochs), "--eta", str(args.eta), "--workers", str(args.workers),
           "--seed", str(args.seed)]
    try:
        out = subprocess.run(cmd, capture_output=True, text=True, timeout=args.fresh_timeout)
    except subprocess.TimeoutExpired:
        return {"wall": None, "error": f"timed out after {args.fresh_timeout} s"}
    for line in reversed(out.stdout.splitlines()):
        if line.startswith("FRESH "):
            return json.loads(line[6:])
    return {"wall": None, "error": (out.stderr or out.stdout)[-2000:]}


def _repeats(names: list[str], args: argparse.Namespace) -> tuple[dict, list[float]]:
    runs = {n: {t: [] for t in (*TOOLS, "halving_warm", "halving_fresh_ray")} for n in names}
    inits = []
    for rep in range(args.repeats):
        inits.append(start_ray(args.cpus))
        try:
            for n in names:
                w = make(n)
                configs = sample_configs(w.space, args.trials, args.seed)
                for tool in TOOLS[rep % 3:] + TOOLS[: rep % 3]:
                    for name, r in _tool(tool, w, args, configs):
                        runs[n][name].append(r)
                        print(f"[repeat {rep + 1}/{args.repeats}] {n} {name}: wall {r['wall']:.2f} s, best val "
                              f"{r['best_val']}, test {r['test']}, epochs {r['epochs']}, driver CPU "
                              f"{r['driver_cpu']:.2f} s", flush=True)
        finally:
            stop_ray()
        for n in names if not args.no_fresh else []:
            runs[n]["halving_fresh_ray"].append(_fresh(n, args))
            print(f"[repeat {rep + 1}/{args.repeats}] {n} halving, fresh Ray: {runs[n]['halving_fresh_ray'][-1]}",
                  flush=True)
    return runs, inits


def _targets(name: str, runs: dict, s: dict) -> list[Target]:
    out = []
    for tool, limit in (("ray_tune", WALL_VS_RAY), ("optuna", WALL_VS_OPTUNA)):
        for ours, how in (("halving", "workers started in the call"), ("halving_warm", "workers reused")):
            out.append(Target(f"{name}: halving wall / {tool}'s ({how})", s[ours]["wall"] / s[tool]["wall"], limit,
                              at_least=False))
        # per repeat (the same configurations each time): halving's best val at least the peer's
        worst = min(h["best_val"] - p["best_val"] for h, p in zip(runs["halving"], runs[tool]))
        out.append(Target(f"{name}: halving best val - {tool}'s (worst repeat)", worst, 0.0, at_least=True))
    return out


def run(args: argparse.Namespace) -> tuple[dict | None, list[Target]]:
    if args.quick:
        args.trials, args.max_epochs, args.repeats = 27, 9, 1
    if args.fresh_child:
        w = make(args.fresh_child)
        cpu = time.process_time()
        r = _one("halving", w, args, sample_configs(w.space, args.trials, args.seed))
        r["driver_cpu"] = time.process_time() - cpu
        print("FRESH " + json.dumps(r, default=str), flush=True)
        return None, []
    names = [n.strip() for n in args.workloads.split(",") if n.strip()]
    runs, inits = _repeats(names, args)
    summary: dict[str, Any] = {"ray_init_seconds": median(inits)}
    targets: list[Target] = []
    for n in names:
        s = {t: {k: median(r.get(k) for r in rs)
                 for k in ("wall", "best_val", "test", "epochs", "engine_wall", "driver_cpu", "worker_cpu",
                           "worker_cpu_per_epoch", "driver_cpu_per_epoch")}
             for t, rs in runs[n].items() if rs}
        for t in ("ray_tune", "optuna"):
            s[t]["halving_wall_over_this"] = s["halving"]["wall"] / s[t]["wall"]
            s[t]["halving_warm_wall_over_this"] = s["halving_warm"]["wall"] / s[t]["wall"]
            s[t]["halving_engine_wall_over_this"] = s["halving"]["engine_wall"] / s[t]["wall"]
        if "halving_fresh_ray" in s:
            s["halving_fresh_ray"]["over_optuna"] = s["halving_fresh_ray"]["wall"] / s["optuna"]["wall"]
        summary[n] = s
        targets += _targets(n, runs[n], s)
        print_table(f"{n}: {args.trials} configurations, R={args.max_epochs}, {args.workers} workers (Optuna "
                    f"n_jobs=1); medians of {args.repeats}",
                    ["tool", "wall s", "halving wall / this", "halving warm / this", "driver CPU s", "best val",
                     "test", "epochs"],
                    [[t, v["wall"], v.get("halving_wall_over_this", "-"), v.get("halving_warm_wall_over_this", "-"),
                      v["driver_cpu"], v["best_val"], v["test"], v["epochs"]] for t, v in s.items()])
    return {"params": vars(args), "summary": summary, "runs": runs}, targets
