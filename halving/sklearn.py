"""``HalvingSearchCV``: scikit-learn's search-estimator API on halving's early termination.

scikit-learn's ``HalvingRandomSearchCV`` refits every surviving candidate from
scratch at each rung, synchronously. ``HalvingSearchCV`` draws its candidates
the same way (``ParameterSampler``: lists and scipy.stats distributions), then
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

import copy
import json
import numbers
import tempfile
import threading
import time
import uuid
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from sklearn.base import clone, is_classifier
from sklearn.exceptions import ConvergenceWarning, FitFailedWarning
from sklearn.model_selection import ParameterSampler, ShuffleSplit, StratifiedShuffleSplit, check_cv
from sklearn.model_selection._search import BaseSearchCV
from sklearn.utils import _safe_indexing, check_random_state
from sklearn.utils.validation import indexable

import policies as P

from . import space as hspace
from .backends.ray_cluster import SharedRef, connect
from .result import Result, TrialState
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
    """

    kind: str
    param: str | None
    warm_key: str | None
    max_resource: int
    max_epochs: int
    cumulative: bool

    def amount(self, epoch: int) -> int:
        if self.kind == "partial_fit":
            return epoch
        return -(-epoch * self.max_resource // self.max_epochs)

    def prepare(self, estimator: Any) -> Any:
        if self.kind == "warm_start":
            estimator.set_params(**{self.warm_key: True})
        return estimator

    def train(self, estimator: Any, epoch: int, X: Any, y: Any, classes: Any) -> None:
        if self.kind == "partial_fit":
            if classes is not None:
                estimator.partial_fit(X, y, classes=classes)
            else:
                estimator.partial_fit(X, y)
            return
        total = self.amount(epoch)
        value = total if self.cumulative else total - self.amount(epoch - 1)
        estimator.set_params(**{self.param: value})
        # Training in slices is by design: an iterative solver stopped at its slice's
        # max_iter is not a convergence failure of the search.
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            estimator.fit(X, y)

    def describe(self) -> str:
        if self.kind == "partial_fit":
            return "partial_fit"
        return self.param


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


def _resolve_resource(estimator: Any, resource: Any, max_epochs: int) -> _Resource:
    name = type(estimator).__name__
    if not isinstance(resource, str):
        raise ValueError(f"resource must be 'auto', 'partial_fit' or the name of a warm-startable count "
                         f"parameter such as 'n_estimators', but got resource={resource!r}")
    params = estimator.get_params()
    if resource == "auto":
        if hasattr(estimator, "partial_fit"):
            resource = "partial_fit"
        else:
            count = next((p for p in ("n_estimators", "max_iter") if p in params), None)
            if "warm_start" not in params or count is None:
                raise ValueError(
                    f"{name} supports neither resource HalvingSearchCV can train by epochs: it needs "
                    f"partial_fit (one call per epoch), or a warm_start parameter together with n_estimators "
                    f"or max_iter (a count grown across epochs, training continued by warm_start=True). "
                    f"{name}'s parameters are {sorted(params)}")
            resource = count
    if resource == "partial_fit":
        if not hasattr(estimator, "partial_fit"):
            raise ValueError(f"resource='partial_fit', but {name} has no partial_fit method")
        return _Resource("partial_fit", None, None, max_epochs, max_epochs, False)
    if resource not in params:
        raise ValueError(f"resource={resource!r} is not a parameter of {name}; its parameters are {sorted(params)}")
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
    return _Resource("warm_start", resource, warm_key, int(max_resource), max_epochs, _cumulative(owner, base))


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
class _Spec:
    """Everything a worker needs, shipped once per worker with the trainable class.

    ``data`` holds ``(X, y, splits)`` in Ray's object store: put there once per
    fit, not pickled per trial.
    """

    key: str
    estimator: Any
    candidates: list
    data: SharedRef
    scorer: Any
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
    config is ``{"candidate": index}``.
    """

    spec: _Spec

    def setup(self, config: dict) -> None:
        spec = self.spec
        self.params = spec.candidates[config["candidate"]]
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
            scores.append(float(spec.scorer(model, X_val, y_val)))
            fit_seconds += t1 - t0
            score_seconds += time.perf_counter() - t1
        out = {"score": float(np.mean(scores)), "n_resources": spec.resource.amount(self.epoch),
               "fit_time": fit_seconds, "score_time": score_seconds}
        if len(scores) > 1:
            out.update({f"split{k}_score": s for k, s in enumerate(scores)})
        return out

    def save(self) -> dict:
        return {"models": self.models, "epoch": self.epoch}

    def restore(self, state: dict) -> None:
        self.models = state["models"]
        self.epoch = state["epoch"]

    def model(self) -> Any:
        return self.models[0] if len(self.models) == 1 else list(self.models)


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

    def score_at(self, epoch: int) -> float:
        return next((float(r["score"]) for r in self.reports if r["epoch"] == epoch), np.nan)


def _candidates_of(result: Result, n: int) -> list[_Candidate]:
    trial_of = {int(cfg["candidate"]): trial for trial, cfg in result.configs.items()}
    reports: dict[int, list[dict]] = {}
    for row in sorted(result.table().to_pylist(), key=lambda r: r["epoch"]):
        reports.setdefault(row["trial"], []).append(row)
    out = []
    for c in range(n):
        trial = trial_of.get(c)
        state = result.states.get(trial) if trial is not None else None
        error = result.failures.get(trial, "") if state is TrialState.FAILED else None
        # No state: a budget ended the search before the candidate started.
        out.append(_Candidate(state.value if state is not None else "not started", reports.get(trial, []), error))
    return out


def _fold_outcomes(cand: _Candidate, n_splits: int) -> list[dict]:
    """``cand`` as BaseSearchCV takes a candidate's fit on each fold: the score at the
    last epoch it reached (NaN when it failed or never started)."""
    if not cand.reports:
        return [{"test_scores": np.nan, "fit_time": 0.0, "score_time": np.nan} for _ in range(n_splits)]
    last = cand.reports[-1]
    scores = [last[f"split{k}_score"] for k in range(n_splits)] if n_splits > 1 else [last["score"]]
    scores = [float(s) if cand.error is None and np.isfinite(s) else np.nan for s in scores]
    # The worker times a candidate's folds together: each fold is given an equal share.
    fit_time = sum(float(r["fit_time"]) for r in cand.reports) / n_splits
    score_time = float(last["score_time"]) / n_splits
    return [{"test_scores": s, "fit_time": fit_time, "score_time": score_time} for s in scores]


def _rung_epochs(result: Result, max_epochs: int) -> list[int]:
    # The policy's decision points: a rung (rung policies, Hyperband) or a comparison with
    # other trials (interval rules). The engine's own decisions (failures, budget) have neither.
    compared = {d.epoch for d in result.decisions if d.reason.rung is not None or d.reason.compared is not None}
    return sorted(compared | {max_epochs})


def _schedule_columns(cands: list[_Candidate], rungs: list[int], resource: _Resource) -> dict[str, list]:
    """How far each candidate trained (scikit-learn's successive halving has ``iter`` and
    ``n_resources`` too) and its score at each rung epoch."""
    epochs = [c.epochs for c in cands]
    columns: dict[str, list] = {
        "n_epochs": epochs,
        "n_resources": [resource.amount(e) for e in epochs],
        "iter": [int(np.searchsorted(rungs, e, side="right")) - 1 for e in epochs],
        "state": [c.state for c in cands],
    }
    for r in rungs:
        columns[f"test_score_epoch_{r}"] = [c.score_at(r) for c in cands]
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


def _check_failures(cands: list[_Candidate], candidates: list[dict]) -> None:
    failed = [c for c, cand in enumerate(cands) if cand.error is not None]
    if not failed:
        return
    first, n = failed[0], len(cands)
    error = cands[first].error
    if len(failed) == n:
        raise ValueError(f"All the {n} candidates failed. The first failure, candidate {first} "
                         f"{candidates[first]!r}:\n{error}")
    warnings.warn(f"{len(failed)} of the {n} candidates failed; their scores are NaN. The first, candidate "
                  f"{first} {candidates[first]!r}: {error.splitlines()[0] if error else '?'}", FitFailedWarning)


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
    ``random_state`` gives the same candidates). Each candidate is a halving
    trial, trained in a Ray worker: up to ``workers`` at once. A Ray already
    initialised in this process is used as it is; otherwise ``fit`` starts a
    local one (or joins ``address``) and lets it go at the end.

    ``cv_results_``, ``best_index_``, ``best_params_``, ``best_score_`` and the
    delegation of ``predict``, ``score``... to ``best_estimator_`` are
    scikit-learn's ``BaseSearchCV``'s; only the evaluation is halving's.

    Parameters
    ----------
    estimator : estimator object
        Cloned for each candidate (and each fold). It must have ``partial_fit``,
        or a ``warm_start`` parameter and a count such as ``n_estimators`` or
        ``max_iter`` (see ``resource``).
    param_distributions : dict or list of dicts
        Parameter names to lists (sampled uniformly) or scipy.stats
        distributions (sampled with ``rvs``); a list of dicts picks a dict
        uniformly for each candidate, as in scikit-learn.
    policy : str or policies.Policy, default="asha"
        A halving policy name (``asha``, ``sha``, ``hyperband``, ``median``,
        ``bandit``, ``truncation``, ``asha-stop``, ``none``) or a policy object
        such as ``policies.ASHA(eta=3, min_epochs=1)`` (copied at each fit).
    n_candidates : int, default=81
        Parameter settings to draw (fewer when a grid of lists is smaller).
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
        ``"auto"``: ``partial_fit`` if the estimator has it, else
        ``n_estimators``, else ``max_iter``, with ``warm_start``; a
        ``ValueError`` when it has neither.
    scoring : str, callable or None, default=None
        One scorer (``sklearn.metrics.check_scoring``); None uses the
        estimator's ``score``. Greater is better.
    cv : int, cross-validation generator, iterable or None, default=None
        None: one stratified (for classifiers) hold-out split of 20% of the
        samples, shuffled by ``random_state``. Otherwise folds as in
        scikit-learn (an int is ``(Stratified)KFold``); each fold trains its own
        copy of the candidate, and the candidate's score is the mean over folds.
    refit : bool, default=True
        Train a fresh clone of the best candidate on all of ``X, y``, in this
        process, for the epochs it reached in the search (``max_epochs`` unless a
        budget cut the search short), with the same resource schedule. It is
        ``best_estimator_``, and ``predict``, ``score``... use it. The best
        candidate's model as trained in the search (on its training split) is
        ``best_trial_estimator_``.
    random_state : int, RandomState instance or None, default=None
        Seeds the candidates, the hold-out split and halving's policy seed.
    workers : int or None, default=None
        Candidates trained at once; None: the CPUs Ray sees.
    budget : int or None, default=None
        Cap on the epochs trained by all candidates together (an epoch of a
        candidate counts once, whatever the number of folds).
    run_dir : str, path or None, default=None
        Parent directory for halving's run directory (event log, results); each
        fit writes a new subdirectory, ``run_dir_``. None: a new temporary
        directory, so fitting does not write into the working directory.
    address : str or None, default=None
        A running Ray cluster to train on (``"auto"``, ``"host:port"`` or
        ``"ray://host:port"``), left running after ``fit``. None: the Ray
        initialised in this process, else a local one for this fit.

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
        rank ahead, then by score). Halving adds how far each candidate got:
        ``n_epochs``, ``n_resources``, ``iter`` (the last rung epoch it reached,
        counted from 0; -1 when it never started), ``state`` (``completed``,
        ``stopped``, ``failed``; with a budget also ``paused`` or ``not
        started``) and ``test_score_epoch_<r>`` for each rung epoch ``r`` (NaN
        where the candidate did not get there).
    best_index_, best_params_, best_score_ : the rank-1 candidate (the best at
        ``max_epochs`` when any candidate got there).
    best_estimator_ : the refit estimator (``refit=True``).
    best_trial_estimator_ : the best candidate's estimator as trained during the
        search (a list, one per fold, with cv folds); None when unavailable.
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
    scorer_ : the scorer.
    result_ : halving.Result, the search as halving recorded it.
    run_dir_ : str, where halving logged this fit.
    """

    # Read by BaseSearchCV's results: halving scores the validation folds only.
    return_train_score = False

    def __init__(
        self,
        estimator: Any,
        param_distributions: Any,
        *,
        policy: Any = "asha",
        n_candidates: int = 81,
        max_epochs: int = 27,
        resource: str = "auto",
        scoring: Any = None,
        cv: Any = None,
        refit: bool = True,
        random_state: Any = None,
        workers: int | None = None,
        budget: int | None = None,
        run_dir: Any = None,
        address: str | None = None,
    ) -> None:
        # No super().__init__: BaseSearchCV's would set joblib parameters this search has not.
        self.estimator = estimator
        self.param_distributions = param_distributions
        self.policy = policy
        self.n_candidates = n_candidates
        self.max_epochs = max_epochs
        self.resource = resource
        self.scoring = scoring
        self.cv = cv
        self.refit = refit
        self.random_state = random_state
        self.workers = workers
        self.budget = budget
        self.run_dir = run_dir
        self.address = address

    def fit(self, X: Any, y: Any = None) -> HalvingSearchCV:
        """Search the candidates on ``X, y`` and (``refit=True``) refit the best on all of it.

        BaseSearchCV's own ``fit`` trains each candidate to the end on each fold;
        this one hands them to ``halving.tune`` and formats what it recorded.
        """
        self._check_params()
        rng = check_random_state(self.random_state)
        resource = _resolve_resource(self.estimator, self.resource, self.max_epochs)
        # The same draws as HalvingRandomSearchCV's first iteration for the same random_state.
        candidates = list(ParameterSampler(self.param_distributions, self.n_candidates, random_state=rng))
        _check_not_searched(resource, candidates)
        scorer, _ = self._get_scorers()
        X, y = indexable(X, y)
        splits = self._splits(X, y, rng)
        classes = np.unique(y) if resource.kind == "partial_fit" and is_classifier(self.estimator) else None
        seed = int(rng.randint(np.iinfo(np.int32).max))
        with connect(self.address):
            run_dir = self._new_run_dir(candidates)  # only once Ray answers: a bad address leaves no run dir
            spec = _Spec(uuid.uuid4().hex, clone(self.estimator), candidates, SharedRef((X, y, splits)),
                         scorer, resource, classes)
            result = self._tune(spec, seed, run_dir)

        self.scorer_ = scorer
        self.multimetric_ = False
        self.resource_ = resource.describe()
        self.max_resources_ = resource.amount(self.max_epochs)
        self.n_splits_ = len(splits)
        self.result_ = result
        self.run_dir_ = str(run_dir)
        self._record(result, candidates, resource)
        if self.refit:
            self._refit(X, y, resource, classes)
        return self

    def _check_params(self) -> None:
        _positive_int("n_candidates", self.n_candidates)
        _positive_int("max_epochs", self.max_epochs)
        _positive_int("workers", self.workers, allow_none=True)
        _positive_int("budget", self.budget, allow_none=True)
        if not isinstance(self.refit, (bool, np.bool_)):
            raise ValueError(f"refit must be True or False, but got refit={self.refit!r}")
        if isinstance(self.scoring, (list, tuple, set, dict)):
            raise ValueError(f"HalvingSearchCV takes one scorer (a name, a callable or None), "
                             f"but got scoring={self.scoring!r}")
        if not isinstance(self.policy, (str, P.Policy)):
            raise ValueError(f"policy must be a policy name or a policies.Policy, but got policy={self.policy!r}")
        if not hasattr(self.estimator, "fit"):
            raise ValueError(f"estimator must be a scikit-learn estimator, but got estimator={self.estimator!r}")

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

    def _new_run_dir(self, candidates: list[dict]) -> Path:
        if self.run_dir is None:
            run_dir = Path(tempfile.mkdtemp(prefix="halving-sklearn-"))
        else:
            parent = Path(self.run_dir)
            parent.mkdir(parents=True, exist_ok=True)
            run_dir = Path(tempfile.mkdtemp(prefix=time.strftime("%Y%m%d-%H%M%S-"), dir=parent))
        (run_dir / "candidates.json").write_text(
            json.dumps([{k: repr(v) for k, v in c.items()} for c in candidates], indent=1))
        return run_dir

    def _tune(self, spec: _Spec, seed: int, run_dir: Path) -> Result:
        # A class of this fit only: cloudpickle ships it (and the spec) by value to the workers.
        trainable = type("HalvingSearchTrainable", (_CandidateTrainable,), {"spec": spec, "__module__": __name__})
        policy = self.policy if isinstance(self.policy, str) else copy.deepcopy(self.policy)
        return tune(trainable, {"candidate": hspace.grid(list(range(len(spec.candidates))))}, metric="score",
                    mode="max", policy=policy, max_epochs=self.max_epochs, trials=None, budget=self.budget,
                    workers=self.workers, seed=seed, run_dir=run_dir)

    def _record(self, result: Result, candidates: list[dict], resource: _Resource) -> None:
        """cv_results_ and the best candidate, by BaseSearchCV from halving's reports."""
        cands = _candidates_of(result, len(candidates))
        _check_failures(cands, candidates)
        rungs = _rung_epochs(result, self.max_epochs)
        out = [outcome for cand in cands for outcome in _fold_outcomes(cand, self.n_splits_)]
        with warnings.catch_warnings():
            # NaN for a candidate that failed (warned of above) or never started is by design.
            warnings.filterwarnings("ignore", "One or more of the test scores are non-finite", UserWarning)
            results = self._format_results(candidates, self.n_splits_, out, _schedule_columns(cands, rungs, resource))
        results["rank_test_score"] = _rank(results["mean_test_score"], results["n_epochs"])
        self.cv_results_ = results
        self.best_index_ = int(self._select_best_index(self.refit, "score", results))
        self.best_params_ = results["params"][self.best_index_]
        self.best_score_ = float(results["mean_test_score"][self.best_index_])
        self.best_trial_estimator_ = result.best_model

        epochs = results["n_epochs"]
        self.rung_epochs_ = rungs
        self.n_resources_ = [resource.amount(r) for r in rungs]
        self.n_candidates_ = [int(np.sum(epochs >= r)) for r in rungs]
        self.n_iterations_ = len(rungs)
        self.epochs_used_ = int(result.epochs_used)
        self.resources_used_ = int(sum(resource.amount(int(e)) for e in epochs)) * self.n_splits_

    def _refit(self, X: Any, y: Any, resource: _Resource, classes: Any) -> None:
        """The best candidate trained afresh on all of ``X, y``, for the epochs it reached,
        epoch by epoch as in the search (BaseSearchCV's one ``fit`` would not be the same
        training for a ``partial_fit`` resource)."""
        t0 = time.perf_counter()
        estimator = _fresh(self.estimator, self.best_params_, resource)
        for epoch in range(1, int(self.cv_results_["n_epochs"][self.best_index_]) + 1):
            resource.train(estimator, epoch, X, y, classes)
        self.refit_time_ = time.perf_counter() - t0
        self.best_estimator_ = estimator
        if hasattr(estimator, "feature_names_in_"):
            self.feature_names_in_ = estimator.feature_names_in_
