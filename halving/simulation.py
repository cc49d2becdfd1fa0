"""``halving.simulate``: a policy on recorded or synthetic learning curves, in virtual time."""

from __future__ import annotations

import gc
import os
import time
from typing import Any

import numpy as np

import policies as P

from .backends.simulated import SimulatedBackend
from .engine import Engine
from .experiment import ExperimentSpec, PolicySpec
from .result import Result

__all__ = ["simulate", "replay_policies", "curve_matrix"]


def simulate(
    curves: np.ndarray,
    *,
    policy: str | P.Policy,
    mode: str = "max",
    workers: int = 1,
    epoch_seconds: float | np.ndarray | None = None,
    seed: int = 0,
    budget: int | None = None,
    metric: str = "value",
    cut_short: str = "error",
    **policy_params: object,
) -> Result:
    """Run ``policy`` over ``curves`` (trials x epochs; column j is the metric
    after epoch j+1) with ``workers`` simulated workers. Nothing trains and no
    clock is read: ``result.virtual_seconds`` is the makespan in units of
    ``epoch_seconds``. ``best_trial`` is a row index; ``best_config`` is
    ``{"row": best_trial}``. With ``cut_short="stop"``, NaN marks where a
    recorded curve ends, and a trial asked for epochs past it stops there with
    the reason ``curve-cut-short`` (how ``halving replay`` treats curves of
    trials the recorded run stopped early); otherwise NaN is a non-finite
    metric. A policy object is used as given; a name is built with ``policy_params``.
    """
    arr = np.asarray(curves, dtype=np.float64)
    if arr.ndim != 2 or arr.shape[0] < 1 or arr.shape[1] < 1:
        raise ValueError(f"curves must be a 2-D array (trials x epochs) with at least one of each, but got shape {arr.shape}")
    n_trials, max_epochs = arr.shape
    named = PolicySpec.of(policy, policy_params, seed=seed)
    spec = ExperimentSpec(metric=metric, mode=mode, max_epochs=max_epochs, policy=named, trials=n_trials,
                          budget=budget, workers=workers, seed=seed)
    backend = SimulatedBackend(arr, workers=workers, epoch_seconds=epoch_seconds, cut_short=cut_short)
    engine = Engine(spec, policy if isinstance(policy, P.Policy) else named.build(), backend)
    t0 = time.perf_counter()
    # The run allocates millions of small acyclic objects; Python's cyclic collector would
    # rescan them all again and again (a quarter of a million-trial run), so it pauses.
    collecting = gc.isenabled()
    gc.disable()
    try:
        engine.run()
        # Built while the collector still sleeps: it would rescan every trial's record.
        return engine.result(wall_seconds=time.perf_counter() - t0, virtual_seconds=backend.now(),
                             backend_stats=backend.stats())
    finally:
        if collecting:
            gc.enable()


def curve_matrix(result: Result) -> tuple[np.ndarray, list[int]]:
    """Recorded curves as trials x max_epochs (NaN where never trained), and the trial ids of the rows."""
    table = result.table()
    trials = sorted(result.configs)
    row = {t: i for i, t in enumerate(trials)}
    curves = np.full((len(trials), result.max_epochs), np.nan)
    for t, e, v in zip(table.column("trial").to_pylist(), table.column("epoch").to_pylist(),
                       table.column(result.metric).to_pylist()):
        curves[row[t], e - 1] = v
    return curves, trials


def replay_policies(run_dir: str | os.PathLike, names: list[str], workers: int | None = None) -> list[dict]:
    """Each named policy re-decided on the recorded curves of ``run_dir``, with no training."""
    from .rundir import load_run

    spec, recorded = load_run(run_dir)
    curves, trial_ids = curve_matrix(recorded)
    sign = P.Direction(recorded.mode).sign
    return [_replay_row(simulate(curves, policy=name, mode=recorded.mode, workers=workers or spec.workers or 2,
                                 seed=spec.seed, metric=recorded.metric, cut_short="stop"),
                        name, recorded, trial_ids, sign)
            for name in names]


def _replay_row(result: Result, name: str, recorded: Result, trial_ids: list[int], sign: float) -> dict[str, Any]:
    best, best_recorded = result.best_value, recorded.best_value
    return {
        "policy": name,
        "best_value": best,
        "best_trial": None if result.best_trial is None else trial_ids[result.best_trial],
        "regret": None if best is None or best_recorded is None else sign * (best_recorded - best),
        "epochs_used": result.epochs_used,
        "cut_short": sum(1 for d in result.decisions if d.reason.rule == "curve-cut-short"),
        "recorded_epochs": recorded.epochs_used,
    }
