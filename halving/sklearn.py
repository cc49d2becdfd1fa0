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
from sklearn.base import BaseEstimator, MetaEstimatorMixin, clone, is_classifier
from sklearn.exceptions import ConvergenceWarning, FitFailedWarning
from sklearn.metrics import check_scoring
from sklearn.model_selection import ParameterSampler, ShuffleSplit, StratifiedShuffleSplit, check_cv
from sklearn.utils import _safe_indexing, check_random_state, get_tags
from sklearn.utils.metaestimators import available_if
from sklearn.utils.validation import check_is_fitted, indexable

import policies as P

from . import space as hspace
from .result import TrialState
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

    ``data`` is an ObjectRef to ``(X, y, splits)``: the data is put in Ray's
    object store once per fit, not pickled per trial.
    """

    key: str
    estimator: Any
    candidates: list
    data: Any
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
            import ray

            X, y, splits = ray.get(spec.data)
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
# The search estimator
# --------------------------------------------------------------------------


def _check_refit(search: "HalvingSearchCV", attr: str) -> None:
    if not search.refit:
        raise AttributeError(f"This {type(search).__name__} instance was initialized with refit=False. {attr} is "
                             "available only after refitting on the best parameters.")


def _estimator_has(attr: str):
    """Delegate ``attr`` to the refit best estimator (before fit: to the unfitted one)."""

    def check(self: "HalvingSearchCV") -> bool:
        _check_refit(self, attr)
        getattr(self.best_estimator_ if hasattr(self, "best_estimator_") else self.estimator, attr)
        return True

    return check


def _positive_int(name: str, value: Any, *, allow_none: bool = False) -> None:
    if value is None and allow_none:
        return
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < 1:
        raise ValueError(f"{name} must be a positive int, but got {name}={value!r}")


class HalvingSearchCV(MetaEstimatorMixin, BaseEstimator):
    """Random search with early termination: candidates train epoch by epoch, and a
    halving policy stops the poor ones; survivors continue where they paused.

    The ``n_candidates`` parameter settings are drawn as scikit-learn's
    ``HalvingRandomSearchCV`` draws them (``ParameterSampler``, so the same
    ``random_state`` gives the same candidates). Each candidate is a halving
    trial, trained in a Ray worker: up to ``workers`` at once. Ray is started
    (and stopped after ``fit``) unless it is already initialised; call
    ``ray.init(...)`` once yourself to reuse it across fits or to use a cluster.

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

    Attributes
    ----------
    cv_results_ : dict of numpy arrays
        One entry per candidate: ``params``, ``param_<name>`` (masked arrays),
        ``mean_test_score`` (at the last epoch the candidate reached; NaN when
        it failed), ``std_test_score``, ``split<k>_test_score`` (with cv folds),
        ``rank_test_score`` (candidates that trained longer rank ahead, then by
        score, as scikit-learn's successive halving ranks by iteration),
        ``n_epochs``, ``n_resources``, ``state`` (``completed``, ``stopped``,
        ``failed``; with a budget also ``paused`` or ``not started``),
        ``mean_fit_time`` (training seconds per fold, all epochs),
        ``mean_score_time`` and ``test_score_epoch_<r>`` for each rung epoch
        ``r`` (NaN where the candidate did not get there).
    best_index_, best_params_, best_score_ : the best candidate at ``max_epochs``.
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
    ) -> None:
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

    # -- scikit-learn plumbing ------------------------------------------------

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        sub = get_tags(self.estimator)
        tags.estimator_type = sub.estimator_type
        tags.classifier_tags = copy.deepcopy(sub.classifier_tags)
        tags.regressor_tags = copy.deepcopy(sub.regressor_tags)
        tags.input_tags.pairwise = sub.input_tags.pairwise
        tags.input_tags.sparse = sub.input_tags.sparse
        return tags

    # -- fit -------------------------------------------------------------------

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

    def _new_run_dir(self) -> Path:
        if self.run_dir is None:
            return Path(tempfile.mkdtemp(prefix="halving-sklearn-"))
        parent = Path(self.run_dir)
        parent.mkdir(parents=True, exist_ok=True)
        return Path(tempfile.mkdtemp(prefix=time.strftime("%Y%m%d-%H%M%S-"), dir=parent))

    def fit(self, X: Any, y: Any = None) -> "HalvingSearchCV":
        """Search the candidates on ``X, y`` and (``refit=True``) refit the best on all of it."""
        import ray

        self._check_params()
        rng = check_random_state(self.random_state)
        resource = _resolve_resource(self.estimator, self.resource, self.max_epochs)
        # The same draws as HalvingRandomSearchCV's first iteration for the same random_state.
        candidates = list(ParameterSampler(self.param_distributions, self.n_candidates, random_state=rng))
        _check_not_searched(resource, candidates)
        scorer = check_scoring(self.estimator, scoring=self.scoring)
        X, y = indexable(X, y)
        splits = self._splits(X, y, rng)
        classes = np.unique(y) if resource.kind == "partial_fit" and is_classifier(self.estimator) else None
        seed = int(rng.randint(np.iinfo(np.int32).max))
        run_dir = self._new_run_dir()
        (run_dir / "candidates.json").write_text(
            json.dumps([{k: repr(v) for k, v in c.items()} for c in candidates], indent=1))

        started_ray = False
        if not ray.is_initialized():
            ray.init(address="local", include_dashboard=False, configure_logging=False)
            started_ray = True
        try:
            spec = _Spec(uuid.uuid4().hex, clone(self.estimator), candidates, ray.put((X, y, splits)), scorer,
                         resource, classes)
            # A class of this fit only: cloudpickle ships it (and the spec) by value to the workers.
            trainable = type("HalvingSearchTrainable", (_CandidateTrainable,), {"spec": spec, "__module__": __name__})
            policy = self.policy if isinstance(self.policy, str) else copy.deepcopy(self.policy)
            result = tune(trainable, {"candidate": hspace.grid(list(range(len(candidates))))}, metric="score",
                          mode="max", policy=policy, max_epochs=self.max_epochs, trials=None, budget=self.budget,
                          workers=self.workers, seed=seed, run_dir=run_dir)
            del spec, trainable
        finally:
            if started_ray:
                ray.shutdown()

        self.scorer_ = scorer
        self.resource_ = resource.describe()
        self.max_resources_ = resource.amount(self.max_epochs)
        self.n_splits_ = len(splits)
        self.multimetric_ = False
        self.result_ = result
        self.run_dir_ = str(run_dir)
        self._record(result, candidates, resource)

        if self.refit:
            best_params = self.best_params_
            epochs = int(self.cv_results_["n_epochs"][self.best_index_])
            t0 = time.perf_counter()
            estimator = _fresh(self.estimator, best_params, resource)
            full_classes = np.unique(y) if classes is not None else None
            for epoch in range(1, epochs + 1):
                resource.train(estimator, epoch, X, y, full_classes)
            self.refit_time_ = time.perf_counter() - t0
            self.best_estimator_ = estimator
        return self

    def _record(self, result: Any, candidates: list[dict], resource: _Resource) -> None:
        """cv_results_ and the fitted attributes, from halving's table of reports."""
        n = len(candidates)
        trial_of = {int(cfg["candidate"]): trial for trial, cfg in result.configs.items()}
        table = result.table()
        cols = {name: table.column(name).to_numpy(zero_copy_only=False) for name in table.column_names}
        trials, epochs, scores = cols["trial"], cols["epoch"], cols["score"]
        # The policy's decision points: a rung (rung policies, Hyperband) or a comparison with
        # other trials (interval rules). The engine's own decisions (failures, budget) have neither.
        rungs = sorted({d.epoch for d in result.decisions
                        if d.reason.rung is not None or d.reason.compared is not None} | {self.max_epochs})
        n_splits = self.n_splits_

        n_epochs = np.zeros(n, dtype=np.int64)
        mean = np.full(n, np.nan)
        splits = np.full((n_splits, n), np.nan)
        fit_time = np.zeros(n)
        score_time = np.full(n, np.nan)
        at_rung = {r: np.full(n, np.nan) for r in rungs}
        state = np.empty(n, dtype=object)
        rung_set = set(rungs)
        by_trial = {c: trial_of.get(c) for c in range(n)}
        rows_of: dict[int, list[int]] = {}
        for i, t in enumerate(trials.tolist()):
            rows_of.setdefault(t, []).append(i)
        failures = []
        for c in range(n):
            trial = by_trial[c]
            st = result.states.get(trial) if trial is not None else None
            state[c] = st.value if st is not None else "not started"  # a budget ended the search first
            rows = sorted(rows_of.get(trial, []), key=lambda i: epochs[i])
            if not rows:
                if st is TrialState.FAILED:
                    failures.append((c, result.failures.get(trial, "")))
                continue
            last = rows[-1]
            n_epochs[c] = epochs[last]
            mean[c] = scores[last]
            fit_time[c] = float(np.nansum(cols["fit_time"][rows].astype(float))) / n_splits
            score_time[c] = float(cols["score_time"][last]) / n_splits
            if n_splits > 1:
                for k in range(n_splits):
                    splits[k, c] = float(cols[f"split{k}_score"][last])
            else:
                splits[0, c] = scores[last]
            for i in rows:
                if int(epochs[i]) in rung_set:
                    at_rung[int(epochs[i])][c] = scores[i]
            if st is TrialState.FAILED:
                failures.append((c, result.failures.get(trial, "")))
                mean[c] = np.nan
                splits[:, c] = np.nan
        mean[~np.isfinite(mean)] = np.nan

        if failures:
            if len(failures) == n:
                raise ValueError(f"All the {n} candidates failed. The first failure, candidate "
                                 f"{failures[0][0]} {candidates[failures[0][0]]!r}:\n{failures[0][1]}")
            warnings.warn(f"{len(failures)} of the {n} candidates failed; their scores are NaN. The first, "
                          f"candidate {failures[0][0]} {candidates[failures[0][0]]!r}: "
                          f"{failures[0][1].splitlines()[0] if failures[0][1] else '?'}", FitFailedWarning)

        # Rank: scored before NaN, longer-trained before shorter, then by score (ties share a rank).
        keys = list(zip(np.isnan(mean), -n_epochs, -np.nan_to_num(mean, nan=0.0)))
        order = sorted(range(n), key=lambda c: keys[c])
        rank = np.empty(n, dtype=np.int32)
        for pos, c in enumerate(order):
            rank[c] = rank[order[pos - 1]] if pos and keys[c] == keys[order[pos - 1]] else pos + 1

        results: dict[str, Any] = {"params": candidates}
        names = sorted({name for params in candidates for name in params})
        for name in names:
            column = np.ma.MaskedArray(np.empty(n, dtype=object), mask=True)
            for c, params in enumerate(candidates):
                if name in params:
                    column[c] = params[name]
            results[f"param_{name}"] = column
        results["mean_test_score"] = mean
        std = np.full(n, np.nan)
        std[~np.isnan(mean)] = splits[:, ~np.isnan(mean)].std(axis=0)
        results["std_test_score"] = std
        if n_splits > 1:
            for k in range(n_splits):
                results[f"split{k}_test_score"] = splits[k]
        results["rank_test_score"] = rank
        results["n_epochs"] = n_epochs
        results["n_resources"] = np.array([resource.amount(int(e)) for e in n_epochs], dtype=np.int64)
        results["state"] = state
        results["mean_fit_time"] = fit_time
        results["mean_score_time"] = score_time
        for r in rungs:
            results[f"test_score_epoch_{r}"] = at_rung[r]
        self.cv_results_ = results

        if result.best_trial is not None:
            best = int(result.configs[result.best_trial]["candidate"])
        else:
            best = int(order[0])
        self.best_index_ = best
        self.best_params_ = candidates[best]
        self.best_score_ = float(mean[best])
        self.best_trial_estimator_ = result.best_model
        self.rung_epochs_ = rungs
        self.n_resources_ = [resource.amount(r) for r in rungs]
        self.n_candidates_ = [int(np.sum(n_epochs >= r)) for r in rungs]
        self.n_iterations_ = len(rungs)
        self.epochs_used_ = int(result.epochs_used)
        self.resources_used_ = int(sum(resource.amount(int(e)) for e in n_epochs)) * n_splits

    # -- delegation to the refit best estimator -----------------------------------

    def score(self, X: Any, y: Any = None) -> float:
        """``scorer_`` on ``best_estimator_`` (the estimator's ``score`` when ``scoring=None``)."""
        _check_refit(self, "score")
        check_is_fitted(self)
        return float(self.scorer_(self.best_estimator_, X, y))

    @available_if(_estimator_has("predict"))
    def predict(self, X: Any) -> Any:
        check_is_fitted(self)
        return self.best_estimator_.predict(X)

    @available_if(_estimator_has("predict_proba"))
    def predict_proba(self, X: Any) -> Any:
        check_is_fitted(self)
        return self.best_estimator_.predict_proba(X)

    @available_if(_estimator_has("predict_log_proba"))
    def predict_log_proba(self, X: Any) -> Any:
        check_is_fitted(self)
        return self.best_estimator_.predict_log_proba(X)

    @available_if(_estimator_has("decision_function"))
    def decision_function(self, X: Any) -> Any:
        check_is_fitted(self)
        return self.best_estimator_.decision_function(X)

    @available_if(_estimator_has("score_samples"))
    def score_samples(self, X: Any) -> Any:
        check_is_fitted(self)
        return self.best_estimator_.score_samples(X)

    @available_if(_estimator_has("transform"))
    def transform(self, X: Any) -> Any:
        check_is_fitted(self)
        return self.best_estimator_.transform(X)

    @available_if(_estimator_has("inverse_transform"))
    def inverse_transform(self, X: Any) -> Any:
        check_is_fitted(self)
        return self.best_estimator_.inverse_transform(X)

    @property
    def classes_(self) -> np.ndarray:
        _estimator_has("classes_")(self)
        return self.best_estimator_.classes_

    @property
    def n_features_in_(self) -> int:
        _estimator_has("n_features_in_")(self)
        return self.best_estimator_.n_features_in_
