"""Policies x samplers on multi-fidelity test functions, through the function-driven
simulation: the regret of the incumbent against the epochs used, over many seeds.

For each test function of ``halving.testfunctions`` (Branin, Hartmann-6: the value at
epoch e is the function at fidelity e/R plus noise shrinking as 1/sqrt(e)), each policy
and each sampler, ``--seeds`` runs of ``halving.simulate(fn.curve, ...)`` with
``--trials`` configurations, R = ``--max-epochs`` and ``--workers`` simulated workers;
seed s samples the configs and seeds the noise. At each budget (epochs used, all trials
together) the regret is the true function value of the incumbent (the best trial at R so
far) above the known optimum; a run that has ended keeps its final incumbent, and one
with no trial at R yet has regret inf. The result gives, per budget, the 25th, 50th and
75th percentiles over seeds (order statistics, so inf counts as the worst) and draws
the median with its interquartile band, one panel per function.

``--sampler NAME`` (repeatable; ``random``, ``tpe``, ``bohb``...) is passed to
``halving.simulate`` as ``sampler=``; a name it does not know stops the run before it starts.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path
from typing import Any

import numpy as np

import halving
from halving import testfunctions as T
from halving.experiment import PolicySpec

from .plot import pyplot
from .results import RESULTS_DIR, Target
from .table import print_table

POLICIES = ("asha", "sha", "hyperband", "median", "none")
QUANTILES = (0.25, 0.5, 0.75)
#: Budgets (in full trainings, R epochs each) where the printed table reads the median regret.
TABLE_AT = (3, 10, 30, 100)


def add_arguments(ap: argparse.ArgumentParser) -> None:
    ap.add_argument("--function", action="append", default=None, choices=sorted(T.FUNCTIONS),
                    help="a test function (repeatable; default: all)")
    ap.add_argument("--policy", action="append", default=None,
                    help=f"a policy (repeatable; default: {', '.join(POLICIES)})")
    ap.add_argument("--sampler", action="append", default=None,
                    help="how configs are proposed (repeatable; default: random)")
    ap.add_argument("--seeds", type=int, default=100, help="seeds per function, policy and sampler")
    ap.add_argument("--trials", type=int, default=243, help="configurations per run")
    ap.add_argument("--max-epochs", type=int, default=81, help="R: the epochs of a full training")
    ap.add_argument("--workers", type=int, default=8, help="simulated workers")
    ap.add_argument("--points", type=int, default=60, help="budgets on the regret curve (log-spaced)")
    ap.add_argument("--plot", type=Path, default=None,
                    help="the PNG (default benchmarks/results/testfunctions.png, -quick.png with --quick)")
    ap.add_argument("--quick", action="store_true", help="smoke sizes: 5 seeds, 81 trials")


def _sampler_settings(names: list[str]) -> dict[str, dict[str, Any]]:
    """Each sampler's keyword for ``halving.simulate``; an unknown one stops the run here."""
    out: dict[str, dict[str, Any]] = {}
    for name in names:
        out[name] = {"sampler": name}
        fn = T.branin(max_epochs=1)
        try:  # one tiny run: the sampler's own check names what is wrong
            halving.simulate(fn.curve, space=fn.space, mode=fn.mode, max_epochs=1, trials=1, policy="none",
                             **out[name])
        except (TypeError, ValueError) as exc:
            raise SystemExit(f"--sampler {name}: {exc}") from None
    return out


def _check_policies(names: list[str]) -> None:
    for name in names:
        try:
            PolicySpec.of(name)
        except (TypeError, ValueError) as exc:
            raise SystemExit(f"--policy {name}: {exc}") from None


def _budgets(args: argparse.Namespace) -> np.ndarray:
    """Log-spaced epochs from one full training to all trials trained in full (what "none" uses)."""
    top = args.trials * args.max_epochs
    grid = np.geomspace(args.max_epochs, top, args.points).round().astype(np.int64)
    extra = [k * args.max_epochs for k in TABLE_AT if k * args.max_epochs <= top]
    return np.unique(np.concatenate([grid, extra]))


