"""halving's search with the workload trained in this process: ``halving.simulate`` with a
curve function that trains each configuration, one epoch when asked, and keeps its model.

The training is the workload's own (the same models, data and epochs as under
``halving.tune``); only the scheduling is virtual: ``workers`` simulated workers, one time
unit per epoch. A run is therefore exactly repeatable for its seed, where Ray's report order
varies with timing, so many seeds cost minutes and a difference between samplers is the
samplers', not the machine's. It is not a replay of a Ray run: there, epochs of different
configs take different times, and the order of reports (which ASHA's promotions and a
learning sampler's proposals follow) differs. A configuration's curve is a pure function of
it (the workloads seed their models and shuffling), so two trials with the same
configuration share one model.
"""

from __future__ import annotations

import json
import time
from typing import Any

import halving

from ..workloads import ModelWorkload
from . import Outcome, one_thread

__all__ = ["run"]


def _key(config: dict) -> str:
    return json.dumps(config, sort_keys=True, default=repr)


def run(w: ModelWorkload, policy: Any, *, trials: int, max_epochs: int, workers: int, seed: int, eta: int,
        budget: int, sampler: str = "random") -> Outcome:
    """``halving.simulate(policy, sampler, budget)`` on ``w``: ``finals`` are the metrics at R
    of every trial that reached it, ``extra["trials_started"]`` how many trials it sampled and
    ``extra["configs"]`` the configurations of the finals."""
    models: dict[str, tuple[Any, list[dict[str, float]]]] = {}

    def curve(config: dict, epoch: int) -> float:
        key = _key(config)
        state, metrics = models.get(key) or models.setdefault(key, (w.start(config), []))
        while len(metrics) < epoch:
            metrics.append(w.epoch(state, len(metrics) + 1))
        return metrics[epoch - 1][w.metric]

    kw = {"eta": eta} if isinstance(policy, str) else {}
    with one_thread(w):
        t0 = time.perf_counter()
        result = halving.simulate(curve, space=w.space, trials=trials, max_epochs=max_epochs, mode=w.mode,
                                  policy=policy, sampler=sampler, workers=workers, seed=seed, budget=budget,
                                  metric=w.metric, **kw)
        wall = time.perf_counter() - t0
    cols = result.table().to_pydict()
    reached = sorted({t for t, e in zip(cols["trial"], cols["epoch"]) if e == max_epochs})
    finals = [(t, models[_key(result.configs[t])][1][max_epochs - 1]) for t in reached]
    extra = {"trials_started": len(result.configs), "configs": {t: result.configs[t] for t in reached}}
    return Outcome("halving", policy if isinstance(policy, str) else policy.name, wall, int(result.epochs_used),
                   finals, [], extra, result.table())
