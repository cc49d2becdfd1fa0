"""scikit-learn's ``HalvingRandomSearchCV``, on exactly the benchmark's configurations.

It refits each survivor from scratch at each rung; its resource is ``max_iter``
(epochs of a ``fit``) or ``n_estimators``, so that a candidate at k is trained for
exactly k units (``n_samples`` would change the data rather than the training length).
"""

from __future__ import annotations

import os
import time
import warnings
from typing import Any

import numpy as np

from ..workloads import ModelWorkload, SearchWorkload
from . import Outcome

__all__ = ["run", "run_search", "start_joblib"]


def _estimator(w: ModelWorkload, config: dict, R: int) -> Any:
    """The workload's estimator for ``fit``: ``max_iter`` epochs, never stopping early."""
    est = w.make_model(config)
    if w.name == "sgd":
        return est.set_params(tol=None, shuffle=True, max_iter=R)
    return est.set_params(shuffle=True, max_iter=R, n_iter_no_change=10 * R + 10)


def _search(w: ModelWorkload, configs: list[dict], R: int, eta: int, workers: int, seed: int, cv: Any) -> Any:
    from sklearn.experimental import enable_halving_search_cv  # noqa: F401
    from sklearn.model_selection import HalvingRandomSearchCV

    params = [_estimator(w, c, R).get_params() for c in configs]
    varying = sorted(k for k in params[0] if any(repr(p[k]) != repr(params[0][k]) for p in params))
    # One single-point dict per configuration, all lists: its ParameterSampler then draws
    # exactly these configurations, without replacement.
    dists = [{k: [p[k]] for k in varying} for p in params]
    return HalvingRandomSearchCV(_estimator(w, configs[0], R), dists, n_candidates=len(configs),
                                 resource="max_iter", min_resources=1, max_resources=R, factor=eta, cv=cv,
                                 n_jobs=workers, refit=False, random_state=seed), dists


def run(w: ModelWorkload, configs: list[dict], *, max_epochs: int, eta: int, workers: int, seed: int) -> Outcome:
    """The search on the workload's training part, scored on its validation part (``PredefinedSplit``).

    Its test accuracy is that of its chosen candidate fit for R epochs on the training
    part, as in its last rung (not counted in its epochs or wall time).
    """
    from sklearn.model_selection import PredefinedSplit

    if not w.sklearn:
        raise ValueError(f"workload {w.name!r} is not a scikit-learn estimator")
    R, d = max_epochs, w.load()
    X, y = np.concatenate([d.X_train, d.X_val]), np.concatenate([d.y_train, d.y_val])
    cv = PredefinedSplit(np.r_[np.full(len(d.y_train), -1), np.zeros(len(d.y_val), dtype=int)])
    search, dists = _search(w, configs, R, eta, workers, seed, cv)
    os.environ.setdefault("PYTHONWARNINGS", "ignore")  # ConvergenceWarning from every short fit, in the workers
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        t0 = time.perf_counter()
        search.fit(X, y)
        wall = time.perf_counter() - t0
        res = search.cv_results_
        first = sorted(repr(sorted((k, repr(v)) for k, v in p.items() if k != "max_iter"))
                       for p, it in zip(res["params"], res["iter"]) if it == 0)
        expect = sorted(repr(sorted((k, repr(v[0])) for k, v in x.items())) for x in dists)
        if first != expect:
            raise RuntimeError("HalvingRandomSearchCV did not run exactly the given configurations")
        best = search.estimator.__class__(**{**search.estimator.get_params(), **search.best_params_, "max_iter": R})
        test = float(best.fit(d.X_train, d.y_train).score(d.X_test, d.y_test))
    last = res["iter"] == res["iter"].max()
    extra = {"reached_R": int(np.sum(last & (res["n_resources"] >= R))),
             "n_candidates": [int(c) for c in search.n_candidates_],
             "n_resources": [int(r) for r in search.n_resources_]}
    finals = [(None, {w.metric: float(search.best_score_), "test_accuracy": test})]
    events = [(wall, None, R, {w.metric: float(search.best_score_)})]
    return Outcome("sklearn", "HalvingRandomSearchCV", wall, int(np.sum(res["n_resources"])), finals, events, extra)


def run_search(w: SearchWorkload, *, seed: int, split: tuple, cv: Any, workers: int) -> dict[str, Any]:
    """The search on a search workload with cross-validation, as ``HalvingSearchCV`` is run."""
    from sklearn.experimental import enable_halving_search_cv  # noqa: F401
    from sklearn.model_selection import HalvingRandomSearchCV

    X_tr, X_te, y_tr, y_te = split
    search = HalvingRandomSearchCV(w.theirs, w.space, n_candidates=w.n, factor=3, resource=w.resource,
                                   min_resources=w.min_resources, max_resources=w.max_resources, cv=cv,
                                   random_state=seed, n_jobs=workers, refit=True)
    t0 = time.perf_counter()
    search.fit(X_tr, y_tr)
    wall = time.perf_counter() - t0
    res = search.cv_results_
    # scikit-learn adds the resource (max_iter / n_estimators) to each candidate's params.
    first = [{k: v for k, v in p.items() if k != w.resource} for p, it in zip(res["params"], res["iter"]) if it == 0]
    return {"best": search.best_score_, "test": search.score(X_te, y_te),
            "work": int(np.sum(res["n_resources"])) * cv.get_n_splits(), "wall": wall, "refit": search.refit_time_,
            "loop": None, "n_candidates": search.n_candidates_, "n_resources": search.n_resources_, "params": first}


def start_joblib(workers: int) -> float:
    """Start joblib's worker processes once (scikit-learn's ``n_jobs``), as Ray is started once."""
    from joblib import Parallel, delayed

    t0 = time.perf_counter()
    Parallel(n_jobs=workers)(delayed(abs)(i) for i in range(2 * workers))
    return time.perf_counter() - t0
