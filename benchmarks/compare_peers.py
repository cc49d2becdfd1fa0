"""halving (every policy) against Ray Tune, Optuna and scikit-learn, on the same configurations and seeds.

The issue: "one command that runs, on the same sampled configurations and seeds,
halving (each policy) against Ray Tune (ASHAScheduler, HyperBandScheduler,
MedianStoppingRule), Optuna (SuccessiveHalvingPruner, HyperbandPruner,
MedianPruner, RandomSampler) and scikit-learn's HalvingRandomSearchCV [...] 81
configurations, R=27, 3 seeds, 2 workers."

Workloads (``benchmarks.workloads``): sgd, mlp (the digits examples), cnn
(``cnn_mnist1d`` at a benchmark size) and fashion (``mlp_digits``'s model on a
Fashion-MNIST subsample). For seed s every tool gets the configurations
``halving.tune(trials=n, seed=s)`` samples: halving samples them itself, Ray Tune
gets them by index through ``grid_search``, Optuna by trial number, and
``HalvingRandomSearchCV`` as one single-point distribution each.

Tools (R = max epochs, eta = 3, 2 workers): halving with each policy at its
defaults (``none`` trains every configuration to R: full-budget random search, the
baseline of the "/ full" ratios); Ray Tune's three schedulers
(``stop={"training_iteration": R}``, ``time_budget_s=--run-timeout``); Optuna's
three pruners, one trial at a time in this process with BLAS and torch at one
thread (like one Ray worker); ``HalvingRandomSearchCV(resource="max_iter",
factor=3, n_jobs=2)`` on a ``PredefinedSplit`` (scikit-learn estimators only).

Per run: best validation accuracy at R, its trial's test accuracy, epochs trained,
wall seconds of the tool's call (the one local Ray is started once and excluded).
Per workload: medians over seeds, and ratios: wall / the fastest peer's, epochs /
full-budget epochs, best val / full-budget best val. halving starts its workers in
every ``tune()`` call unless ``--reuse-workers``. Work goes seed by seed; a
(workload, seed) block that would end after ``--max-minutes`` is skipped, judged
from that workload's blocks so far (before the first, from ``GUESS``).
"""

from __future__ import annotations

import argparse
import contextlib
import tempfile
import time

import halving

from .adapters import Outcome, best_so_far, halving_tune, optuna_study, ray_tune, sklearn_search
from .ray_session import add_run_arguments, start_ray, stop_ray
from .results import Target
from .table import print_table
from .timing import median
from .workloads import ModelWorkload, Unavailable, make, sample_configs

HALVING_POLICIES = ("asha", "asha-stop", "sha", "hyperband", "median", "bandit", "truncation", "none")
#: A first guess of one (workload, seed) block's seconds at 81 configurations and R=27, before one has run.
GUESS = {"sgd": 200.0, "mlp": 400.0, "cnn": 450.0, "fashion": 450.0}
METRIC, TEST = "val_accuracy", "test_accuracy"


def add_arguments(ap: argparse.ArgumentParser) -> None:
    ap.add_argument("--workloads", default=None, help="comma-separated, of sgd,mlp,cnn,fashion (default: sgd,mlp; "
                    "with --quick: sgd)")
    ap.add_argument("--seeds", type=int, default=3, help="seeds of every workload (0..N-1)")
    add_run_arguments(ap, trials=81)
    ap.add_argument("--max-minutes", type=float, default=28.0,
                    help="skip a (workload, seed) block that would end later than this from the start")
    ap.add_argument("--run-timeout", type=float, default=240.0, help="Ray Tune's time_budget_s for one run")
    ap.add_argument("--quick", action="store_true", help="smoke run: 9 trials, R=3, 1 seed, sgd, 3-minute limit")
    ap.add_argument("--reuse-workers", action="store_true",
                    help="halving's runs of a block share their workers (halving.reuse_workers()), as halving compare does")
    ap.add_argument("--plot", default=None, help="also draw best-so-far accuracy against seconds to this PNG")


