"""Curve-aware promotion (``asha-curve``) against ASHA at equal budget, on every curve set
of ``benchmarks.curve_sets``: regret of the best trial found, mean and worst case.

For each curve set, seed (a permutation of the trials' order) and worker count, ASHA
runs first with no budget; its epochs trained are then the budget of every policy in
the row (ASHA included), so all spend the same total epochs. Regret is the best final
value in the table minus the final value of the best trial a policy found, in the
metric's better direction (0 = found the best); a run that completes no trial within
the budget counts the worst final value of the table. Figures per set and policy: mean
and worst regret, and paired with ASHA on the same permutation and workers: how often
worse, better or equal, and the worst difference, also in units of the spread (standard
deviation) of the set's final values, so sets compare. Nothing is timed.
"""

from __future__ import annotations

import argparse

import numpy as np

import halving

from . import curve_sets
from .results import Target
from .table import print_table

BASE = "asha"


def add_arguments(ap: argparse.ArgumentParser) -> None:
    ap.add_argument("--sets", default=",".join(curve_sets.CURVE_SETS), help="comma-separated curve sets")
    ap.add_argument("--trials", type=int, default=243)
    ap.add_argument("--recorded-trials", type=int, default=81, help="configurations of a recorded set (mlp: slow)")
    ap.add_argument("--max-epochs", type=int, default=27)
    ap.add_argument("--eta", type=int, default=3)
    ap.add_argument("--min-epochs", default="1,3", help="first rungs to compare (comma-separated): with 1, "
                    "the first rung has one point and ranks by value in both policies")
    ap.add_argument("--seeds", type=int, default=20, help="trial-order permutations per set")
    ap.add_argument("--workers", default="1,4,16", help="comma-separated worker counts")
    ap.add_argument("--kappas", default="1.0", help="asha-curve confidence bounds to compare (comma-separated)")
    ap.add_argument("--quick", action="store_true", help="81 trials, 4 seeds, workers 1,4, generated sets only")


def _policies(args: argparse.Namespace, min_epochs: int) -> dict[str, dict]:
    out = {BASE: {"eta": args.eta, "min_epochs": min_epochs}}
    for kappa in args.kappas.split(","):
        out[f"asha-curve k={float(kappa):g}"] = {"eta": args.eta, "min_epochs": min_epochs, "kappa": float(kappa)}
    return out


def _regret(result: halving.Result, finals: np.ndarray, sign: float) -> tuple[float, bool]:
    best = float(np.max(sign * finals))
    if result.best_value is None:
        return best - float(np.min(sign * finals)), False
    return best - sign * result.best_value, True


def _one_set(name: str, args: argparse.Namespace, workers: list[int], min_epochs: int) -> dict:
    policies = _policies(args, min_epochs)
    entry = curve_sets.CURVE_SETS[name]
    n = args.recorded_trials if entry.recorded else args.trials
    curves, mode = curve_sets.make(name, n, args.max_epochs, 0)
    sign = 1.0 if mode == "max" else -1.0
    finals = curves[:, -1]
    spread = float(np.std(finals)) or 1.0
    regrets: dict[str, list[float]] = {p: [] for p in policies}
    epochs: dict[str, list[int]] = {p: [] for p in policies}
    empty: dict[str, int] = {p: 0 for p in policies}
    for seed in range(args.seeds):
        order = np.random.default_rng(seed).permutation(n)
        table = curves[order]
        for w in workers:
            budget = None
            for label, params in policies.items():
                policy = BASE if label == BASE else "asha-curve"
                result = halving.simulate(table, policy=policy, mode=mode, workers=w, seed=seed, budget=budget,
                                          **params)
                if budget is None:
                    budget = result.epochs_used  # ASHA's whole run: every policy's budget in this row
                r, found = _regret(result, finals, sign)
                regrets[label].append(r)
                epochs[label].append(result.epochs_used)
                empty[label] += not found
    base = np.array(regrets[BASE])
    rows = []
    for label in policies:
        mine = np.array(regrets[label])
        diff = mine - base
        rows.append({
            "set": name, "policy": label, "min_epochs": min_epochs, "trials": n, "mode": mode, "runs": len(mine),
            "mean_regret": float(mine.mean()), "worst_regret": float(mine.max()),
            "mean_ratio_to_asha": None if base.mean() == 0 else float(mine.mean() / base.mean()),
            "worse": int((diff > 1e-12).sum()), "better": int((diff < -1e-12).sum()),
            "worst_diff": float(diff.max()), "worst_diff_in_spread": float(diff.max() / spread),
            "mean_diff_in_spread": float(diff.mean() / spread), "final_spread": spread,
            "mean_epochs": float(np.mean(epochs[label])), "none_completed": empty[label],
        })
    return {"rows": rows, "note": entry.note}


