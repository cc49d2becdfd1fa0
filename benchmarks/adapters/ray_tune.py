"""Ray Tune through its public API: a ``Tuner`` over the benchmark's configurations
with one of its schedulers, and its ``ASHAScheduler`` driven directly.

What the benchmarks set on Ray Tune (everything else at its defaults): ``Tuner(
param_space={'i': grid_search(range(n))})`` over the same n configurations, in
order; ``TuneConfig(scheduler, reuse_actors=True, max_concurrent_trials=workers)``;
``RunConfig(storage_path=<a fresh temp dir on local disk: no syncing>, verbose=0,
callbacks=[a counter of results])``; a function trainable calling
``ray.tune.report(metrics)`` once per epoch, without checkpoints (a trial that
HyperBand pauses starts again from scratch when resumed, and those epochs count).
"""

from __future__ import annotations

import logging
import os
import tempfile
import time
from contextlib import contextmanager
from typing import Any, Iterable, Iterator, Sequence

import numpy as np

from ..timing import Lap, clock, lap
from ..workloads import Workload
from . import Outcome

__all__ = ["SCHEDULERS", "replay_asha", "run", "scheduler"]

SCHEDULERS = ("ASHAScheduler", "HyperBandScheduler", "MedianStoppingRule")


def scheduler(name: str, *, metric: str, mode: str, max_t: int, eta: int) -> Any:
    """Ray Tune's scheduler ``name`` with the benchmarks' settings."""
    from ray.tune.schedulers import ASHAScheduler, HyperBandScheduler, MedianStoppingRule

    kw = {"metric": metric, "mode": mode}
    if name == "ASHAScheduler":
        return ASHAScheduler(max_t=max_t, grace_period=1, reduction_factor=eta, **kw)
    if name == "HyperBandScheduler":
        return HyperBandScheduler(max_t=max_t, reduction_factor=eta, **kw)
    if name == "MedianStoppingRule":
        return MedianStoppingRule(time_attr="training_iteration", grace_period=1, min_samples_required=3, **kw)
    raise ValueError(f"unknown Ray Tune scheduler {name!r}: choose from {', '.join(SCHEDULERS)}")


def _trainable(w: Workload, configs: list[dict], max_t: int):  # noqa: ANN202 - a function trainable
    def train(config: dict) -> None:
        from ray import tune

        state = w.start(configs[config["i"]])
        for epoch in range(1, max_t + 1):
            tune.report(w.epoch(state, epoch))

    return train


def _collector(keep: bool):  # noqa: ANN202 - a tune.Callback subclass instance
    from ray import tune

    class Collect(tune.Callback):
        """Counts results and keeps each trial's last one, in the driver (a dict update per result)."""

        def __init__(self) -> None:
            self.n = 0
            self.last: dict[int, dict] = {}
            self.events: list[tuple] = []

        def on_trial_result(self, iteration, trials, trial, result, **info):  # noqa: ANN001, ANN201
            self.n += 1
            self.last[trial.config["i"]] = result
            if keep:
                self.events.append((time.perf_counter(), trial.config["i"], result.get("training_iteration"), result))

    return Collect()


@contextmanager
def _lean(on: bool) -> Iterator[None]:
    """``TUNE_DISABLE_AUTO_CALLBACK_LOGGERS=1`` (no per-trial result files), as a user chasing speed might set."""
    old = os.environ.get("TUNE_DISABLE_AUTO_CALLBACK_LOGGERS")
    quiet = logging.getLogger("ray.tune.analysis.experiment_analysis")
    level = quiet.level
    if on:
        os.environ["TUNE_DISABLE_AUTO_CALLBACK_LOGGERS"] = "1"
        quiet.setLevel(logging.ERROR)  # it warns for every trial that it finds no result file
    try:
        yield
    finally:
        quiet.setLevel(level)
        if on and old is None:
            os.environ.pop("TUNE_DISABLE_AUTO_CALLBACK_LOGGERS", None)
        elif on:
            os.environ["TUNE_DISABLE_AUTO_CALLBACK_LOGGERS"] = old


