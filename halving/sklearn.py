"""``HalvingSearchCV``: scikit-learn's search-estimator API on halving's early termination.

scikit-learn's ``HalvingRandomSearchCV`` refits every surviving candidate from
scratch at each rung, synchronously. ``HalvingSearchCV`` draws its candidates
the same way (``ParameterSampler``: lists and scipy.stats distributions), or
lets a model sampler (``sampler="tpe"``...) propose them as results come in, then
trains them as halving trials on Ray: each candidate's estimator is trained one
epoch at a time and *continues* across rungs (a promoted candidate resumes from
the state it paused in), under any halving policy (ASHA by default).

An epoch is one ``partial_fit`` pass over the training split, or, for an
estimator without ``partial_fit``, one warm-started ``fit`` that grows a count
parameter (``n_estimators`` or ``max_iter`` with ``warm_start=True``) by a
slice of its final value. Validation is a hold-out split or ``cv`` folds (one
trained copy of the estimator per fold, trained in lockstep).

What is scikit-learn's is scikit-learn's: ``BaseSearchCV`` formats
``cv_results_`` from one outcome per candidate and fold, picks ``best_index_``,
and delegates ``predict``, ``score``... to ``best_estimator_``. Only the
evaluation is halving's: ``fit`` hands the candidates to ``halving.tune`` instead
of fitting each one to the end, and the refit follows the same epoch schedule.

Usage::

    from scipy.stats import loguniform
    from sklearn.linear_model import SGDClassifier
    from halving.sklearn import HalvingSearchCV

    search = HalvingSearchCV(SGDClassifier(), {"alpha": loguniform(1e-6, 1e-1), "loss": ["hinge", "log_loss"]},
                             n_candidates=81, max_epochs=27, random_state=0)
    search.fit(X, y)
    search.best_params_, search.best_score_, search.predict(X_test)
"""

from __future__ import annotations

import builtins
import copy
import dataclasses
import json
import numbers
import re
import shutil
import sys
import tempfile
import threading
import time
import uuid
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

import numpy as np
from sklearn.base import clone, is_classifier
from sklearn.exceptions import ConvergenceWarning, FitFailedWarning
from sklearn.metrics import check_scoring
from sklearn.metrics._scorer import _check_multimetric_scoring, _MultimetricScorer
from sklearn.model_selection import ParameterSampler, ShuffleSplit, StratifiedShuffleSplit, check_cv
from sklearn.model_selection._search import BaseSearchCV
from sklearn.pipeline import Pipeline
from sklearn.utils import _safe_indexing, check_random_state
from sklearn.utils.validation import indexable

import policies as P

from . import space as hspace
from .backends.ray_cluster import Capacity, SharedRef, connect
from .eventlog import iter_events, read_events
from .errors import SpecError
from .experiment import ExperimentSpec, SamplerSpec
from .result import Result, TrialState
from .sklearn_space import ParamSpace
from .tuner import tune

__all__ = ["HalvingSearchCV"]

#: Share of the samples held out for validation when ``cv=None``.
HOLDOUT = 0.2


# --------------------------------------------------------------------------
# The resource: what one epoch of training means for an estimator
# --------------------------------------------------------------------------