def tool_list(w: ModelWorkload) -> list[tuple[str, str]]:
    runs = [("halving", p) for p in HALVING_POLICIES] + [("ray_tune", s) for s in ray_tune.SCHEDULERS]
    runs += [("optuna", p) for p in optuna_study.PRUNERS]
    return runs + ([("sklearn", "HalvingRandomSearchCV")] if w.sklearn else [])


def run_one(w: ModelWorkload, tool: str, policy: str, configs: list[dict], seed: int,
            args: argparse.Namespace) -> Outcome:
    kw = {"max_epochs": args.max_epochs, "eta": args.eta}
    if tool == "halving":
        return halving_tune.run(w, policy, trials=len(configs), workers=args.workers, seed=seed, configs=configs,
                                keep_events=True, **kw)
    if tool == "ray_tune":
        return ray_tune.run(w, policy, configs, workers=args.workers, stop_at_R=True,
                            time_budget_s=args.run_timeout, keep=(METRIC, TEST), **kw)
    if tool == "optuna":
        return optuna_study.run(w, policy, configs, seed=seed, one_thread=True, keep_events=True, **kw)
    return sklearn_search.run(w, configs, workers=args.workers, seed=seed, **kw)


def _run_logged(w: ModelWorkload, tool: str, policy: str, configs: list[dict], seed: int,
                args: argparse.Namespace) -> dict:
    try:
        o = run_one(w, tool, policy, configs, seed, args)
        r = {**o.summary(METRIC, TEST), "curve": best_so_far(o, METRIC)}
        print(f"[{w.name} seed {seed}] {tool} {policy}: wall {r['wall']:.1f} s, best val {r['best_val']}, "
              f"test {r['test']}, epochs {r['epochs']}" + (" TIMED OUT" if r.get("timed_out") else ""), flush=True)
    except Exception as exc:  # noqa: BLE001 - one failed run must not end the benchmark
        r = {"tool": tool, "policy": policy, "wall": None, "best_val": None, "test": None, "epochs": None,
             "error": f"{type(exc).__name__}: {exc}"[:500]}
        print(f"[{w.name} seed {seed}] {tool} {policy}: FAILED {r['error']}", flush=True)
    return {"workload": w.name, "seed": seed, **r}


def _run_block(w: ModelWorkload, seed: int, args: argparse.Namespace) -> list[dict]:
    configs = sample_configs(w.space, args.trials, seed)
    tools = tool_list(w)
    # halving's runs come first; with --reuse-workers they share worker processes, and the
    # block is left before the peers run, so that no idle worker holds a CPU they wait for
    with halving.reuse_workers() if args.reuse_workers else contextlib.nullcontext():
        out = [_run_logged(w, t, p, configs, seed, args) for t, p in tools if t == "halving"]
    return out + [_run_logged(w, t, p, configs, seed, args) for t, p in tools if t != "halving"]


def _workloads(names: list[str], scratch: str, skipped: list[str]) -> dict[str, ModelWorkload]:
    out = {}
    for n in names:
        try:
            out[n] = make(n, scratch=scratch)
        except Unavailable as exc:
            skipped.append(str(exc))
            print(exc, flush=True)
    return out


def _blocks(workloads: dict[str, ModelWorkload], args: argparse.Namespace, skipped: list[str]) -> list[dict]:
    began, runs, took = time.perf_counter(), [], {}
    for seed in range(args.seeds):
        for name, w in workloads.items():
            elapsed = time.perf_counter() - began
            est = median(took[name]) if name in took else GUESS[name] * args.trials * args.max_epochs / 2187.0
            if elapsed + est > 60 * args.max_minutes:
                skipped.append(f"{name} seed {seed}: about {est:.0f} s more would pass --max-minutes "
                               f"({elapsed:.0f} s gone)")
                print(skipped[-1], flush=True)
                continue
            b0 = time.perf_counter()
            runs += _run_block(w, seed, args)
            took.setdefault(name, []).append(time.perf_counter() - b0)
    return runs


