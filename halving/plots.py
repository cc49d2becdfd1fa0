"""Plots (matplotlib, in the optional ``plot`` extra).

Both functions save a PNG and return the matplotlib ``Figure`` (closed to
pyplot, still readable): every trial's curve is a ``Line2D`` whose gid is
``trial-N``, every kind of decision a scatter whose gid is the kind.
"""

from __future__ import annotations

import os
from typing import Any

import numpy as np

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
_FATES = {TrialState.COMPLETED: "finished", TrialState.STOPPED: "stopped", TrialState.PAUSED: "paused",
          TrialState.FAILED: "failed", TrialState.RUNNING: "running", TrialState.PENDING: "pending"}

# Decision kinds: marker shape by kind, so a pause under a promotion at the same point shows both.
# Colour by kind too; a kind decided by several rules (median and trial-timeout stops) takes
# the next colour of its own list for each.
_MARKERS = {"pause": ("o", 34, "none"), "promotion": ("^", 30, None), "stop": ("x", 26, None),
            "complete": ("*", 80, None), "failed": ("X", 46, None)}
_KIND_COLOURS = {"pause": ("tab:blue", "tab:cyan"), "promotion": ("tab:green", "tab:olive"),
                 "stop": ("tab:purple", "black", "tab:brown", "tab:pink"), "complete": ("goldenrod",),
                 "failed": ("tab:red",)}


def plot_curves(result: Result, path: str | os.PathLike) -> Any:
    """Every trial's learning curve coloured by its fate (a trial with one report as a point),
    each pause, promotion, stop and completion marked with its reason, rung epochs dotted."""
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(10, 5.5))
    curves = _curves(result)
    handles = _draw_curves(ax, result, curves)
    handles += _draw_decisions(ax, result, curves)
    handles += _draw_rungs(ax, result)
    ax.set_xlabel("epoch")
    ax.set_ylabel(f"{result.metric} ({result.mode})")
    silent = sum(1 for t, s in result.states.items() if s is TrialState.FAILED and t not in curves)
    note = f"; {silent} failed before reporting" if silent else ""
    ax.set_title(f"{result.policy}: {len(curves)} trials{note}")
    ax.legend(handles=handles, loc="upper left", bbox_to_anchor=(1.01, 1.0), fontsize=7, frameon=False)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return fig


def _curves(result: Result) -> dict[int, tuple[np.ndarray, np.ndarray]]:
    """Per trial, its epochs and values in epoch order."""
    table = result.table()
    trial = table.column("trial").to_numpy()
    epoch = table.column("epoch").to_numpy()
    value = table.column(result.metric).to_numpy()
    order = np.lexsort((epoch, trial))
    trial, epoch, value = trial[order], epoch[order], value[order]
    cuts = np.flatnonzero(np.diff(trial)) + 1
    return {int(t[0]): (e, v) for t, e, v in zip(np.split(trial, cuts), np.split(epoch, cuts), np.split(value, cuts))
            if len(t)}


def _draw_curves(ax: Any, result: Result, curves: dict) -> list:
    from matplotlib.lines import Line2D

    counts: dict[TrialState, int] = {}
    for t in sorted(curves, key=lambda t: t == result.best_trial):  # the best last: on top
        epochs, values = curves[t]
        state = result.states.get(t, TrialState.STOPPED)
        counts[state] = counts.get(state, 0) + 1
        best = t == result.best_trial
        # A single report is a point: a line through one point draws nothing.
        ax.plot(epochs, values, color=_COLOURS[state], gid=f"trial-{t}", alpha=0.95 if best else 0.45,
                linewidth=2.2 if best else 0.9, marker="o" if len(epochs) == 1 else None, markersize=3,
                zorder=4 if best else 2)
    handles = [Line2D([], [], color=_COLOURS[s], label=f"{_FATES[s]} ({n})") for s, n in counts.items()]
    if result.best_trial in curves:
        epochs, values = curves[result.best_trial]
        ax.annotate(f"best: trial {result.best_trial}", (epochs[-1], values[-1]), xytext=(-6, 8),
                    textcoords="offset points", ha="right", fontsize=8)
    return handles


def _decision_points(result: Result, curves: dict) -> dict[tuple[str, str], list]:
    """``(kind, rule) -> [(epoch, value), ...]`` for every decision taken at a reported epoch."""
    points: dict[tuple[str, str], list] = {}
    kinds = [(d.action.value, d) for d in result.decisions if d.action.value != "continue"]
    kinds += [("promotion", d) for d in result.promotions]
    for kind, d in kinds:
        epochs, values = curves.get(d.trial, (np.zeros(0), np.zeros(0)))
        at = np.flatnonzero(epochs == d.epoch)
        if d.reason.rule == "failed" or not len(at):  # a failure is drawn at its last report below
            continue
        points.setdefault((kind, d.reason.rule), []).append((d.epoch, values[at[0]]))
    for t, state in result.states.items():
        if state is TrialState.FAILED and t in curves:
            points.setdefault(("failed", "failed"), []).append((curves[t][0][-1], curves[t][1][-1]))
    return points