@dataclass(frozen=True)
class _Resource:
    """How a candidate trains one epoch.

    ``kind="partial_fit"``: epoch ``e`` is one ``partial_fit`` call on the
    training split; the resource after ``e`` epochs is ``e``.

    ``kind="warm_start"``: the count parameter ``param`` grows to
    ``amount(e) = ceil(e * max_resource / max_epochs)`` after epoch ``e``
    (``max_resource`` is the estimator's own value of ``param``), with
    ``warm_start=True`` so that each ``fit`` continues the last one. When the
    parameter counts the whole model (``cumulative``: ``n_estimators`` of an
    ensemble, ``max_iter`` of histogram gradient boosting), it is set to
    ``amount(e)``; when it caps the iterations of one ``fit`` call (``max_iter``
    of an iterative solver, e.g. ``LogisticRegression``), to the increment
    ``amount(e) - amount(e - 1)``.

    ``final_step``: the estimator is a ``Pipeline`` whose final step is what
    trains by epochs; the steps before it are fit once, at epoch 1, as
    ``Pipeline.fit`` would fit them, and only transform afterwards (refitting
    them at every epoch would cost as much, and a randomised transformer could
    move the features under a model that continues training).
    """

    kind: str
    param: str | None
    warm_key: str | None
    max_resource: int
    max_epochs: int
    cumulative: bool
    final_step: bool = False

    def amount(self, epoch: int) -> int:
        if self.kind == "partial_fit":
            return epoch
        return -(-epoch * self.max_resource // self.max_epochs)

    def prepare(self, estimator: Any) -> Any:
        if self.kind == "warm_start":
            estimator.set_params(**{self.warm_key: True})
        return estimator

    def train(self, estimator: Any, epoch: int, X: Any, y: Any, classes: Any) -> None:
        if self.kind == "warm_start":
            total = self.amount(epoch)
            estimator.set_params(**{self.param: total if self.cumulative else total - self.amount(epoch - 1)})
        if self.final_step:
            estimator, X = _final_and_features(estimator, epoch, X, y)
        if self.kind == "partial_fit":
            if classes is not None:
                estimator.partial_fit(X, y, classes=classes)
            else:
                estimator.partial_fit(X, y)
            return
        # Training in slices is by design: an iterative solver stopped at its slice's
        # max_iter is not a convergence failure of the search.
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            estimator.fit(X, y)

    def describe(self) -> str:
        if self.kind == "partial_fit":
            return "partial_fit"
        return self.param


def _final_and_features(pipeline: Pipeline, epoch: int, X: Any, y: Any) -> tuple[Any, Any]:
    """A pipeline's final step and the features it trains on: the steps before it are
    fit at epoch 1 and only transform afterwards."""
    if len(pipeline.steps) == 1:
        return pipeline.steps[-1][1], X
    head = pipeline[:-1]  # the same step objects: fitting them fits the pipeline's
    return pipeline.steps[-1][1], (head.fit_transform(X, y) if epoch == 1 else head.transform(X))


def _owner(estimator: Any, param: str) -> tuple[Any, str, str]:
    """The (sub-)estimator that owns ``param``, its base name, and its warm_start key."""
    prefix, _, base = param.rpartition("__")
    if not prefix:
        return estimator, base, "warm_start"
    return estimator.get_params()[prefix], base, f"{prefix}__warm_start"


def _cumulative(owner: Any, base: str) -> bool:
    if base == "n_estimators":
        return True
    from sklearn.ensemble import HistGradientBoostingClassifier, HistGradientBoostingRegressor

    return isinstance(owner, (HistGradientBoostingClassifier, HistGradientBoostingRegressor))


def _final(estimator: Any) -> tuple[str, Any] | None:
    """A Pipeline's final step as (name, estimator); None for any other estimator."""
    if not isinstance(estimator, Pipeline) or not estimator.steps:
        return None
    name, step = estimator.steps[-1]
    if step is None or step == "passthrough":
        raise ValueError(f"the Pipeline's final step {name!r} is {step!r}: HalvingSearchCV needs an estimator "
                         f"there to train by epochs")
    return name, step


def _where(estimator: Any, final: tuple[str, Any] | None) -> str:
    if final is None:
        return type(estimator).__name__
    return f"the Pipeline's final step {final[0]!r} ({type(final[1]).__name__})"


def _auto_resource(estimator: Any, final: tuple[str, Any] | None) -> str:
    """resource="auto": partial_fit where the (final) estimator has it, else its
    n_estimators or max_iter with warm_start; otherwise an error that says what to pass."""
    target, prefix = (final[1], final[0] + "__") if final is not None else (estimator, "")
    if hasattr(target, "partial_fit"):
        return "partial_fit"
    params = target.get_params(deep=False)
    count = next((p for p in ("n_estimators", "max_iter") if p in params), None)
    if "warm_start" in params and count is not None:
        return prefix + count
    where = _where(estimator, final)
    if "warm_start" in params:
        counts = [prefix + p for p, v in sorted(params.items())
                  if isinstance(v, numbers.Integral) and not isinstance(v, bool)]
        raise ValueError(f"resource='auto' found no count to grow in {where}: it has warm_start but neither "
                         f"n_estimators nor max_iter. Pass resource='<parameter>' naming the count that a "
                         f"warm_start=True fit continues from" + (f", one of {counts}" if counts else ""))
    raise ValueError(f"{where} cannot train by epochs: it has no partial_fit method and no warm_start parameter, "
                     f"so no resource= value applies (resource='partial_fit' needs partial_fit; "
                     f"resource='{prefix}n_estimators' or '{prefix}max_iter' needs warm_start). Search it with "
                     f"scikit-learn's HalvingRandomSearchCV, or use an estimator that has one of them")


def _resolve_resource(estimator: Any, resource: Any, max_epochs: int) -> _Resource:
    if not isinstance(resource, str):
        raise ValueError(f"resource must be 'auto', 'partial_fit' or the name of a warm-startable count "
                         f"parameter such as 'n_estimators', but got resource={resource!r}")
    final = _final(estimator)
    if resource == "auto":
        resource = _auto_resource(estimator, final)
    if resource == "partial_fit":
        target = final[1] if final is not None else estimator
        if not hasattr(target, "partial_fit"):
            raise ValueError(f"resource='partial_fit', but {_where(estimator, final)} has no partial_fit method")
        return _Resource("partial_fit", None, None, max_epochs, max_epochs, False, final_step=final is not None)
    return _count_resource(estimator, resource, max_epochs, final)


def _count_resource(estimator: Any, resource: str, max_epochs: int, final: tuple[str, Any] | None) -> _Resource:
    name = type(estimator).__name__
    params = estimator.get_params()
    if resource not in params:
        hint = (f" (a Pipeline's step parameters are named '<step>__<parameter>', e.g. "
                f"'{final[0]}__{resource}')" if final is not None and "__" not in resource else "")
        raise ValueError(f"resource={resource!r} is not a parameter of {name}{hint}; its parameters are "
                         f"{sorted(params)}")
    owner, base, warm_key = _owner(estimator, resource)
    if warm_key not in params:
        raise ValueError(f"resource={resource!r} needs {name} to have a {warm_key!r} parameter, to continue "
                         f"training across epochs, but it has none")
    max_resource = params[resource]
    if isinstance(max_resource, bool) or not isinstance(max_resource, numbers.Integral) or max_resource < 1:
        raise ValueError(f"the resource {name}.{resource} must be a positive int (its final value, reached at "
                         f"max_epochs), but got {resource}={max_resource!r}")
    if max_resource < max_epochs:
        raise ValueError(f"{name}.{resource}={max_resource} is smaller than max_epochs={max_epochs}: every "
                         f"epoch must add at least one; raise {resource} or lower max_epochs")
    final_step = final is not None and resource == f"{final[0]}__{base}"
    return _Resource("warm_start", resource, warm_key, int(max_resource), max_epochs, _cumulative(owner, base),
                     final_step=final_step)


def _check_not_searched(resource: _Resource, candidates: list[dict]) -> None:
    searched = {name for params in candidates for name in params}
    for key in (resource.param, resource.warm_key):
        if key is not None and key in searched:
            raise ValueError(f"{key!r} is set by HalvingSearchCV (resource={resource.param!r}) and cannot be in "
                             f"param_distributions")


# --------------------------------------------------------------------------
# The trainable that runs in the Ray workers
# --------------------------------------------------------------------------


@dataclass(frozen=True)
class _Drawn:
    """The candidates ``sampler="random"`` draws up front with ``ParameterSampler``: trial
    ``i``'s config is ``{"candidate": i}``, the walk of a grid of their indices."""

    candidates: list

    @property
    def space(self) -> dict:
        return {"candidate": hspace.grid(list(range(len(self.candidates))))}

    def params(self, config: dict) -> dict:
        return self.candidates[config["candidate"]]

    def listing(self, configs: dict[int, dict]) -> tuple[list[dict], dict[int, int]]:
        """Every candidate drawn (a budget may leave some unstarted), and the trial of each."""
        return self.candidates, {int(cfg["candidate"]): t for t, cfg in configs.items()}


@dataclass(frozen=True)
class _Spec:
    """Everything a worker needs, shipped once per worker with the trainable class.

    ``source`` turns a trial's config into the candidate's parameters. ``data``
    holds ``(X, y, splits)`` in Ray's object store: put there once per fit, not
    pickled per trial. ``scorer`` returns a number, or a dict of them
    (multi-metric); ``rank_metric`` names the one the policy ranks by (None:
    the first).
    """

    key: str
    estimator: Any
    source: _Drawn | ParamSpace
    data: SharedRef
    scorer: Any
    rank_metric: str | None
    resource: _Resource
    classes: Any


# Fold arrays per process, shared by the trials a worker holds (the most recent fit only).
_FOLDS: dict[str, list] = {}
_FOLDS_LOCK = threading.Lock()


def _folds(spec: _Spec) -> list:
    with _FOLDS_LOCK:
        folds = _FOLDS.get(spec.key)
        if folds is None:
            X, y, splits = spec.data.get()
            folds = [_split(X, y, train, val) for train, val in splits]
            _FOLDS.clear()
            _FOLDS[spec.key] = folds
        return folds


def _split(X: Any, y: Any, train: np.ndarray, val: np.ndarray) -> tuple:
    # Indexing copies: the object store's arrays are read-only, the copies are not.
    pick = (lambda a, idx: None if a is None else _safe_indexing(a, idx))
    return pick(X, train), pick(y, train), pick(X, val), pick(y, val)


class _CandidateTrainable:
    """A halving class trainable: one candidate, one estimator per fold.

    ``HalvingSearchCV.fit`` subclasses it with the fit's ``spec``; the trial's
    config is ``{"candidate": index}`` into the candidates drawn up front, or a
    config of the ``ParamSpace`` a model sampler proposes from.
    """

    spec: _Spec

    def setup(self, config: dict) -> None:
        spec = self.spec
        self.params = spec.source.params(config)
        self.folds = _folds(spec)
        self.models = [_fresh(spec.estimator, self.params, spec.resource) for _ in self.folds]
        self.epoch = 0

    def train_epoch(self) -> dict:
        spec = self.spec
        self.epoch += 1
        scores = []
        fit_seconds = score_seconds = 0.0
        for model, (X_train, y_train, X_val, y_val) in zip(self.models, self.folds):
            t0 = time.perf_counter()
            spec.resource.train(model, self.epoch, X_train, y_train, spec.classes)
            t1 = time.perf_counter()
            scores.append(spec.scorer(model, X_val, y_val))
            fit_seconds += t1 - t0
            score_seconds += time.perf_counter() - t1
        out = _score_report(scores, spec.rank_metric)
        out.update(n_resources=spec.resource.amount(self.epoch), fit_time=fit_seconds, score_time=score_seconds)
        return out

    def save(self) -> dict:
        return {"models": self.models, "epoch": self.epoch}

    def restore(self, state: dict) -> None:
        self.models = state["models"]
        self.epoch = state["epoch"]

    def model(self) -> Any:
        return self.models[0] if len(self.models) == 1 else list(self.models)


def _score_report(scores: list, rank_metric: str | None) -> dict:
    """One epoch's fold scores as report metrics: ``score`` (what the policy ranks: the
    mean over folds of the rank metric), ``split<k>_test_<name>`` for every fold and
    scorer (``<name>`` is ``score`` for a single scorer), and ``multimetric``."""
    multi = isinstance(scores[0], dict)
    named = [s if multi else {"score": s} for s in scores]
    key = rank_metric if rank_metric in named[0] else next(iter(named[0]))
    out: dict[str, Any] = {"score": float(np.mean([float(n[key]) for n in named])), "multimetric": multi}
    for k, fold in enumerate(named):
        out.update({f"split{k}_test_{name}": float(value) for name, value in fold.items()})
    return out


def _fresh(estimator: Any, params: dict, resource: _Resource) -> Any:
    return resource.prepare(clone(estimator).set_params(**clone(params, safe=False)))


# --------------------------------------------------------------------------
# What halving recorded, as the outcomes BaseSearchCV formats
# --------------------------------------------------------------------------


@dataclass(frozen=True)
class _Candidate:
    """One candidate as halving recorded it: its state, its reports by epoch, and its
    error when it failed."""

    state: str
    reports: list[dict]
    error: str | None

    @property
    def epochs(self) -> int:
        return int(self.reports[-1]["epoch"]) if self.reports else 0

    def score_at(self, epoch: int, name: str, n_splits: int) -> float:
        report = next((r for r in self.reports if r["epoch"] == epoch), None)
        return np.nan if report is None else _fold_mean(report, name, n_splits)


def _fold_mean(report: dict, name: str, n_splits: int) -> float:
    return float(np.mean([report[f"split{k}_test_{name}"] for k in range(n_splits)]))


def _candidates_of(result: Result, trial_of: dict[int, int], n: int) -> list[_Candidate]:
    """The ``n`` candidates as halving recorded them; ``trial_of``: candidate -> trial."""
    reports: dict[int, list[dict]] = {}
    for row in sorted(result.table().to_pylist(), key=lambda r: r["epoch"]):
        reports.setdefault(row["trial"], []).append(row)
    out = []
    for c in range(n):
        trial = trial_of.get(c)
        state = result.states.get(trial) if trial is not None else None
        error = result.failures.get(trial, "") if state is TrialState.FAILED else None
        # No state: a budget (or error_score="raise") ended the search before the candidate started.
        out.append(_Candidate(state.value if state is not None else "not started", reports.get(trial, []), error))
    return out


def _metric_names(cands: list[_Candidate]) -> tuple[list[str], bool]:
    """The scorers' names as the workers reported them (``["score"]`` for one scorer),
    and whether scoring is multi-metric."""
    row = next((c.reports[0] for c in cands if c.reports), None)
    if row is None:
        return ["score"], False
    names = [k[len("split0_test_"):] for k in row if k.startswith("split0_test_") and row[k] is not None]
    return names, bool(row["multimetric"])


def _fold_outcomes(cand: _Candidate, n_splits: int, names: list[str], multi: bool, error_score: Any) -> list[dict]:
    """``cand`` as BaseSearchCV takes a candidate's fit on each fold: the scores at the
    last epoch it reached; ``error_score`` when it failed, NaN when it never started."""
    fit_time = sum(float(r["fit_time"]) for r in cand.reports) / n_splits
    last = cand.reports[-1] if cand.reports else None
    # The worker times a candidate's folds together: each fold is given an equal share.
    score_time = float(last["score_time"]) / n_splits if last is not None else np.nan
    out = []
    for k in range(n_splits):
        if cand.error is not None:
            scores = {name: float(error_score) for name in names}
        elif last is None:
            scores = {name: np.nan for name in names}
        else:
            scores = {name: float(last[f"split{k}_test_{name}"]) for name in names}
        out.append({"test_scores": scores if multi else scores["score"], "fit_time": fit_time,
                    "score_time": score_time})
    return out


def _rung_epochs(result: Result, max_epochs: int) -> list[int]:
    # The policy's decision points: a rung (rung policies, Hyperband) or a comparison with
    # other trials (interval rules). The engine's own decisions (failures, budget) have neither.
    compared = {d.epoch for d in result.decisions if d.reason.rung is not None or d.reason.compared is not None}
    return sorted(compared | {max_epochs})


def _schedule_columns(cands: list[_Candidate], rungs: list[int], resource: _Resource, names: list[str],
                      n_splits: int) -> dict[str, list]:
    """How far each candidate trained (scikit-learn's successive halving has ``iter`` and
    ``n_resources`` too) and its score at each rung epoch, per scorer."""
    epochs = [c.epochs for c in cands]
    columns: dict[str, list] = {
        "n_epochs": epochs,
        "n_resources": [resource.amount(e) for e in epochs],
        "iter": [int(np.searchsorted(rungs, e, side="right")) - 1 for e in epochs],
        "state": [c.state for c in cands],
    }
    for name in names:
        for r in rungs:
            columns[f"test_{name}_epoch_{r}"] = [c.score_at(r, name, n_splits) for c in cands]
    return columns


def _rank(mean: np.ndarray, n_epochs: np.ndarray) -> np.ndarray:
    """1 for the best, ties sharing the lower rank: scored before NaN, longer-trained
    before shorter, then by score. A score after one epoch is no match for one after
    27, which is also why scikit-learn's successive halving takes its best from the
    last iteration only."""
    keys = np.column_stack([np.isnan(mean), -np.asarray(n_epochs), 0.0 - np.nan_to_num(mean, nan=0.0)])
    _, group, counts = np.unique(keys, axis=0, return_inverse=True, return_counts=True)
    first = np.cumsum(counts) - counts
    return (first[np.ravel(group)] + 1).astype(np.int32)


def _check_failures(cands: list[_Candidate], candidates: list[dict], error_score: Any) -> None:
    """As scikit-learn's searches do: a warning when some candidates failed, a ValueError
    when all did."""
    failed = [c for c, cand in enumerate(cands) if cand.error is not None]
    if not failed:
        return
    first, n = failed[0], len(cands)
    error = cands[first].error
    if len(failed) == n:
        raise ValueError(f"All the {n} candidates failed. The first failure, candidate {first} "
                         f"{candidates[first]!r}:\n{error}")
    warnings.warn(f"{len(failed)} of the {n} candidates failed; their scores are set to error_score={error_score!r}. "
                  f"The first, candidate {first} {candidates[first]!r}: "
                  f"{error.splitlines()[0] if error else '?'}", FitFailedWarning)


def _first_failure(run_dir: Path) -> tuple[int, str, str]:
    """The first failed trial in the run's log: (trial, error, worker traceback)."""
    for event in iter_events(read_events(run_dir)):
        if event.get("kind") == "trial_failed":
            payload = event.get("payload") or {}
            if isinstance(payload, str):
                payload = json.loads(payload)
            return int(event["trial"]), payload.get("error") or "", payload.get("traceback") or ""
    raise RuntimeError(f"error_score='raise' stopped the search on a failure, but {run_dir} logs none")


def _exception_type(error: str, tb: str) -> type[BaseException]:
    """The class of a worker's exception, from its ``Type: message`` and the traceback's
    last line (``module.Type: message``); RuntimeError when this process has not imported
    that module (importing a module named in a message could run its code)."""
    name = error.split(":", 1)[0].strip()
    match = next((m for m in (re.match(rf"^([\w.]+\.)?{re.escape(name)}(:|$)", line)
                              for line in reversed(tb.splitlines())) if m), None)
    module = (match.group(1) or "").rstrip(".") if match else ""
    cls = getattr(sys.modules.get(module) if module else builtins, name, None)
    return cls if isinstance(cls, type) and issubclass(cls, Exception) else RuntimeError


def _raise_failure(run_dir: Path, candidate_of: dict[int, int], candidates: list[dict]) -> None:
    """error_score="raise": the first candidate's failure, raised here as the class the
    worker raised, with the worker's traceback in its message."""
    trial, error, tb = _first_failure(run_dir)
    c = candidate_of.get(trial, -1)
    message = (f"{error.split(': ', 1)[-1]}\n\n(candidate {c} {candidates[c] if c >= 0 else ''!r} failed in a "
               f"Ray worker, and error_score='raise'; the worker's traceback:\n{tb.rstrip()})")
    cls = _exception_type(error, tb)
    try:
        exc = cls(message)
    except Exception:  # noqa: BLE001 - a class whose constructor takes other arguments
        exc = RuntimeError(f"{error}\n{message}")
    raise exc


class _Progress:
    """``tune``'s progress callback: with ``verbose``, a line when the first candidate
    reaches each rung (and at ``verbose>=2`` one per candidate that ends); with
    ``error_score="raise"``, a halt at the first failure."""

    def __init__(self, verbose: int, halt_on_failure: bool, source: _Drawn | ParamSpace, n: int,
                 resource: _Resource, max_epochs: int) -> None:
        self.verbose, self.halt_on_failure = verbose, halt_on_failure
        self.source, self.n, self.resource, self.max_epochs = source, n, resource, max_epochs
        self.levels: list[int] | None = None
        self.ended: set[int] = set()
        self.t0 = time.perf_counter()

    def __call__(self, engine: Any) -> None:
        trials = engine.trials
        if self.halt_on_failure and any(r.state is TrialState.FAILED for r in trials.values()):
            engine.halt("failed")
        if self.verbose >= 1:
            self._rungs(engine)
        if self.verbose >= 2:
            self._ended(trials)

    def _rungs(self, engine: Any) -> None:
        if self.levels is None:
            self.levels = _progress_epochs(engine.policy, self.max_epochs)
        trials = engine.trials
        top = max((r.trained for r in trials.values()), default=0)
        while self.levels and self.levels[0] <= top:
            epoch = self.levels.pop(0)
            ended = sum(1 for r in trials.values() if r.state in _ENDED)
            print(f"[HalvingSearchCV] epoch {epoch} ({self.resource.describe()}={self.resource.amount(epoch)}) "
                  f"reached after {time.perf_counter() - self.t0:.1f} s; {len(trials)} of {self.n} "
                  f"candidates started, {ended} ended", flush=True)

    def _ended(self, trials: dict) -> None:
        for trial, record in trials.items():
            if record.state in _ENDED and trial not in self.ended:
                self._line(trial, record.config, record.state, record.trained, record.last_value)

    def finish(self, result: Result) -> None:
        """The candidates the policy ended only when the search finished (ASHA's paused ones)."""
        if self.verbose < 2:
            return
        for trial, state in result.states.items():
            if state in _ENDED and trial not in self.ended:
                curve = result.reports.curve(trial)
                epoch, value = curve[-1] if curve else (0, None)
                self._line(trial, result.configs[trial], state, epoch, value)

    def _line(self, trial: int, config: dict, state: TrialState, epoch: int, value: float | None) -> None:
        # Candidate c is trial c: drawn ones are walked in order, proposed ones listed by trial.
        self.ended.add(trial)
        score = "-" if value is None else f"{value:.4f}"
        params = ", ".join(f"{k}={_short(v)}" for k, v in self.source.params(config).items())
        print(f"[HalvingSearchCV] candidate {trial + 1}/{self.n} {state.value} at epoch {epoch}: "
              f"score={score}; {params}", flush=True)


def _short(value: Any) -> str:
    if isinstance(value, numbers.Real) and not isinstance(value, (bool, numbers.Integral)):
        return f"{float(value):.4g}"
    return repr(value.item() if isinstance(value, np.generic) else value)


_ENDED = (TrialState.STOPPED, TrialState.COMPLETED, TrialState.FAILED)


def _progress_epochs(policy: Any, max_epochs: int) -> list[int]:
    """The epochs to announce: the policy's rungs where it has them, else powers of 3."""
    levels = getattr(policy, "levels", None)
    if not levels:
        levels, e = [], 1
        while e < max_epochs:
            levels.append(e)
            e *= 3
    return sorted({int(e) for e in levels if e <= max_epochs} | {max_epochs})


def _positive_int(name: str, value: Any, *, allow_none: bool = False) -> None:
    if value is None and allow_none:
        return
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < 1:
        raise ValueError(f"{name} must be a positive int, but got {name}={value!r}")


# --------------------------------------------------------------------------
# The search estimator
# --------------------------------------------------------------------------


class HalvingSearchCV(BaseSearchCV):
    """Random search with early termination: candidates train epoch by epoch, and a
    halving policy stops the poor ones; survivors continue where they paused.

    The ``n_candidates`` parameter settings are drawn as scikit-learn's
    ``HalvingRandomSearchCV`` draws them (``ParameterSampler``, so the same
    ``random_state`` gives the same candidates), or, with a model ``sampler``
    (``"tpe"``, ``"bohb"``), proposed as results come in. Each candidate is a halving
    trial, trained in a Ray worker: up to ``n_jobs`` at once. A Ray already
    initialised in this process is used as it is and left running. Otherwise the
    first ``fit`` starts a local one (or joins ``address``) and keeps it for
    every later ``fit`` of the process (``cross_val_score`` fits once per fold),
    with its workers idle between fits so that the next fit does not start them
    again; it is shut down at interpreter exit (``ray.shutdown()`` ends it
    sooner). The idle workers hold their CPUs in that Ray.

    ``cv_results_``, ``best_index_``, ``best_params_``, ``best_score_`` and the
    delegation of ``predict``, ``score``... to ``best_estimator_`` are
    scikit-learn's ``BaseSearchCV``'s; only the evaluation is halving's.

    Parameters
    ----------
    estimator : estimator object
        Cloned for each candidate (and each fold). It must have ``partial_fit``,
        or a ``warm_start`` parameter and a count such as ``n_estimators`` or
        ``max_iter`` (see ``resource``). For a ``Pipeline`` that is its final
        step: the steps before it are fit once per candidate and fold, at the
        first epoch, and the final step trains by epochs on their output.
        Parameters of steps are addressed ``<step>__<parameter>``, as in
        scikit-learn.
    param_distributions : dict or list of dicts
        Parameter names to lists (sampled uniformly) or scipy.stats
        distributions (sampled with ``rvs``); a list of dicts picks a dict
        uniformly for each candidate, as in scikit-learn.
    policy : str or policies.Policy, default="asha"
        A halving policy name (``asha``, ``sha``, ``hyperband``, ``median``,
        ``bandit``, ``truncation``, ``asha-stop``, ``none``) or a policy object
        such as ``policies.ASHA(eta=3, min_epochs=1)`` (copied at each fit).
    sampler : str or halving.samplers.Sampler, default="random"
        What each candidate's parameters are, as in ``halving.tune``.
        ``"random"``: all drawn up front with ``ParameterSampler`` (any
        distribution with ``rvs``). ``"tpe"``, ``"bohb"`` or a ``Sampler``
        object: proposed one by one as the earlier candidates report, from
        ``param_distributions`` translated to a halving space; that takes lists
        and the scipy.stats distributions ``uniform``, ``loguniform``
        (``reciprocal``), ``randint`` and ``norm`` (anything else is a
        ``TypeError`` at ``fit``, before anything runs). ``"grid"``: the grid of
        one dict of lists, walked in order (the first ``n_candidates`` points).
        ``cv_results_`` lists the candidates in the order they started.
    n_candidates : int, default=81
        Parameter settings to draw or propose (fewer when a grid of lists is
        smaller).
    max_epochs : int, default=27
        The most epochs any candidate trains (R). The rungs of ``asha``/``sha``
        are 1, 3, 9, 27 epochs with the default eta of 3.
    resource : str, default="auto"
        What an epoch is. ``"partial_fit"``: one ``partial_fit`` pass over the
        training split. The name of a count parameter (``"n_estimators"``,
        ``"max_iter"``, or a nested ``"step__n_estimators"``): the estimator is
        fit with ``warm_start=True`` and the count grows to
        ``ceil(epoch * M / max_epochs)`` after each epoch, where ``M`` is the
        estimator's own value of the count (its value at ``max_epochs``; it must
        be at least ``max_epochs``). ``n_estimators`` (and ``max_iter`` of
        histogram gradient boosting) counts the whole model; any other
        ``max_iter`` caps one ``fit`` call, so each epoch runs the increment.
        ``"auto"``: ``partial_fit`` if the estimator (a Pipeline's final step)
        has it, else ``n_estimators``, else ``max_iter``, with ``warm_start``
        (``"<step>__n_estimators"`` for a Pipeline); a ``ValueError`` that says
        what to pass when it has neither.
    scoring : str, callable, list, tuple, dict or None, default=None
        As in ``GridSearchCV``: one scorer (a name, a callable, or None for the
        estimator's ``score``), or several (a list or tuple of names, a dict of
        names to scorers, or a callable returning a dict). With several,
        ``cv_results_`` has ``mean_test_<name>``, ``rank_test_<name>``... for
        each, and the policy stops candidates by the ``refit`` metric (the first
        scorer when ``refit`` is False or a callable). Greater is better.
    cv : int, cross-validation generator, iterable or None, default=None
        None: one stratified (for classifiers) hold-out split of 20% of the
        samples, shuffled by ``random_state``. Otherwise folds as in
        scikit-learn (an int is ``(Stratified)KFold``); each fold trains its own
        copy of the candidate, and the candidate's score is the mean over folds.
    refit : bool, str or callable, default=True
        As in ``GridSearchCV``: with several scorers, the name of the one that
        picks the best candidate (and that the policy ranks by); a callable takes
        ``cv_results_`` and returns ``best_index_`` (then there is no
        ``best_score_``). When not False: train a fresh clone of the best
        candidate on all of ``X, y``, in this
        process, for the epochs it reached in the search (``max_epochs`` unless a
        budget cut the search short), with the same resource schedule. It is
        ``best_estimator_``, and ``predict``, ``score``... use it. The best
        candidate's model as trained in the search (on its training split) is
        ``best_trial_estimator_``.
    random_state : int, RandomState instance or None, default=None
        Seeds the candidates, the hold-out split and halving's policy seed.
    n_jobs : int or None, default=None
        Candidates trained at once, each in its own Ray worker. None or -1: as
        many as the CPUs Ray sees (unlike scikit-learn, where None means 1: the
        point of this search is to train in parallel); -2: one fewer, and so on.
    verbose : int, default=0
        0: silent. 1: a line when the search starts, when the first candidate
        reaches each rung epoch, and at the end. 2: also one per candidate that
        ends (stopped, completed or failed), with its score and parameters.
    error_score : 'raise' or float, default=np.nan
        The score of a candidate whose fit or scoring raises (on any fold, at
        any epoch), as in scikit-learn, with a ``FitFailedWarning``; when every
        candidate fails, ``fit`` raises a ``ValueError``. ``"raise"``: the
        search stops handing out work at the first failure and ``fit`` raises
        that error, as the class the worker raised, with the worker's
        traceback in its message.
    workers : int or None, default=None
        halving's name for ``n_jobs`` (``tune(workers=...)``); give one of the
        two.
    budget : int or None, default=None
        Cap on the epochs trained by all candidates together (an epoch of a
        candidate counts once, whatever the number of folds).
    run_dir : str, path or None, default=None
        Parent directory for halving's run directory (event log, results); each
        fit writes a new subdirectory, ``run_dir_``, and leaves it there. None:
        a temporary directory, removed at the end of ``fit`` (everything the
        fitted search needs is in memory).
    address : str or None, default=None
        A running Ray cluster to train on (``"auto"``, ``"host:port"`` or
        ``"ray://host:port"``), joined at the first ``fit`` and left joined for
        later fits with the same address until the interpreter exits (the
        cluster keeps running). None: the Ray initialised in this process, else
        a local one kept for the process (see above).
    cpus, gpus : number, list of numbers or None, default=None and 0
        What each candidate's worker holds, as in ``halving.tune``: a number
        (a fraction of a GPU shares it) or one per rung, so that candidates
        on higher rungs get more. None CPUs: one (a share when more workers
        than CPUs). A request no node of the cluster holds is refused before
        any candidate trains.
    resources : dict or None, default=None
        Custom Ray resources per candidate, ``{"name": amount}`` (an amount
        may be a per-rung list).

    Attributes
    ----------
    cv_results_ : dict of numpy arrays
        One entry per candidate, as ``BaseSearchCV`` builds it: ``params``,
        ``param_<name>`` (masked arrays), ``mean_test_score`` (at the last epoch
        the candidate reached; NaN when it failed or never started),
        ``std_test_score``, ``split<k>_test_score``, ``mean_fit_time``
        (training seconds per fold, all epochs), ``mean_score_time`` (the last
        epoch's, per fold), their ``std_`` (0: the folds of a candidate are
        timed together) and ``rank_test_score`` (candidates that trained longer
        rank ahead, then by score); with several scorers, these per scorer
        (``mean_test_<name>``...). Halving adds how far each candidate got:
        ``n_epochs``, ``n_resources``, ``iter`` (the last rung epoch it reached,
        counted from 0; -1 when it never started), ``state`` (``completed``,
        ``stopped``, ``failed``; with a budget also ``paused`` or ``not
        started``) and ``test_score_epoch_<r>`` (``test_<name>_epoch_<r>`` per
        scorer) for each rung epoch ``r`` (NaN where the candidate did not get
        there).
    best_index_, best_params_, best_score_ : the rank-1 candidate by the refit
        metric (the best at ``max_epochs`` when any candidate got there), or the
        one a callable ``refit`` picked (no ``best_score_`` then). Not set with
        several scorers and ``refit=False``, as in scikit-learn.
    best_estimator_ : the refit estimator (``refit=True``).
    best_trial_estimator_ : the best candidate's estimator as trained during the
        search (a list, one per fold, with cv folds); None when unavailable (the
        policy's best is not ``best_index_``, e.g. with a callable ``refit``).
    refit_time_ : seconds spent refitting.
    rung_epochs_ : list of int, the epochs where the policy compared candidates
        (and ``max_epochs``).
    n_resources_ : list of int, the resource at each rung epoch.
    n_candidates_ : list of int, the candidates that trained to each rung epoch.
    n_iterations_ : int, ``len(rung_epochs_)``.
    max_resources_ : int, the resource at ``max_epochs``.
    resource_ : str, the resolved resource (``"partial_fit"`` or a parameter).
    epochs_used_ : int, epochs trained by all candidates (once per epoch, any folds).
    resources_used_ : int, resource units trained by all candidates and folds
        (partial_fit passes, or estimators/iterations fitted).
    n_splits_ : int, folds (1 for the hold-out split).
    scorer_ : the scorer, or a dict of scorers with several.
    multimetric_ : bool, whether several scorers were used.
    result_ : halving.Result, the search as halving recorded it (in memory;
        ``result_.run_dir`` is None when the run directory was temporary).
    run_dir_ : str or None, where halving logged this fit (None: removed).
    """

    # Read by BaseSearchCV's results: halving scores the validation folds only.
    return_train_score = False

    def __init__(
        self,
        estimator: Any,
        param_distributions: Any,
        *,
        policy: Any = "asha",
        sampler: Any = "random",
        n_candidates: int = 81,
        max_epochs: int = 27,
        resource: str = "auto",
        scoring: Any = None,
        cv: Any = None,
        refit: bool | str | Callable = True,
        random_state: Any = None,
        n_jobs: int | None = None,
        verbose: int = 0,
        error_score: Any = np.nan,
        workers: int | None = None,
        budget: int | None = None,
        run_dir: Any = None,
        address: str | None = None,
        cpus: Any = None,
        gpus: Any = 0,
        resources: dict | None = None,
    ) -> None:
        # No super().__init__: BaseSearchCV's would set joblib parameters this search has not.
        self.estimator = estimator
        self.param_distributions = param_distributions
        self.policy = policy
        self.sampler = sampler
        self.n_candidates = n_candidates
        self.max_epochs = max_epochs
        self.resource = resource
        self.scoring = scoring
        self.cv = cv
        self.refit = refit
        self.random_state = random_state
        self.n_jobs = n_jobs
        self.verbose = verbose
        self.error_score = error_score
        self.workers = workers
        self.budget = budget
        self.run_dir = run_dir
        self.address = address
        self.cpus = cpus
        self.gpus = gpus
        self.resources = resources

    def fit(self, X: Any, y: Any = None) -> HalvingSearchCV:
        """Search the candidates on ``X, y`` and (``refit``) refit the best on all of it.

        BaseSearchCV's own ``fit`` trains each candidate to the end on each fold;
        this one hands them to ``halving.tune`` and formats what it recorded.
        """
        sampler = self._check_params()
        rng = check_random_state(self.random_state)
        resource = _resolve_resource(self.estimator, self.resource, self.max_epochs)
        source, n_trials = self._source(sampler, resource, rng)
        scorer, rank_metric = self._scorers()
        X, y = indexable(X, y)
        splits = self._splits(X, y, rng)
        classes = np.unique(y) if resource.kind == "partial_fit" and is_classifier(self.estimator) else None
        seed = int(rng.randint(np.iinfo(np.int32).max))
        self.n_splits_ = len(splits)
        run_dir = None
        try:
            with connect(self.address, keep=True) as cluster:
                run_dir = self._new_run_dir()  # only once Ray answers: a bad address leaves no run dir
                spec = _Spec(uuid.uuid4().hex, clone(self.estimator), source, SharedRef((X, y, splits)),
                             scorer, rank_metric, resource, classes)
                result = self._tune(spec, n_trials, seed, run_dir, self._n_workers(cluster))
            self._record(result, source, resource, scorer, run_dir)
        finally:
            if run_dir is not None and self.run_dir is None:
                shutil.rmtree(run_dir, ignore_errors=True)
        if self.refit:
            self._refit(X, y, resource, classes)
        return self

    def _check_params(self) -> SamplerSpec:
        """Refuse bad settings before anything runs; the sampler as the experiment has it."""
        _positive_int("n_candidates", self.n_candidates)
        _positive_int("max_epochs", self.max_epochs)
        _positive_int("workers", self.workers, allow_none=True)
        _positive_int("budget", self.budget, allow_none=True)
        if self.n_jobs is not None and (isinstance(self.n_jobs, bool) or not isinstance(self.n_jobs, numbers.Integral)
                                        or self.n_jobs == 0):
            raise ValueError(f"n_jobs must be None, a positive int, or a negative int counting back from all "
                             f"CPUs (-1: all of them), but got n_jobs={self.n_jobs!r}")
        if self.n_jobs is not None and self.workers is not None and self.n_jobs != self.workers:
            raise ValueError(f"n_jobs and workers are two names for the candidates trained at once; give one, "
                             f"but got n_jobs={self.n_jobs!r} and workers={self.workers!r}")
        if isinstance(self.verbose, bool) or not isinstance(self.verbose, numbers.Integral) or self.verbose < 0:
            raise ValueError(f"verbose must be an int >= 0, but got verbose={self.verbose!r}")
        if not (self.error_score == "raise" if isinstance(self.error_score, str)
                else isinstance(self.error_score, numbers.Real) and not isinstance(self.error_score, bool)):
            raise ValueError(f"error_score must be 'raise' or a number, but got error_score={self.error_score!r}")
        if not (isinstance(self.refit, (bool, np.bool_, str)) or callable(self.refit)):
            raise TypeError(f"refit must be a bool, a scorer name or a callable, but got refit={self.refit!r}")
        if not isinstance(self.policy, (str, P.Policy)):
            raise ValueError(f"policy must be a policy name or a policies.Policy, but got policy={self.policy!r}")
        if not hasattr(self.estimator, "fit"):
            raise ValueError(f"estimator must be a scikit-learn estimator, but got estimator={self.estimator!r}")
        return SamplerSpec.of(self.sampler)

    def _source(self, sampler: SamplerSpec, resource: _Resource,
                rng: np.random.RandomState) -> tuple[_Drawn | ParamSpace, int | None]:
        """Where the candidates come from, and the trials to run (None: every drawn one).

        ``random``: drawn now, as HalvingRandomSearchCV's first iteration draws them for the
        same random_state. Any other sampler proposes from ``param_distributions`` translated
        to a halving space, refused here (with the sampler's own objections to the space)
        when it cannot be."""
        if sampler.name == "random":
            candidates = list(ParameterSampler(self.param_distributions, self.n_candidates, random_state=rng))
            _check_not_searched(resource, candidates)
            return _Drawn(candidates), None
        ParameterSampler(self.param_distributions, self.n_candidates)  # scikit-learn's checks and errors
        source = ParamSpace.of(self.param_distributions, sampler.name)
        if sampler.name == "grid" and len(source.dicts) > 1:
            raise SpecError(f"sampler='grid' walks one grid, but param_distributions is a list of "
                            f"{len(source.dicts)} dicts; give one dict, or search each grid in its own fit")
        _check_not_searched(resource, [{p.name: None for p in row} for row in source.dicts])
        # All lists: no more trials than different candidates, as ParameterSampler draws.
        n_trials = min(self.n_candidates, source.n_distinct or self.n_candidates)
        ExperimentSpec(metric="score", mode="max", max_epochs=self.max_epochs, space=source.space, sampler=sampler,
                       trials=n_trials)
        return source, n_trials

    def _scorers(self) -> tuple[Any, str | None]:
        """The scorer the workers call (a dict-valued one for several metrics), and the
        metric the policy ranks by (None: the first the scorer returns)."""
        rank_metric = self.refit if isinstance(self.refit, str) else None
        if callable(self.scoring):
            return self.scoring, rank_metric
        if self.scoring is None or isinstance(self.scoring, str):
            return check_scoring(self.estimator, self.scoring), None
        scorers = _check_multimetric_scoring(self.estimator, self.scoring)
        self._check_refit_for_multimetric(scorers)
        # A scorer that raises fails the candidate, which error_score then handles.
        return _MultimetricScorer(scorers=scorers, raise_exc=True), rank_metric or next(iter(scorers))

    def _n_workers(self, cluster: Capacity) -> int | None:
        n = self.n_jobs if self.n_jobs is not None else self.workers
        if n is None or n > 0:
            return n
        return max(1, int(cluster.cpus) + 1 + n)  # joblib's convention: -1 all, -2 all but one

    def _splits(self, X: Any, y: Any, rng: np.random.RandomState) -> list[tuple[np.ndarray, np.ndarray]]:
        classifier = is_classifier(self.estimator) and y is not None
        if self.cv is None:
            seed = int(rng.randint(np.iinfo(np.int32).max))
            splitter = (StratifiedShuffleSplit if classifier else ShuffleSplit)(
                n_splits=1, test_size=HOLDOUT, random_state=seed)
            try:
                return [(np.asarray(a), np.asarray(b)) for a, b in splitter.split(X, y)]
            except ValueError:  # a class too small to stratify: plain shuffle
                splitter = ShuffleSplit(n_splits=1, test_size=HOLDOUT, random_state=seed)
                return [(np.asarray(a), np.asarray(b)) for a, b in splitter.split(X, y)]
        cv = check_cv(self.cv, y, classifier=classifier)
        return [(np.asarray(a), np.asarray(b)) for a, b in cv.split(X, y)]

    def _new_run_dir(self) -> Path:
        if self.run_dir is None:
            return Path(tempfile.mkdtemp(prefix="halving-sklearn-"))
        parent = Path(self.run_dir)
        parent.mkdir(parents=True, exist_ok=True)
        return Path(tempfile.mkdtemp(prefix=time.strftime("%Y%m%d-%H%M%S-"), dir=parent))

    def _tune(self, spec: _Spec, n_trials: int | None, seed: int, run_dir: Path, workers: int | None) -> Result:
        # A class of this fit only: cloudpickle ships it (and the spec) by value to the workers.
        trainable = type("HalvingSearchTrainable", (_CandidateTrainable,), {"spec": spec, "__module__": __name__})
        policy = self.policy if isinstance(self.policy, str) else copy.deepcopy(self.policy)
        progress = None
        drawn = isinstance(spec.source, _Drawn)
        n = len(spec.source.candidates) if drawn else n_trials
        if self.verbose or self.error_score == "raise":
            progress = _Progress(int(self.verbose), self.error_score == "raise", spec.source, n, spec.resource,
                                 self.max_epochs)
        if self.verbose:
            print(f"[HalvingSearchCV] {n} candidates{'' if drawn else f' proposed by {self.sampler!r}'}, "
                  f"{self.n_splits_} fold(s) each, policy "
                  f"{getattr(policy, 'name', policy)}, up to {self.max_epochs} epochs of {spec.resource.describe()}"
                  f", {workers or 'all CPUs'} at once", flush=True)
        t0 = time.perf_counter()
        # Drawn candidates are a grid of their indices, walked in order (tune's default sampler
        # with trials=None); otherwise the sampler proposes configs of the translated space.
        result = tune(trainable, spec.source.space, metric="score", mode="max", policy=policy,
                      sampler=None if drawn else self.sampler, max_epochs=self.max_epochs, trials=n_trials,
                      budget=self.budget, workers=workers, seed=seed, run_dir=run_dir, progress=progress,
                      cpus=self.cpus, gpus=self.gpus, resources=self.resources)
        candidates, trial_of = spec.source.listing(result.configs)
        (run_dir / "candidates.json").write_text(
            json.dumps([{k: repr(v) for k, v in c.items()} for c in candidates], indent=1))
        if progress is not None:
            progress.finish(result)
        if self.error_score == "raise" and result.n_failed:
            _raise_failure(run_dir, {t: c for c, t in trial_of.items()}, candidates)
        if self.verbose:
            print(f"[HalvingSearchCV] done in {time.perf_counter() - t0:.1f} s: {result.n_completed} completed, "
                  f"{result.n_stopped} stopped early, {result.n_failed} failed; {result.epochs_used} epochs "
                  f"trained", flush=True)
        return result

    def _record(self, result: Result, source: _Drawn | ParamSpace, resource: _Resource, scorer: Any,
                run_dir: Path) -> None:
        """cv_results_ and the best candidate, by BaseSearchCV from halving's reports."""
        candidates, trial_of = source.listing(result.configs)
        cands = _candidates_of(result, trial_of, len(candidates))
        _check_failures(cands, candidates, self.error_score)
        names, multi = _metric_names(cands)
        if multi and callable(self.scoring):
            self._check_refit_for_multimetric(names)  # known only now, as in scikit-learn
        rungs = _rung_epochs(result, self.max_epochs)
        out = [o for cand in cands for o in _fold_outcomes(cand, self.n_splits_, names, multi, self.error_score)]
        with warnings.catch_warnings():
            # NaN for a candidate that failed (warned of above) or never started is by design.
            warnings.filterwarnings("ignore", "One or more of the test scores are non-finite", UserWarning)
            results = self._format_results(candidates, self.n_splits_, out,
                                           _schedule_columns(cands, rungs, resource, names, self.n_splits_))
        for name in names:
            results[f"rank_test_{name}"] = _rank(results[f"mean_test_{name}"], results["n_epochs"])
        self.cv_results_ = results
        self.multimetric_ = multi
        self.scorer_ = scorer._scorers if isinstance(scorer, _MultimetricScorer) else scorer
        self.resource_ = resource.describe()
        self.max_resources_ = resource.amount(self.max_epochs)
        self._record_best(result, results, multi, trial_of)
        self._record_schedule(result, results, rungs, resource)
        kept = self.run_dir is not None
        self.run_dir_ = str(run_dir) if kept else None
        self.result_ = result if kept else dataclasses.replace(result, run_dir=None, model_path=None)

    def _record_best(self, result: Result, results: dict, multi: bool, trial_of: dict[int, int]) -> None:
        """best_index_, best_params_, best_score_ as BaseSearchCV sets them."""
        self.best_trial_estimator_ = None
        if not (self.refit or not multi):
            return
        refit_metric = self.refit if multi and isinstance(self.refit, str) else "score"
        self.best_index_ = int(self._select_best_index(self.refit, refit_metric, results))
        self.best_params_ = results["params"][self.best_index_]
        if not callable(self.refit):
            self.best_score_ = float(results[f"mean_test_{refit_metric}"][self.best_index_])
        if result.best_trial is not None and trial_of.get(self.best_index_) == result.best_trial:
            self.best_trial_estimator_ = result.best_model

    def _record_schedule(self, result: Result, results: dict, rungs: list[int], resource: _Resource) -> None:
        epochs = results["n_epochs"]
        self.rung_epochs_ = rungs
        self.n_resources_ = [resource.amount(r) for r in rungs]
        self.n_candidates_ = [int(np.sum(epochs >= r)) for r in rungs]
        self.n_iterations_ = len(rungs)
        self.epochs_used_ = int(result.epochs_used)
        self.resources_used_ = int(sum(resource.amount(int(e)) for e in epochs)) * self.n_splits_
        if self.verbose:
            for r, n, amount in zip(rungs, self.n_candidates_, self.n_resources_):
                print(f"[HalvingSearchCV] epoch {r} ({resource.describe()}={amount}): {n} candidates", flush=True)

    def _refit(self, X: Any, y: Any, resource: _Resource, classes: Any) -> None:
        """The best candidate trained afresh on all of ``X, y``, for the epochs it reached,
        epoch by epoch as in the search (BaseSearchCV's one ``fit`` would not be the same
        training for a ``partial_fit`` resource)."""
        t0 = time.perf_counter()
        estimator = _fresh(self.estimator, self.best_params_, resource)
        # A candidate a callable refit picked before it ever trained gets the full schedule.
        epochs = int(self.cv_results_["n_epochs"][self.best_index_]) or self.max_epochs
        for epoch in range(1, epochs + 1):
            resource.train(estimator, epoch, X, y, classes)
        self.refit_time_ = time.perf_counter() - t0
        self.best_estimator_ = estimator
        if hasattr(estimator, "feature_names_in_"):
            self.feature_names_in_ = estimator.feature_names_in_