def run(args: argparse.Namespace) -> tuple[dict, list[Target]]:
    if args.quick:
        args.trials, args.seeds, args.workers = 81, 4, "1,4"
        args.sets = ",".join(s for s in args.sets.split(",") if not curve_sets.CURVE_SETS[s].recorded)
    workers = [int(w) for w in args.workers.split(",")]
    if not workers or min(workers) < 1:
        raise ValueError(f"--workers must be positive counts, but got {args.workers!r}")
    sets = args.sets.split(",")
    unknown = [s for s in sets if s not in curve_sets.CURVE_SETS]
    if unknown:
        raise ValueError(f"unknown curve set {unknown[0]!r}: choose from {', '.join(curve_sets.CURVE_SETS)}")
    rows, notes, skipped = [], {}, {}
    for name in sets:
        for min_epochs in [int(m) for m in str(args.min_epochs).split(",")]:
            try:
                out = _one_set(name, args, workers, min_epochs)
            except (ImportError, FileNotFoundError) as exc:  # a workload package or a trained table missing
                skipped[name] = str(exc)
                print(f"{name}: skipped ({exc})", flush=True)
                break
            rows.extend(out["rows"])
            notes[name] = out["note"]
            print(f"{name} min_epochs={min_epochs}: done", flush=True)
    print_table(f"regret at ASHA's budget, R={args.max_epochs}, eta={args.eta}, {args.seeds} permutations x "
                f"workers {args.workers}",
                ["set", "r", "policy", "mean regret", "worst", "mean/ASHA", "worse", "better", "worst diff (spread)"],
                [[r["set"], r["min_epochs"], r["policy"], f"{r['mean_regret']:.4g}", f"{r['worst_regret']:.4g}",
                  "-" if r["mean_ratio_to_asha"] is None else f"{r['mean_ratio_to_asha']:.3g}", r["worse"],
                  r["better"], f"{r['worst_diff_in_spread']:.3g}"] for r in rows])
    curve_rows = [r for r in rows if r["policy"] != BASE]
    summary = {}
    for label in {r["policy"] for r in curve_rows}:
        mine = [r for r in curve_rows if r["policy"] == label]
        worst = max(mine, key=lambda r: r["worst_diff_in_spread"])
        summary[label] = {
            "worst_diff_in_spread": worst["worst_diff_in_spread"], "worst_set": worst["set"],
            "worst_mean_ratio": max((r["mean_ratio_to_asha"] for r in mine if r["mean_ratio_to_asha"] is not None),
                                    default=None),
            "sets_better_on_mean": sum(r["mean_diff_in_spread"] < 0 for r in mine),
            "sets_worse_on_mean": sum(r["mean_diff_in_spread"] > 0 for r in mine),
            "runs_worse": sum(r["worse"] for r in mine), "runs_better": sum(r["better"] for r in mine),
            "runs": sum(r["runs"] for r in mine),
        }
    print(summary)
    return {"params": vars(args), "rows": rows, "sets": notes, "skipped": skipped, "summary": summary}, []
