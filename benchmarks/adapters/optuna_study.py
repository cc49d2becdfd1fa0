"""Optuna through its public API: a study over the benchmark's configurations, in
this process, with one of its pruners.

Configuration ``k`` is trial number ``k`` (``optimize(n_jobs=1)`` numbers them in
order); the objective trains it, reports the metric after every epoch with
``trial.report(value, epoch)`` and raises ``TrialPruned`` when
``trial.should_prune()`` (so a trial can also be pruned at epoch R). A
``RandomSampler(seed)`` is set but draws nothing: the configurations are given.
In-memory storage; Optuna's logging at WARNING.
"""

from __future__ import annotations

import contextlib
import time
from typing import Any, Iterator

from ..workloads import Workload
from . import Outcome

__all__ = ["PRUNERS", "pruner", "run"]

PRUNERS = ("SuccessiveHalvingPruner", "HyperbandPruner", "MedianPruner")


def pruner(name: str, *, max_epochs: int, eta: int) -> Any:
    import optuna

    if name == "SuccessiveHalvingPruner":
        return optuna.pruners.SuccessiveHalvingPruner(min_resource=1, reduction_factor=eta)
    if name == "HyperbandPruner":
        return optuna.pruners.HyperbandPruner(min_resource=1, max_resource=max_epochs, reduction_factor=eta)
    if name == "MedianPruner":
        return optuna.pruners.MedianPruner()  # 5 startup trials, no warm-up
    raise ValueError(f"unknown Optuna pruner {name!r}: choose from {', '.join(PRUNERS)}")


@contextlib.contextmanager
def _one_thread(w: Workload, on: bool) -> Iterator[None]:
    """BLAS (and torch) at one thread, like one Ray worker."""
    if not on:
        yield
        return
    from threadpoolctl import threadpool_limits

    threads = None
    if w.torch:
        import torch

        threads = torch.get_num_threads()
        torch.set_num_threads(1)
    try:
        with threadpool_limits(1):
            yield
    finally:
        if threads is not None:
            torch.set_num_threads(threads)


def run(w: Workload, pruner_name: str, configs: list[dict], *, max_epochs: int, eta: int, seed: int,
        one_thread: bool = False, keep_events: bool = False) -> Outcome:
    """One study over ``configs``, one trial at a time; ``wall`` is ``create_study`` + ``optimize``.

    ``one_thread=True`` limits BLAS and torch to one thread; otherwise this process's
    BLAS threads stay at their default (so a model's matrix products may use every core).
    """
    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    R = max_epochs
    finals: list[tuple[int, dict]] = []
    events: list[tuple[float, int, int, dict]] = []

    def objective(trial: optuna.Trial) -> float:
        state = w.start(configs[trial.number])
        for epoch in range(1, R + 1):
            m = w.epoch(state, epoch)
            if keep_events:
                events.append((time.perf_counter() - t0, trial.number, epoch, m))
            if epoch == R:
                finals.append((trial.number, m))
            trial.report(m[w.metric], epoch)
            if trial.should_prune():
                raise optuna.TrialPruned()
        return m[w.metric]

    with _one_thread(w, one_thread):
        t0 = time.perf_counter()
        study = optuna.create_study(direction="maximize" if w.mode == "max" else "minimize",
                                    sampler=optuna.samplers.RandomSampler(seed=seed),
                                    pruner=pruner(pruner_name, max_epochs=R, eta=eta))
        study.optimize(objective, n_trials=len(configs), n_jobs=1)
        wall = time.perf_counter() - t0
    trials = study.get_trials(deepcopy=False)
    pruned_at_R = sum(1 for t in trials if R in t.intermediate_values and t.state.name == "PRUNED")
    return Outcome("optuna", pruner_name, wall, sum(len(t.intermediate_values) for t in trials), sorted(finals),
                   events, {"pruned_at_R": pruned_at_R})
