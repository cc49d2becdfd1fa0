"""halving through its public API: ``halving.tune`` on a workload, and
``halving.sklearn.HalvingSearchCV`` on a search workload."""

from __future__ import annotations

import os
import tempfile
import time
from typing import Any

import halving
import policies

from ..workloads import SearchWorkload, Workload
from . import Outcome

__all__ = ["policy_argument", "run", "run_search", "sampler_argument"]

DEFAULT_ETA = 3


def sampler_argument(sampler: str) -> dict[str, Any]:
    """The keyword ``tune()`` gets for ``sampler``: none for "random" (its default), else
    ``sampler=``; a name this halving's ``tune()`` does not know is refused with the ones it does."""
    if sampler == "random":
        return {}
    try:
        from halving.samplers import SAMPLERS
    except ImportError:
        raise ValueError(f"sampler {sampler!r}: this halving's tune() has no sampler= setting (it samples at "
                         "random only); run with --samplers random") from None
    if sampler not in SAMPLERS:
        raise ValueError(f"sampler {sampler!r} is not one of this halving's samplers: {', '.join(SAMPLERS)}")
    return {"sampler": sampler}


def policy_argument(name: str, eta: int, seed: int) -> str | policies.Policy:
    """The ``policy=`` of ``tune()``: the name when its defaults are wanted, else a policy object."""
    if eta == DEFAULT_ETA:
        return name
    params: dict[str, Any] = {"eta": eta}
    if name == "hyperband":
        params["seed"] = seed
    return policies.make(name, **params)


def _trainable(w: Workload):  # noqa: ANN202 - a function trainable
    def train(config: dict) -> None:
        state = w.start(config)
        epoch = 0
        while True:  # halving grants epochs and ends the trial inside report()
            epoch += 1
            halving.report(**w.epoch(state, epoch))

    return train


def run(w: Workload, policy: str, *, trials: int, max_epochs: int, workers: int, seed: int, eta: int = DEFAULT_ETA,
        configs: list[dict] | None = None, keep_events: bool = False, budget: int | None = None,
        sampler: str = "random") -> Outcome:
    """``halving.tune`` of ``w``: halving samples ``trials`` configurations itself.

    ``budget`` is tune()'s cap on the epochs of all trials together; ``sampler`` how it
    samples (see ``sampler_argument``). ``configs``, when given, are the configurations the peers get; halving's best
    trial is checked against them (the same sampling, by index). ``wall`` is the
    whole ``tune()`` call (starting its workers included); ``extra["engine_wall"]``
    is ``result.wall_seconds``, the engine loop alone; ``table`` is ``result.table()``.
    """
    with tempfile.TemporaryDirectory(prefix="bench-halving-") as d:
        start = time.time()
        t0 = time.perf_counter()
        result = halving.tune(_trainable(w), w.space, metric=w.metric, mode=w.mode,
                              policy=policy_argument(policy, eta, seed), max_epochs=max_epochs, trials=trials,
                              workers=workers, seed=seed, budget=budget, run_dir=os.path.join(d, "run"),
                              **sampler_argument(sampler))
        wall = time.perf_counter() - t0
    if configs is not None and result.best_trial is not None:
        expected = configs[result.best_trial]
        if {k: result.best_config[k] for k in expected} != expected:
            raise RuntimeError(f"halving's trial {result.best_trial} ran {result.best_config}, "
                               f"not configuration {result.best_trial} of the peers, {expected}")
    table = result.table()
    cols = table.to_pydict()
    names = [c for c in cols if c not in ("trial", "epoch", "time", "worker")]
    rows = list(zip(cols["trial"], cols["epoch"], cols["time"], *(cols[c] for c in names)))
    finals = [(tr, dict(zip(names, vals))) for tr, ep, _, *vals in rows if ep == max_epochs]
    events = [(tm - start, tr, ep, dict(zip(names, vals))) for tr, ep, tm, *vals in rows] if keep_events else []
    return Outcome("halving", policy, wall, int(result.epochs_used), finals, events,
                   {"engine_wall": result.wall_seconds,
                    "round_trips": (result.backend_stats or {}).get("round_trips")}, table)


def run_search(w: SearchWorkload, policy: str, *, seed: int, split: tuple, cv: Any, workers: int,
               run_root: str) -> dict[str, Any]:
    """``HalvingSearchCV`` on a search workload: best score, test score, training work, wall."""
    from halving.sklearn import HalvingSearchCV

    X_tr, X_te, y_tr, y_te = split
    search = HalvingSearchCV(w.ours, w.space, policy=policy, n_candidates=w.n, max_epochs=w.R, cv=cv,
                             random_state=seed, workers=workers, run_dir=run_root)
    t0 = time.perf_counter()
    search.fit(X_tr, y_tr)
    wall = time.perf_counter() - t0
    return {"best": search.best_score_, "test": search.score(X_te, y_te), "work": search.resources_used_,
            "wall": wall, "refit": search.refit_time_, "loop": search.result_.wall_seconds,
            "n_candidates": search.n_candidates_, "n_resources": search.n_resources_,
            "params": search.cv_results_["params"]}
