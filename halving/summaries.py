"""Summaries of a result for people: leaderboard, rungs, comparison rows."""

from __future__ import annotations


import numpy as np

import policies as P

from .result import Result

__all__ = ["leaderboard", "rung_table", "compare_row"]


def _last_values(result: Result) -> dict[int, tuple[int, float]]:
    table = result.table()
    trials = table.column("trial").to_numpy()
    epochs = table.column("epoch").to_numpy()
    values = table.column(result.metric).to_numpy()
    out: dict[int, tuple[int, float]] = {}
    for t, e, v in zip(trials.tolist(), epochs.tolist(), values.tolist()):
        out[t] = (e, v)
    return out


def leaderboard(result: Result, top: int = 10) -> list[dict]:
    """Trials ranked by how far they got, then by their last value."""
    last = _last_values(result)
    sign = P.Direction(result.mode).sign
    order = sorted(last, key=lambda t: (-last[t][0], -sign * last[t][1], t))
    rows = []
    for t in order[:top]:
        state = result.states.get(t)
        rows.append({"trial": t, "epochs": last[t][0], "value": last[t][1],
                     "state": state.value if state else "?", "config": result.configs.get(t)})
    return rows


def rung_table(result: Result) -> list[dict]:
    """For each epoch where some trial paused or was judged: how many reached it, best, median."""
    epochs = sorted({d.epoch for d in result.decisions if d.reason.rung is not None})
    if not epochs:
        return []
    table = result.table()
    e = table.column("epoch").to_numpy()
    v = table.column(result.metric).to_numpy()
    best = np.max if result.mode == "max" else np.min
    rows = []
    for epoch in epochs:
        vals = v[e == epoch]
        if len(vals):
            rows.append({"epoch": int(epoch), "trials": int(len(vals)), "best": float(best(vals)),
                         "median": float(np.median(vals))})
    return rows


def compare_row(result: Result, policy: str, seed: int, test_metric: str | None) -> dict:
    test_value = None
    if result.best_trial is not None:
        name = test_metric or (f"test_{result.metric[4:]}" if result.metric.startswith("val_") else None)
        table = result.table()
        if name and name in table.column_names:
            mask = np.asarray(table.column("trial").to_numpy() == result.best_trial)
            vals = [v for v, m in zip(table.column(name).to_pylist(), mask) if m]
            test_value = vals[-1] if vals else None
    return {"policy": policy, "seed": seed, "best_value": result.best_value, "test_value": test_value,
            "epochs_used": result.epochs_used, "wall_seconds": round(result.wall_seconds, 3),
            "best_trial": result.best_trial, "run_dir": result.run_dir}
