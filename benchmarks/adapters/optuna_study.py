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

import time
from typing import Any

from ..workloads import Workload
from . import Outcome
from . import one_thread as limit_threads  # run() has a one_thread flag

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

    with limit_threads(w, one_thread):
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


def distributions(spec: dict) -> tuple[dict[str, Any], dict[str, Any]]:
    """Our space as Optuna distributions, and its constants.

    ``loguniform``/``uniform`` -> ``FloatDistribution(log=...)``, ``randint(low, high)`` ->
    ``IntDistribution(low, high - 1)`` (ours excludes ``high``), ``choice`` ->
    ``CategoricalDistribution``. Normal priors and ``q`` variants have no counterpart here.
    """
    from optuna.distributions import CategoricalDistribution, FloatDistribution, IntDistribution

    from halving.space import Categorical, Float, Integer, Space, Uniform

    sp = Space.from_spec(spec)
    out: dict[str, Any] = {}
    for name, d in sp.dimensions.items():
        if isinstance(d, Float) and isinstance(d.prior, Uniform) and d.q is None:
            out[name] = FloatDistribution(d.prior.low, d.prior.high, log=d.prior.log)
        elif isinstance(d, Integer):
            out[name] = IntDistribution(d.low, d.high - 1)
        elif isinstance(d, Categorical):
            out[name] = CategoricalDistribution(list(d.values))
        else:
            raise ValueError(f"parameter {name!r}: {d!r} has no Optuna distribution in this benchmark")
    return out, sp.constants


def run_sampled(w: Workload, *, budget: int, max_epochs: int, eta: int, seed: int) -> Outcome:
    """Optuna's own search: ``TPESampler(seed)`` with ``HyperbandPruner``, trials one at a
    time through ask-and-tell, until ``budget`` epochs are trained (the trial then in
    progress is cut and told PRUNED). BLAS and torch at one thread, like one Ray worker.
    ``extra["curve"]`` is ``(epochs trained so far, best value at R so far)`` at each trial reaching R.
    """
    import optuna

    from . import EpochBudget

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    dists, constants = distributions(w.space)
    R, spent = max_epochs, EpochBudget(budget)
    finals: list[tuple[int, dict]] = []
    curve: list[tuple[int, float]] = []
    sign = 1.0 if w.mode == "max" else -1.0
    with limit_threads(w, True):
        t0 = time.perf_counter()
        # HyperbandPruner draws a trial's bracket from a hash of the study's name: a fixed name
        # (not Optuna's random one) makes a seed's run repeatable
        study = optuna.create_study(study_name=f"quality-seed-{seed}",
                                    direction="maximize" if w.mode == "max" else "minimize",
                                    sampler=optuna.samplers.TPESampler(seed=seed),
                                    pruner=optuna.pruners.HyperbandPruner(min_resource=1, max_resource=R,
                                                                          reduction_factor=eta))
        while not spent.spent:
            trial = study.ask(dists)
            state, value, pruned = w.start({**constants, **trial.params}), None, False
            for epoch in range(1, R + 1):
                if not spent.take():
                    pruned = True  # the budget ends inside this trial
                    break
                m = w.epoch(state, epoch)
                value = m[w.metric]
                trial.report(value, epoch)
                if epoch == R:
                    finals.append((trial.number, m))
                    best = max(sign * f[1][w.metric] for f in finals) * sign
                    curve.append((spent.used, best))
                elif trial.should_prune():
                    pruned = True
                    break
            if pruned or value is None:
                study.tell(trial, state=optuna.trial.TrialState.PRUNED)
            else:
                study.tell(trial, value)
        wall = time.perf_counter() - t0
    return Outcome("optuna", "TPESampler+HyperbandPruner", wall, spent.used, finals, [],
                   {"trials_started": len(study.trials), "curve": curve})
