"""``halving.simulate``: a policy on recorded, synthetic or computed learning curves, in virtual time."""

from __future__ import annotations

import gc
import os
import time
from typing import Any, Callable, Mapping

import numpy as np

import policies as P

from .backends.simulated import CurveFunction, FunctionBackend, SimulatedBackend
from .engine import Engine
from .errors import SpecError, SpecTypeError
from .experiment import ExperimentSpec, PolicySpec, SamplerSpec
from .result import Result
from .samplers import Sampler
from .space import Space

__all__ = ["simulate", "replay_policies", "curve_matrix"]


def simulate(
    curves: np.ndarray | Callable[..., Any],
    *,
    policy: str | P.Policy,
    mode: str | None = None,
    workers: int = 1,
    epoch_seconds: float | np.ndarray | Callable[[dict], float] | None = None,
    seed: int = 0,
    budget: int | None = None,
    metric: str = "value",
    cut_short: str = "error",
    space: Space | Mapping[str, Any] | None = None,
    trials: int | None = None,
    max_epochs: int | None = None,
    sampler: str | Sampler | None = None,
    **policy_params: object,
) -> Result:
    """Run ``policy`` with ``workers`` simulated workers on learning curves that are given
    or computed, in virtual time. Nothing trains and no clock is read:
    ``result.virtual_seconds`` is the makespan in units of ``epoch_seconds`` (default 1
    per epoch; a number, one per trial, or with a curve function a function of the config).

    ``curves`` is either

    - a table, trials x epochs (column j is the metric after epoch j+1): ``best_trial``
      is a row index, ``best_config`` is ``{"row": best_trial}``, ``mode`` defaults to
      ``"max"``, and ``space``, ``trials`` and ``max_epochs`` come from its shape; or
    - a function ``curve_fn(config)`` returning the curve of a configuration
      (``max_epochs`` values), or ``curve_fn(config, epoch)`` returning the metric after
      epoch ``epoch`` (1 to ``max_epochs``). Configs are sampled from ``space`` as
      ``tune()`` samples them (``trials`` of them; ``trials=None`` enumerates a grid),
      ``max_epochs`` and ``mode`` are required, and the function is asked only for the
      epochs trials train: early stopping saves calls (``result.backend_stats``
      counts them). ``sampler`` proposes the configs as ``tune()``'s does (``"random"``,
      ``"grid"``, ``"tpe"``, ``"bohb"`` or a ``Sampler``); a table's rows need none.

    With a table and ``cut_short="stop"``, NaN marks where a recorded curve ends, and a
    trial asked for epochs past it stops there with the reason ``curve-cut-short`` (how
    ``halving replay`` treats curves of trials the recorded run stopped early);
    otherwise NaN is a non-finite metric. A policy object is used as given; a name is
    built with ``policy_params``.
    """
    named = PolicySpec.of(policy, policy_params, seed=seed)
    if callable(curves):
        if cut_short != "error":
            raise SpecError(f"cut_short={cut_short!r} marks where a recorded table ends; a curve function's "
                            "NaN is a non-finite metric")
        if space is None or max_epochs is None:
            raise SpecError("a curve function needs space= (where configs are sampled) and max_epochs=")
        source: Any = curves
    else:
        if space is not None or trials is not None or max_epochs is not None:
            raise SpecTypeError(f"space=, trials= and max_epochs= go with a curve function, but curves is not "
                                f"callable ({type(curves).__name__}): a table gives them by its shape")
        source = np.asarray(curves, dtype=np.float64)
        if source.ndim != 2 or source.shape[0] < 1 or source.shape[1] < 1:
            raise ValueError(f"curves must be a 2-D array (trials x epochs) with at least one of each, or a "
                             f"function, but got shape {source.shape}")
        trials, max_epochs = source.shape
        mode = mode or "max"
    # The one place simulate's settings become an experiment: a new setting is one keyword here.
    if sampler is not None and not callable(curves):
        raise SpecTypeError(f"sampler={sampler!r} proposes configs of a space; a table's trials are its rows")
    spec = ExperimentSpec(metric=metric, mode=mode, max_epochs=max_epochs, space=space, policy=named,
                          sampler=None if sampler is None else SamplerSpec.of(sampler), trials=trials,
                          budget=budget, workers=workers, seed=seed)
    if callable(source):  # its signature is read now: a wrong one is refused before anything runs
        backend: SimulatedBackend = FunctionBackend(CurveFunction(source, spec.max_epochs), workers=workers,
                                                    epoch_seconds=epoch_seconds)
    else:
        backend = SimulatedBackend(source, workers=workers, epoch_seconds=epoch_seconds, cut_short=cut_short)
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
