"""Wall time and accuracy on real training: halving ASHA against Ray Tune ASHA and Optuna's SH pruner.

The issue: "sgd and mlp on digits, 81 configurations, R=27, 2 workers: halving
ASHA against Ray Tune ASHA and Optuna's SuccessiveHalvingPruner (n_jobs=1).
Targets: wall time at most 0.5x Ray Tune's and at most 1.0x Optuna's, with best
validation accuracy at least theirs."

The workloads are the bundled examples ``sgd_digits`` and ``mlp_digits`` (their
spaces, 60/20/20 split and per-epoch step); every tool gets the same
configurations in the same order. halving and Ray Tune share one local Ray started
beforehand (excluded); halving's wall is its whole ``tune()`` call (the engine
loop alone is in the result), Ray Tune's ``tuner.fit()``, Optuna's
``create_study`` + ``optimize`` in this process, one trial at a time, its BLAS
threads at their default. The targets against Optuna exclude Ray's start, as
DESIGN.md says; halving with a fresh Ray start (``tune()`` starting and stopping
its own, in a new process) is reported beside it. Best validation accuracy at R is
the best final value among trials that trained R epochs (ties to the lowest
index); test accuracy is that trial's. Medians of ``--repeats`` (the tools
rotate who goes first).
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from typing import Any

from .adapters import halving_tune, optuna_study, ray_tune
from .ray_session import add_run_arguments, start_ray, stop_ray
from .results import Target
from .table import print_table
from .timing import median
from .workloads import make, sample_configs

WALL_VS_RAY = 0.5
WALL_VS_OPTUNA = 1.0
TOOLS = ("halving", "ray_tune", "optuna")


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
    runs = {n: {t: [] for t in (*TOOLS, "halving_fresh_ray")} for n in names}
    inits = []
    for rep in range(args.repeats):
        inits.append(start_ray(args.cpus))
        try:
            for n in names:
                w = make(n)
                configs = sample_configs(w.space, args.trials, args.seed)
                for tool in TOOLS[rep % 3:] + TOOLS[: rep % 3]:
                    r = _one(tool, w, args, configs)
                    runs[n][tool].append(r)
                    print(f"[repeat {rep + 1}/{args.repeats}] {n} {tool}: wall {r['wall']:.2f} s, best val "
                          f"{r['best_val']}, test {r['test']}, epochs {r['epochs']}", flush=True)
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
        out.append(Target(f"{name}: halving wall / {tool}'s", s["halving"]["wall"] / s[tool]["wall"], limit,
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
        r = _one("halving", w, args, sample_configs(w.space, args.trials, args.seed))
        print("FRESH " + json.dumps(r, default=str), flush=True)
        return None, []
    names = [n.strip() for n in args.workloads.split(",") if n.strip()]
    runs, inits = _repeats(names, args)
    summary: dict[str, Any] = {"ray_init_seconds": median(inits)}
    targets: list[Target] = []
    for n in names:
        s = {t: {k: median(r.get(k) for r in rs) for k in ("wall", "best_val", "test", "epochs", "engine_wall")}
             for t, rs in runs[n].items() if rs}
        for t in ("ray_tune", "optuna"):
            s[t]["halving_wall_over_this"] = s["halving"]["wall"] / s[t]["wall"]
            s[t]["halving_engine_wall_over_this"] = s["halving"]["engine_wall"] / s[t]["wall"]
        if "halving_fresh_ray" in s:
            s["halving_fresh_ray"]["over_optuna"] = s["halving_fresh_ray"]["wall"] / s["optuna"]["wall"]
        summary[n] = s
        targets += _targets(n, runs[n], s)
        print_table(f"{n}: {args.trials} configurations, R={args.max_epochs}, {args.workers} workers (Optuna "
                    f"n_jobs=1); medians of {args.repeats}", ["tool", "wall s", "halving wall / this", "best val",
                                                               "test", "epochs"],
                    [[t, v["wall"], v.get("halving_wall_over_this", "-"), v["best_val"], v["test"], v["epochs"]]
                     for t, v in s.items()])
    return {"params": vars(args), "summary": summary, "runs": runs}, targets