def _one(fn: T.MultiFidelityFunction, policy: str, extra: dict[str, Any], seed: int,
         args: argparse.Namespace, budgets: np.ndarray) -> tuple[np.ndarray, dict[str, float]]:
    t0 = time.perf_counter()
    result = halving.simulate(fn.curve, space=fn.space, mode=fn.mode, max_epochs=args.max_epochs,
                              trials=args.trials, policy=policy, workers=args.workers, seed=seed, **extra)
    seconds = time.perf_counter() - t0
    regrets = fn.regret_by_budget(result, budgets)
    return regrets, {"seconds": seconds, "epochs_used": result.epochs_used,
                     "curve_fn_calls": result.backend_stats["curve_fn_calls"],
                     "virtual_seconds": result.virtual_seconds,
                     "final_regret": float(regrets[-1])}


def _plain(x: float) -> float | None:
    """JSON has no infinity: a seed with no incumbent yet is null."""
    return None if not np.isfinite(x) else round(float(x), 6)


def _cell(fn: T.MultiFidelityFunction, policy: str, sampler: str, extra: dict[str, Any],
          args: argparse.Namespace, budgets: np.ndarray) -> dict[str, Any]:
    """Every seed of one function x policy x sampler, summarised."""
    curves, runs = [], []
    for seed in range(args.seeds):
        seeded = T.get(fn.name, max_epochs=args.max_epochs, seed=seed)
        regrets, run = _one(seeded, policy, extra, seed, args, budgets)
        curves.append(regrets)
        runs.append(run)
    matrix = np.vstack(curves)  # seeds x budgets
    q = np.quantile(matrix, QUANTILES, axis=0, method="inverted_cdf")
    col = {k: np.array([r[k] for r in runs]) for k in runs[0]}
    return {
        "function": fn.name, "policy": policy, "sampler": sampler, "seeds": args.seeds,
        "regret_quantiles": {f"q{int(100 * p)}": [_plain(v) for v in row] for p, row in zip(QUANTILES, q)},
        "median_final_regret": float(np.quantile(col["final_regret"], 0.5, method="inverted_cdf")),
        "median_epochs_used": float(np.median(col["epochs_used"])),
        "median_curve_fn_calls": float(np.median(col["curve_fn_calls"])),
        "median_virtual_seconds": float(np.median(col["virtual_seconds"])),
        "seconds_total": float(col["seconds"].sum()),
        "median_seconds_per_run": float(np.median(col["seconds"])),
        "trials_per_second": args.trials * args.seeds / float(col["seconds"].sum()),
    }


def _relative(path: Path) -> str:
    """A path as the repository sees it: a result file names no directory of this machine."""
    root = RESULTS_DIR.parent.parent
    try:
        return str(path.resolve().relative_to(root))
    except ValueError:
        return path.name


