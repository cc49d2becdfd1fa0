"""Plots of benchmark results: best validation accuracy so far against wall seconds, per
tool (compare_peers ``--plot``), and against epochs spent (quality ``--plot``); the regret
plot of ``testfunctions`` draws with ``pyplot()``."""

from __future__ import annotations

from typing import Any

__all__ = ["best_so_far_plot", "pyplot", "quality_plot"]

STYLES = {"halving": "-", "ray_tune": "--", "optuna": ":", "sklearn": "-."}


def pyplot() -> Any | None:
    """matplotlib's pyplot on the Agg backend, or None (saying so) when matplotlib is not installed."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        print("matplotlib is not installed: no plot (pip install -e '.[plot]')")
        return None
    return plt


def quality_plot(path: str, runs: list[dict], budget: int) -> None:
    """One panel per workload: per tool, the median over seeds of the best value at R so far
    against the epochs spent (a seed with no trial at R yet counts as missing)."""
    plt = pyplot()
    names = list(dict.fromkeys(r["workload"] for r in runs if r.get("curve")))
    if plt is None or not names:
        return
    from .quality import label
    from .timing import median

    grid = list(range(1, budget + 1))
    fig, axes = plt.subplots(1, len(names), figsize=(6.5 * len(names), 5), squeeze=False)
    cmap = plt.get_cmap("tab10")
    for ax, wname in zip(axes[0], names):
        groups: dict[str, list[list]] = {}
        for r in runs:
            if r["workload"] == wname and r.get("curve"):
                groups.setdefault(label(r), []).append(r["curve"])
        for k, (name, curves) in enumerate(groups.items()):
            ys = []
            for x in grid:
                at = [max((v for e, v in c if e <= x), default=None) for c in curves]
                ys.append(median(at) if sum(a is not None for a in at) * 2 > len(at) else float("nan"))
            style = "-" if name.startswith("halving") else "--"
            ax.step(grid, ys, where="post", linestyle=style, color=cmap(k % 10), label=f"{name} ({len(curves)})")
        ax.set(xlabel="epochs spent", ylabel="best validation accuracy at R (median over seeds)", title=wname)
        ax.grid(alpha=0.3)
    _save(plt, fig, axes, path)


def best_so_far_plot(path: str, runs: list[dict]) -> None:
    """One panel per workload, for its first seed; scikit-learn reports no per-epoch times (one point)."""
    plt = pyplot()
    if plt is None:
        return
    names = list(dict.fromkeys(r["workload"] for r in runs if r.get("curve")))
    if not names:
        return
    fig, axes = plt.subplots(1, len(names), figsize=(6.5 * len(names), 5), squeeze=False)
    cmap = plt.get_cmap("tab20")
    for ax, wname in zip(axes[0], names):
        seed = min(r["seed"] for r in runs if r["workload"] == wname and r.get("curve"))
        rs = [r for r in runs if r["workload"] == wname and r["seed"] == seed and r.get("curve")]
        for k, r in enumerate(rs):
            ts, vs = zip(*r["curve"])
            label = f"{r['tool']} {r['policy']}"
            if len(ts) == 1:
                ax.plot(ts, vs, marker="*", markersize=12, linestyle="none", color=cmap(k % 20), label=label)
            else:
                ax.step(list(ts) + [r["wall"]], list(vs) + [vs[-1]], where="post", linestyle=STYLES[r["tool"]],
                        color=cmap(k % 20), label=label)
        ax.set(xscale="log", xlabel="wall seconds (log)", ylabel="best validation accuracy so far",
               title=f"{wname}, seed {seed}")
        ax.grid(alpha=0.3)
    _save(plt, fig, axes, path)


def _save(plt: Any, fig: Any, axes: Any, path: str) -> None:
    """The legend on the last panel, then the PNG."""
    axes[0][-1].legend(fontsize=7, loc="lower right")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    print(f"wrote {path}")