def _draw_decisions(ax: Any, result: Result, curves: dict) -> list:
    points = _decision_points(result, curves)
    handles = []
    for kind, (marker, size, face) in _MARKERS.items():
        rules = sorted(rule for k, rule in points if k == kind)
        for i, rule in enumerate(rules):
            xy = points[(kind, rule)]
            colour = _KIND_COLOURS[kind][i % len(_KIND_COLOURS[kind])]
            paint = {"color": colour} if marker == "x" else {"facecolors": face or colour, "edgecolors": colour}
            handles.append(ax.scatter([p[0] for p in xy], [p[1] for p in xy], marker=marker, s=size, linewidths=1.0,
                                      zorder=5, gid=kind, label=f"{kind}: {rule} ({len(xy)})", **paint))
    return handles


def _draw_rungs(ax: Any, result: Result) -> list:
    from .summaries import rung_table

    epochs = [row["epoch"] for row in rung_table(result)]
    for epoch in epochs:
        ax.axvline(epoch, color="black", linestyle=":", linewidth=0.6, zorder=1)
    if len(epochs) >= 2 and max(result.max_epochs, epochs[-1]) >= 9 * epochs[0]:
        # Geometric rungs (1, 3, 9, 27) crowd the left of a linear axis: where most trials end.
        ticks = sorted({*epochs, result.max_epochs})
        ax.set_xscale("log")
        ax.set_xticks(ticks, [str(t) for t in ticks])
        ax.minorticks_off()
    from matplotlib.lines import Line2D

    return [Line2D([], [], color="black", linestyle=":", linewidth=0.6, label="rung")] if epochs else []


_STYLES = ("-", "--", "-.", ":")
_POLICY_MARKERS = ("o", "s", "^", "D", "v", "P", "X", "*")


def plot_best_so_far(results: list[tuple[str, int, Result]], path: str | os.PathLike) -> Any:
    """Best value at max_epochs so far against epochs used, one line per policy and seed.

    Policies often find the same best after similar epochs, so their lines coincide: each
    policy has its own colour and marker (at each improvement), each seed its own line
    style, and each line drawn is thinner than the one before, leaving a rim of it visible.
    """
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(9, 5.5))
    names = list(dict.fromkeys(name for name, _, _ in results))
    seeds = list(dict.fromkeys(seed for _, seed, _ in results))
    step = min(0.7, 4.0 / max(len(results) - 1, 1))  # thick enough to see, never a band
    widest = 1.0 + step * max(len(results) - 1, 0)
    for i, (name, seed, result) in enumerate(results):
        xs, ys = _best_so_far(result)
        k = names.index(name)
        label = f"{name} (seed {seed})"
        label += f": {ys[-1]:.4g} after {xs[-1]} epochs" if ys else ": no trial reached max epochs"
        ax.step(xs, ys, where="post", color=f"C{k % 10}", linestyle=_STYLES[seeds.index(seed) % len(_STYLES)],
                linewidth=widest - step * i, alpha=0.85, marker=_POLICY_MARKERS[k % len(_POLICY_MARKERS)],
                markevery=_improvements(ys), markersize=6, zorder=2 + i, gid=f"{name}-seed{seed}", label=label)
    ends = [line.get_xdata()[-1] for line in ax.get_lines() if len(line.get_xdata())]
    if ends and max(ends) >= 10 * min(line.get_xdata()[0] for line in ax.get_lines() if len(line.get_xdata())):
        ax.set_xscale("log")  # a policy that stops early ends where an exhaustive one has barely begun
    ax.set_xlabel("epochs used")
    ax.set_ylabel(f"best {results[0][2].metric} at max epochs" if results else "best")
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return fig


def _best_so_far(result: Result) -> tuple[list[int], list[float]]:
    table = result.table().sort_by("time")
    xs: list[int] = []
    ys: list[float] = []
    best = None
    better = (lambda a, b: a > b) if result.mode == "max" else (lambda a, b: a < b)
    for i, (e, v) in enumerate(zip(table.column("epoch").to_pylist(), table.column(result.metric).to_pylist())):
        if e == result.max_epochs and (best is None or better(v, best)):
            best = v
        if best is not None:
            xs.append(i + 1)
            ys.append(best)
    return xs, ys


def _improvements(ys: list[float]) -> list[int]:
    """Indexes where the best so far changes, and the last: where the markers go."""
    marks = [i for i in range(len(ys)) if i == 0 or ys[i] != ys[i - 1]]
    return marks + [len(ys) - 1] if ys and marks[-1] != len(ys) - 1 else marks