def _draw(path: Path, cells: list[dict], budgets: np.ndarray, max_epochs: int) -> None:
    plt = pyplot()
    if plt is None:
        return
    from matplotlib import ticker

    names = list(dict.fromkeys(c["function"] for c in cells))
    labels = list(dict.fromkeys((c["policy"], c["sampler"]) for c in cells))
    fig, axes = plt.subplots(1, len(names), figsize=(6.5 * len(names), 5), squeeze=False)
    x = budgets / max_epochs
    for ax, name in zip(axes[0], names):
        for c in (c for c in cells if c["function"] == name):
            k = labels.index((c["policy"], c["sampler"]))
            qs = {key: np.array([np.inf if v is None else v for v in vals], dtype=float)
                  for key, vals in c["regret_quantiles"].items()}
            shown = np.isfinite(qs["q50"])
            colour = f"C{k % 10}"
            ax.plot(x[shown], qs["q50"][shown], color=colour, linestyle=("-", "--", ":", "-.")[k // 10 % 4],
                    label=f"{c['policy']} / {c['sampler']}", gid=f"{name}-{c['policy']}-{c['sampler']}")
            band = np.isfinite(qs["q75"])
            ax.fill_between(x[band], qs["q25"][band], qs["q75"][band], color=colour, alpha=0.15, linewidth=0)
            ax.axvline(c["median_epochs_used"] / max_epochs, color=colour, linestyle=":", linewidth=0.8)
        ax.set(xscale="log", yscale="log", xlabel=f"budget: epochs used / R (R = {max_epochs})",
               ylabel="regret of the incumbent (true value - optimum)",
               title=f"{name}: median and quartiles over {cells[0]['seeds']} seeds")
        for axis in (ax.xaxis, ax.yaxis):  # plain numbers at 1, 2, 5 x 10^k; other ticks unlabelled
            axis.set_major_locator(ticker.LogLocator(subs=(1.0, 2.0, 5.0)))
            axis.set_major_formatter(ticker.FuncFormatter(lambda v, _: f"{v:g}"))
            axis.set_minor_formatter(ticker.NullFormatter())
        ax.grid(alpha=0.3, which="both")
    axes[0][-1].legend(fontsize=8, title="policy / sampler (dotted: median end)", title_fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    print(f"wrote {path}")


def run(args: argparse.Namespace) -> tuple[dict, list[Target]]:
    if args.quick:
        args.seeds, args.trials = min(args.seeds, 5), min(args.trials, 81)
    if min(args.seeds, args.trials, args.max_epochs, args.workers, args.points) < 1:
        raise SystemExit("--seeds, --trials, --max-epochs, --workers and --points must be at least 1")
    functions = args.function or sorted(T.FUNCTIONS)
    policies = args.policy or list(POLICIES)
    _check_policies(policies)
    samplers = _sampler_settings(args.sampler or ["random"])
    budgets = _budgets(args)
    cells = []
    t0 = time.perf_counter()
    for name in functions:
        fn = T.get(name, max_epochs=args.max_epochs)
        for sampler, extra in samplers.items():
            for policy in policies:
                cell = _cell(fn, policy, sampler, extra, args, budgets)
                cells.append(cell)
                print(f"  {name} {policy}/{sampler}: median final regret {cell['median_final_regret']:.4g} after "
                      f"{cell['median_epochs_used']:.0f} epochs; {args.seeds} runs in {cell['seconds_total']:.1f} s",
                      flush=True)
    seconds = time.perf_counter() - t0
    runs = len(cells) * args.seeds
    at = [int(np.flatnonzero(budgets == k * args.max_epochs)[0]) for k in TABLE_AT
          if k * args.max_epochs in budgets]
    rows = [[c["function"], f"{c['policy']}/{c['sampler']}",
             *[c["regret_quantiles"]["q50"][i] for i in at], c["median_final_regret"], c["median_epochs_used"],
             c["median_curve_fn_calls"], c["median_seconds_per_run"]] for c in cells]
    print_table(f"median regret over {args.seeds} seeds at a budget of k full trainings ({args.trials} trials, "
                f"R={args.max_epochs}, {args.workers} workers)",
                ["function", "policy/sampler", *[f"k={k}" for k in TABLE_AT][: len(at)], "final", "epochs",
                 "fn calls", "s/run"], rows)
    print(f"{runs} simulations ({runs * args.trials:,} trials) in {seconds:.1f} s")
    plot = args.plot or RESULTS_DIR / f"testfunctions{'-quick' if args.quick else ''}.png"
    plot.parent.mkdir(parents=True, exist_ok=True)
    _draw(plot, cells, budgets, args.max_epochs)
    figures = {"params": {**vars(args), "plot": _relative(plot)}, "budgets_epochs": budgets.tolist(),
               "quantiles": list(QUANTILES), "cells": cells, "runs": runs, "seconds": seconds,
               "runs_per_second": runs / seconds, "trials_per_second": runs * args.trials / seconds}
    return figures, []
