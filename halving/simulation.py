"""``halving.simulate``: a policy on recorded or synthetic learning curves, in virtual time."""

from __future__ import annotations

import gc
import time
from typing import Callable

import numpy as np

import policies as P

from .backends.simulated import SimulatedBackend
from .engine import Engine
from .result import Result

__all__ = ["simulate", "resolve_policy"]


def resolve_policy(policy: str | P.Policy, seed: int = 0, **params: object) -> P.Policy:
    """A policy object from a name (with ``params``) or a fresh policy object as given."""
    if isinstance(policy, P.Policy):
        if params:
            raise TypeError(f"policy parameters {sorted(params)} were given with a policy object; pass them to it")
        return policy
    if not isinstance(policy, str):
        raise TypeError(f"policy must be a name or a policies.Policy, but got policy={policy!r}")
    if policy == "hyperband" and "seed" not in params:
        params = {**params, "seed": seed}
    return P.make(policy, **params)


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
    metric.
    """
    arr = np.asarray(curves, dtype=np.float64)
    if arr.ndim != 2 or arr.shape[0] < 1 or arr.shape[1] < 1:
        raise ValueError(f"curves must be a 2-D array (trials x epochs) with at least one of each, but got shape {arr.shape}")
    n_trials, max_epochs = arr.shape
    pol = resolve_policy(policy, seed, **policy_params)
    pol.start(n_trials=n_trials, max_epochs=max_epochs, mode=mode)
    backend = SimulatedBackend(arr, workers=workers, epoch_seconds=epoch_seconds, cut_short=cut_short)
    engine = Engine(
        pol,
        backend,
        n_trials=n_trials,
        max_epochs=max_epochs,
        config_of=_row_config,
        metric=metric,
        mode=mode,
        budget=budget,
    )
    t0 = time.perf_counter()
    # The run allocates millions of small acyclic objects; Python's cyclic collector would
    # rescan them all again and again (a quarter of a million-trial run), so it pauses.
    collecting = gc.isenabled()
    gc.disable()
    try:
        result = engine.run()
    finally:
        if collecting:
            gc.enable()
    result.wall_seconds = time.perf_counter() - t0
    result.virtual_seconds = backend.now()
    return result


def _row_config(trial: int) -> dict:
    return {"row": trial}
