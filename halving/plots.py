"""Plots (matplotlib, in the optional ``plot`` extra)."""

from __future__ import annotations

import os
from typing import Any

from .errors import UserError
from .result import Result, TrialState

__all__ = ["plot_curves", "plot_best_so_far", "PLOT_HINT"]

PLOT_HINT = "plotting needs matplotlib: pip install 'halving[plot]'"


def _pyplot() -> Any:
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        raise UserError(PLOT_HINT) from None
    return plt


_COLOURS = {TrialState.COMPLETED: "tab:green", TrialState.STOPPED: "tab:grey", TrialState.PAUSED: "tab:blue",
            TrialState.FAILED: "tab:red", TrialState.RUNNING: "tab:orange", TrialState.PENDING: "tab:orange"}


def plot_curves(result: Result, path: str | os.PathLike) -> None:
    """Learning curves coloured by fate, with the rung epochs marked."""
    from .summaries import rung_table

    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(8, 5))
    table = result.table()
    trials = table.column("trial").to_pylist()
    epochs = table.column("epoch").to_pylist()
    values = table.column(result.metric).to_pylist()
    curves: dict[int, list] = {}
    for t, e, v in zip(trials, epochs, values):
        curves.setdefault(t, []).append((e, v))
    for t, pts in curves.items():
        pts.sort()
        state = result.states.get(t, TrialState.STOPPED)
        ax.plot([p[0] for p in pts], [p[1] for p in pts], color=_COLOURS[state], alpha=0.9 if t == result.best_trial
                else 0.35, linewidth=2.0 if t == result.best_trial else 0.8)
    for row in rung_table(result):
        ax.axvline(row["epoch"], color="black", linestyle=":", linewidth=0.6)
    ax.set_xlabel("epoch")
    ax.set_ylabel(result.metric)
    ax.set_title(f"{result.policy}: green finished, grey stopped, red failed; dotted: rungs")
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def plot_best_so_far(results: list[tuple[str, int, Result]], path: str | os.PathLike) -> None:
    """Best value at max_epochs so far against epochs used, one line per policy and seed."""
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(8, 5))
    for name, seed, result in results:
        table = result.table().sort_by("time")
        xs, ys, best = [], [], None
        better = (lambda a, b: a > b) if result.mode == "max" else (lambda a, b: a < b)
        for i, (e, v) in enumerate(zip(table.column("epoch").to_pylist(), table.column(result.metric).to_pylist())):
            if e == result.max_epochs and (best is None or better(v, best)):
                best = v
            if best is not None:
                xs.append(i + 1)
                ys.append(best)
        ax.step(xs, ys, where="post", label=f"{name} (seed {seed})")
    ax.set_xlabel("epochs used")
    ax.set_ylabel(f"best {results[0][2].metric} at max epochs" if results else "best")
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