def run(w: Workload, scheduler_name: str, configs: list[dict], *, max_epochs: int, eta: int, workers: int,
        stop_at_R: bool = False, time_budget_s: float | None = None, lean: bool = False,
        keep: Sequence[str] = ()) -> Outcome:
    """One Ray Tune run of ``w`` over ``configs`` on the running Ray; ``wall`` is ``tuner.fit()``.

    ``keep`` names the metrics to record in ``events`` for every result; ``stop_at_R``
    adds ``stop={"training_iteration": R}``; ``time_budget_s`` is Ray Tune's own guard
    (``extra["timed_out"]`` says whether the run got near it).
    """
    from ray import tune

    sched = scheduler(scheduler_name, metric=w.metric, mode=w.mode, max_t=max_epochs, eta=eta)
    collect = _collector(bool(keep))
    with _lean(lean), tempfile.TemporaryDirectory(prefix="bench-raytune-") as storage:
        tuner = tune.Tuner(
            _trainable(w, configs, max_epochs),
            param_space={"i": tune.grid_search(list(range(len(configs))))},
            tune_config=tune.TuneConfig(scheduler=sched, reuse_actors=True, max_concurrent_trials=workers,
                                        time_budget_s=time_budget_s),
            run_config=tune.RunConfig(storage_path=storage, name="bench", verbose=0, callbacks=[collect],
                                      stop={"training_iteration": max_epochs} if stop_at_R else None),
        )
        t0 = time.perf_counter()
        grid = tuner.fit()
        wall = time.perf_counter() - t0
    names = [w.metric, *[k for k in keep if k != w.metric]]
    finals = [(i, {k: r.get(k) for k in names}) for i, r in sorted(collect.last.items())
              if r.get("training_iteration", 0) >= max_epochs]
    events = [(t - t0, i, it, {k: r.get(k) for k in keep}) for t, i, it, r in collect.events]
    extra = {"errors": grid.num_errors, "trials_seen": len(collect.last),
             "timed_out": time_budget_s is not None and wall >= 0.98 * time_budget_s}
    return Outcome("ray_tune", scheduler_name, wall, collect.n, finals, events, extra)


class _Trial:
    """Stand-in for ``ray.tune.experiment.Trial`` as ``ASHAScheduler`` sees it.

    Its ``on_trial_add``, ``on_trial_result``, ``on_trial_complete`` and
    ``_Bracket.on_result`` read only ``trial.trial_id``; ``tune_controller`` is not
    used on these paths, so ``None`` is passed. The result dict is read for
    ``time_attr`` and ``metric`` only and nothing of it is kept, so one dict is
    updated in place per report (cheaper for Ray than the larger dict Tune builds
    per result). Left out is only what Tune's controller does around the scheduler.
    """

    __slots__ = ("trial_id",)

    def __init__(self, trial_id: str) -> None:
        self.trial_id = trial_id


def replay_asha(rows: Iterable[tuple[int, int, int, float, int]], n_trials: int, *, max_t: int, eta: int,
                seed: int) -> tuple[Lap, list[int]]:
    """Feed a recorded report stream to ``ASHAScheduler`` in this process, timing only its calls.

    ``rows`` are ``(index, trial, epoch, value, admitted)``: ``admitted`` trials are
    added just before the report. Returns the lap and the indices of the reports
    after which the scheduler stopped a trial (``on_trial_complete`` is then called,
    as Tune's controller does for a running trial it stops).
    """
    from ray.tune.schedulers import ASHAScheduler, TrialScheduler

    sched = ASHAScheduler(time_attr="training_iteration", metric="acc", mode="max", max_t=max_t, grace_period=1,
                          reduction_factor=eta)
    trials = [_Trial(f"3f2a9c1e_{j:05d}") for j in range(n_trials)]
    np.random.seed(seed)  # on_trial_add draws a bracket with np.random.choice
    add, on_result, complete = sched.on_trial_add, sched.on_trial_result, sched.on_trial_complete
    STOP = TrialScheduler.STOP
    result = {"training_iteration": 0, "acc": 0.0}
    ends: list[int] = []
    nt = 0
    t0 = clock()
    for i, trial, epoch, value, admit in rows:
        while admit:
            add(None, trials[nt])
            nt += 1
            admit -= 1
        result["training_iteration"] = epoch
        result["acc"] = value
        t = trials[trial]
        if on_result(None, t, result) == STOP:
            complete(None, t, result)
            ends.append(i)
    return lap(t0), ends