def summarise(runs: list[dict], args: argparse.Namespace) -> list[dict]:
    """Per workload and (tool, policy): medians over seeds, and the ratios of the module docstring."""
    rows = []
    for wname in dict.fromkeys(r["workload"] for r in runs):
        rs = [r for r in runs if r["workload"] == wname and r.get("wall") is not None]
        full = {r["seed"]: r["best_val"] for r in rs if (r["tool"], r["policy"]) == ("halving", "none")}
        groups: dict[tuple[str, str], list[dict]] = {}
        for r in rs:
            groups.setdefault((r["tool"], r["policy"]), []).append(r)
        out = [{"workload": wname, "tool": tool, "policy": policy, "seeds": len(g),
                "best_val": median(r["best_val"] for r in g), "test": median(r["test"] for r in g),
                "epochs": median(r["epochs"] for r in g), "wall": median(r["wall"] for r in g),
                "epochs_over_full": median(r["epochs"] for r in g) / (args.trials * args.max_epochs),
                "best_val_over_full": median(r["best_val"] / full[r["seed"]] for r in g
                                             if r["best_val"] is not None and full.get(r["seed"])),
                "timed_out": any(r.get("timed_out") for r in g)} for (tool, policy), g in groups.items()]
        peers = [o for o in out if o["tool"] != "halving"]
        fastest = min(peers, key=lambda o: o["wall"]) if peers else None
        for o in out:
            o["fastest_peer"] = f"{fastest['tool']} {fastest['policy']}" if fastest else None
            o["wall_over_fastest_peer"] = o["wall"] / fastest["wall"] if fastest else float("nan")
        rows += out
    return rows


def same_rule_ratios(rows: list[dict]) -> list[dict]:
    """halving's wall over the wall of the peer running the same rule, in the same run."""
    pairs = (("asha-stop", "ray_tune", "ASHAScheduler"), ("hyperband", "ray_tune", "HyperBandScheduler"),
             ("median", "ray_tune", "MedianStoppingRule"), ("sha", "optuna", "SuccessiveHalvingPruner"),
             ("hyperband", "optuna", "HyperbandPruner"), ("sha", "sklearn", "HalvingRandomSearchCV"))
    by = {(r["workload"], r["tool"], r["policy"]): r for r in rows}
    out = []
    for wname in dict.fromkeys(r["workload"] for r in rows):
        for ours, tool, theirs in pairs:
            h, p = by.get((wname, "halving", ours)), by.get((wname, tool, theirs))
            if h and p:
                out.append({"workload": wname, "halving": ours, "peer": f"{tool} {theirs}",
                            "wall_ratio": h["wall"] / p["wall"], "epochs_ratio": h["epochs"] / p["epochs"],
                            "best_val_diff": h["best_val"] - p["best_val"]})
    return out


def run(args: argparse.Namespace) -> tuple[dict, list[Target]]:
    if args.quick:
        args.trials, args.max_epochs, args.seeds, args.max_minutes = 9, 3, 1, min(args.max_minutes, 3.0)
    names = [n.strip() for n in (args.workloads or ("sgd" if args.quick else "sgd,mlp")).split(",") if n.strip()]
    skipped: list[str] = []
    with tempfile.TemporaryDirectory(prefix="compare-peers-") as scratch:
        workloads = _workloads(names, scratch, skipped)
        ray_init = start_ray(args.cpus)
        print(f"Ray started with num_cpus={args.cpus} in {ray_init:.2f} s (excluded from every wall time)", flush=True)
        try:
            runs = _blocks(workloads, args, skipped)
        finally:
            stop_ray()
    rows = summarise(runs, args)
    cols = ["workload", "tool", "policy", "seeds", "best_val", "test", "epochs", "wall", "wall_over_fastest_peer",
            "epochs_over_full", "best_val_over_full"]
    print_table(f"{args.trials} configurations, R={args.max_epochs}, eta={args.eta}, {args.workers} workers; "
                "medians over seeds", cols, [[r[c] for c in cols] for r in rows])
    if args.plot:
        from .plot import best_so_far_plot

        best_so_far_plot(args.plot, runs)
    ratios = same_rule_ratios(rows)
    print_table("halving over the peer with the same rule", ["workload", "halving", "peer", "wall", "epochs",
                                                              "best val diff"], [list(r.values()) for r in ratios])
    return {"params": vars(args), "ray_init_seconds": ray_init, "skipped": skipped, "summary": rows,
            "same_rule_ratios": ratios, "runs": runs}, []
