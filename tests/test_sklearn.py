"""halving.sklearn.HalvingSearchCV: scikit-learn's conventions, and fits on a real local Ray."""

from __future__ import annotations

import ast
import importlib.util
import json
import os
import pickle
import subprocess
import sys
import tempfile
import textwrap
from pathlib import Path

import numpy as np
import pytest
from scipy.stats import loguniform
from sklearn.base import clone, is_classifier
from sklearn.exceptions import FitFailedWarning
from sklearn.datasets import load_breast_cancer, load_digits
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.ensemble import (GradientBoostingClassifier, GradientBoostingRegressor, HistGradientBoostingClassifier,
                              RandomForestRegressor)
from sklearn.linear_model import LogisticRegression, SGDClassifier
from sklearn.metrics import accuracy_score, f1_score
from sklearn.model_selection import ParameterSampler
from sklearn.model_selection._search import BaseSearchCV
from sklearn.pipeline import Pipeline, make_pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.svm import SVC
from sklearn.utils._param_validation import InvalidParameterError
from sklearn.utils.estimator_checks import (
    check_get_params_invariance,
    check_no_attributes_set_in_init,
    check_parameters_default_constructible,
    check_set_params,
    parametrize_with_checks,
)

import policies
import halving.sklearn
from halving.eventlog import iter_events, read_events
from halving.backends.ray_cluster import Capacity, ClusterError, ship_by_value
from halving.sklearn import (HalvingSearchCV, _check_not_searched, _exception_type, _rank, _resolve_resource,
                             _score_report)

ROOT = Path(__file__).resolve().parents[1]

SGD_SPACE = {"alpha": loguniform(1e-6, 1e-1), "loss": ["hinge", "log_loss", "modified_huber"],
             "penalty": ["l2", "l1"]}


class GrowingGBC(GradientBoostingClassifier):
    """Records how many trees each fit call started from: warm growth gives 0, 3, 6, ..."""

    def fit(self, X, y, **kw):
        self.grown_from_ = getattr(self, "grown_from_", []) + [len(getattr(self, "estimators_", []))]
        return super().fit(X, y, **kw)


class CountingScaler(StandardScaler):
    """Counts its fits: a Pipeline's head is fit once per candidate and fold, not per epoch."""

    def fit(self, X, y=None, sample_weight=None):
        self.n_fits_ = getattr(self, "n_fits_", 0) + 1
        return super().fit(X, y, sample_weight=sample_weight)


class WarmNoCount(ClassifierMixin, BaseEstimator):
    """Has warm_start but neither n_estimators nor max_iter: resource="auto" cannot guess."""

    def __init__(self, warm_start=False, n_rounds=10, depth=2):
        self.warm_start, self.n_rounds, self.depth = warm_start, n_rounds, depth

    def fit(self, X, y):
        return self


@pytest.fixture(scope="module")
def digits():
    X, y = load_digits(return_X_y=True)
    return X / 16.0, y


@pytest.fixture(scope="module")
def ship_this_module():
    ship_by_value(sys.modules[__name__])  # GrowingGBC, for the workers


def search(**kw) -> HalvingSearchCV:
    return HalvingSearchCV(SGDClassifier(random_state=0), SGD_SPACE, **kw)


# -- scikit-learn conventions (no Ray) --------------------------------------------


def test_clone_and_params_round_trip():
    s = search(n_candidates=9, max_epochs=3, policy="sha", cv=3, random_state=4, workers=2)
    params = s.get_params(deep=False)
    assert params["estimator"] is s.estimator and params["param_distributions"] is SGD_SPACE
    c = clone(s)
    assert c is not s and c.get_params(deep=False).keys() == params.keys()
    assert {k: v for k, v in c.get_params(deep=False).items() if k not in ("estimator", "param_distributions")} \
        == {k: v for k, v in params.items() if k not in ("estimator", "param_distributions")}
    assert c.get_params()["estimator__random_state"] == 0
    assert c.set_params(n_candidates=3, estimator__alpha=0.5) is c
    assert c.n_candidates == 3 and c.estimator.alpha == 0.5 and s.estimator.alpha != 0.5
    assert is_classifier(s)


@pytest.mark.parametrize("check", [check_parameters_default_constructible, check_get_params_invariance,
                                   check_set_params, check_no_attributes_set_in_init])
def test_sklearn_parameter_checks(check):
    check("HalvingSearchCV", search())


@pytest.mark.parametrize("kw, match", [
    ({"n_candidates": 0}, "n_candidates must be a positive int"),
    ({"max_epochs": 2.5}, "max_epochs must be a positive int"),
    ({"resource": "n_estimators"}, "not a parameter of SGDClassifier"),
    ({"scoring": ["accuracy", "f1_macro"]}, "refit must be set to a scorer key"),
    ({"scoring": {"acc": "accuracy"}, "refit": "f1"}, "refit must be set to a scorer key"),
    ({"n_jobs": 0}, "n_jobs must be None, a positive int, or a negative int"),
    ({"n_jobs": 1.5}, r"n_jobs=1\.5"),
    ({"n_jobs": 2, "workers": 3}, "give one, but got n_jobs=2 and workers=3"),
    ({"verbose": -1}, "verbose must be an int >= 0, but got verbose=-1"),
    ({"error_score": "ignore"}, "error_score must be 'raise' or a number, but got error_score='ignore'"),
])
def test_bad_arguments_raise_at_fit(digits, kw, match):
    s = search(**kw)  # __init__ validates nothing, as scikit-learn asks
    with pytest.raises(ValueError, match=match):
        s.fit(*digits)


def test_refit_of_a_wrong_type_is_a_type_error(digits):
    with pytest.raises(TypeError, match="refit must be a bool, a scorer name or a callable, but got refit=3"):
        search(refit=3).fit(*digits)


def test_estimator_without_a_resource_is_a_clear_error(digits):
    with pytest.raises(ValueError, match="SVC cannot train by epochs: it has no partial_fit method and no "
                                         "warm_start parameter"):
        HalvingSearchCV(SVC(), {"C": [1, 10]}).fit(*digits)


def test_resource_resolution():
    r = _resolve_resource(GradientBoostingClassifier(), "auto", 27)
    assert (r.kind, r.param, r.cumulative) == ("warm_start", "n_estimators", True)
    assert [r.amount(e) for e in (1, 3, 9, 27)] == [4, 12, 34, 100]
    assert _resolve_resource(SGDClassifier(), "auto", 27).kind == "partial_fit"
    assert _resolve_resource(HistGradientBoostingClassifier(), "auto", 9).cumulative
    lr = _resolve_resource(LogisticRegression(max_iter=30), "auto", 9)
    assert lr.param == "max_iter" and not lr.cumulative  # max_iter caps one fit: each epoch runs the increment
    assert sum(lr.amount(e) - lr.amount(e - 1) for e in range(1, 10)) == 30
    with pytest.raises(ValueError, match="smaller than max_epochs=27"):
        _resolve_resource(RandomForestRegressor(n_estimators=10), "auto", 27)
    with pytest.raises(ValueError, match="'n_estimators' is set by HalvingSearchCV"):
        _check_not_searched(_resolve_resource(RandomForestRegressor(), "auto", 9), [{"n_estimators": 5}])


def test_ranks_put_longer_trained_candidates_first():
    # NaN last; 9 epochs before 3; then by score; ties share the lower rank.
    mean = np.array([0.9, np.nan, 0.8, 0.95, 0.9, np.nan])
    epochs = np.array([9, 9, 9, 3, 9, 0])
    assert _rank(mean, epochs).tolist() == [1, 5, 3, 4, 1, 6]


def test_sklearn_module_reaches_ray_only_through_the_backend():
    tree = ast.parse(Path(halving.sklearn.__file__).read_text())
    imported = [alias.name for node in ast.walk(tree) if isinstance(node, ast.Import) for alias in node.names]
    imported += [node.module or "" for node in ast.walk(tree) if isinstance(node, ast.ImportFrom)]
    assert not [name for name in imported if name == "ray" or name.startswith("ray.")], imported
    names = {node.id for node in ast.walk(tree) if isinstance(node, ast.Name)}
    assert "ray" not in names


def test_built_on_scikit_learns_search():
    # cv_results_, best_* and the predict/score delegation are BaseSearchCV's, not restated here.
    assert issubclass(HalvingSearchCV, BaseSearchCV)
    for name in ("predict", "predict_proba", "decision_function", "score", "transform", "classes_"):
        assert name not in vars(HalvingSearchCV), name
    assert hasattr(search(), "predict") and not hasattr(search(refit=False), "predict")


# -- fits on Ray ------------------------------------------------------------------------


def test_partial_fit_search_on_digits(ray_session, digits, tmp_path):
    X, y = digits
    s = search(n_candidates=27, max_epochs=9, random_state=0, n_jobs=2, run_dir=tmp_path)
    assert s.fit(X, y) is s
    n = 27
    # The same candidates HalvingRandomSearchCV draws for random_state=0.
    assert s.cv_results_["params"] == list(ParameterSampler(SGD_SPACE, n, random_state=0))
    res = s.cv_results_
    for key in ("mean_test_score", "std_test_score", "rank_test_score", "n_epochs", "n_resources", "state",
                "param_alpha", "param_loss", "test_score_epoch_1", "test_score_epoch_3", "test_score_epoch_9"):
        assert len(res[key]) == n, key
    assert s.rung_epochs_ == [1, 3, 9] and s.n_resources_ == [1, 3, 9] and s.n_iterations_ == 3
    assert s.n_candidates_[0] == n and s.n_candidates_[-1] >= 1
    assert s.resource_ == "partial_fit" and s.n_splits_ == 1

    # Ranks: longer-trained first, then by score; the best is rank 1 at max_epochs.
    order = np.argsort(res["rank_test_score"], kind="stable")
    keys = [(-res["n_epochs"][c], -res["mean_test_score"][c]) for c in order]
    assert keys == sorted(keys)
    assert res["rank_test_score"][s.best_index_] == 1 and res["n_epochs"][s.best_index_] == 9
    assert s.best_score_ == res["mean_test_score"][s.best_index_] == s.result_.best_value
    assert s.best_params_ == res["params"][s.best_index_]
    # Per-rung columns: NaN exactly where a candidate did not get to that epoch.
    for r in (1, 3, 9):
        assert np.array_equal(np.isnan(res[f"test_score_epoch_{r}"]), res["n_epochs"] < r)
    assert not s.multimetric_ and callable(s.scorer_)

    # Training continued across rungs: every candidate's epochs are 1..k, once each, and
    # the best candidate's own SGD saw k passes over its training split (t_ counts samples + 1).
    table = s.result_.table()
    seen = {}
    for trial, epoch in zip(table.column("trial").to_pylist(), table.column("epoch").to_pylist()):
        seen.setdefault(trial, []).append(epoch)
    assert all(sorted(e) == list(range(1, len(e) + 1)) for e in seen.values())
    assert s.epochs_used_ == int(res["n_epochs"].sum()) == table.num_rows
    n_train = len(y) - int(np.ceil(0.2 * len(y)))
    assert s.best_trial_estimator_.t_ == n_train * 9 + 1
    assert s.result_.backend_stats["warm_promotions"] + s.result_.backend_stats["migrations"] >= 1

    # Refit on all of X for the same 9 epochs; predict and score go through it.
    assert s.best_estimator_.t_ == len(y) * 9 + 1
    assert s.predict(X).shape == y.shape
    assert s.score(X, y) == pytest.approx(accuracy_score(y, s.predict(X)))
    assert s.decision_function(X).shape == (len(y), 10)
    assert list(s.classes_) == list(range(10)) and s.n_features_in_ == 64
    assert s.run_dir_.startswith(str(tmp_path)) and (tmp_path / s.run_dir_ / "results.parquet").exists()
    again = pickle.loads(pickle.dumps(s))
    assert np.array_equal(again.predict(X), s.predict(X))


def test_warm_start_search_with_cv_folds(ray_session, ship_this_module, tmp_path):
    X, y = load_breast_cancer(return_X_y=True)
    space = {"learning_rate": loguniform(0.02, 1.0), "max_depth": [1, 2, 3]}
    policy = policies.make("sha", eta=3)  # an object is copied at fit, never started itself
    s = HalvingSearchCV(GrowingGBC(n_estimators=27, random_state=0), space, policy=policy, n_candidates=9,
                        max_epochs=9, cv=3, random_state=1, n_jobs=2, run_dir=tmp_path)
    s.fit(X, y)
    assert s.policy is policy and clone(s).policy is not policy
    assert s.resource_ == "n_estimators" and s.max_resources_ == 27 and s.n_splits_ == 3
    # Synchronous successive halving: scikit-learn's schedule, in estimators.
    assert s.n_candidates_ == [9, 3, 1] and s.n_resources_ == [3, 9, 27]
    res = s.cv_results_
    folds = np.vstack([res[f"split{k}_test_score"] for k in range(3)])
    assert np.allclose(folds.mean(axis=0), res["mean_test_score"])
    assert sorted(res["n_resources"].tolist()) == [3] * 6 + [9] * 2 + [27]
    assert s.resources_used_ == 3 * (6 * 3 + 2 * 9 + 27)
    # Each fold's copy of the best grew warm, 3 trees per epoch, never restarted.
    assert len(s.best_trial_estimator_) == 3
    for model in s.best_trial_estimator_:
        assert model.grown_from_ == list(range(0, 27, 3)) and len(model.estimators_) == 27
    assert len(s.best_estimator_.estimators_) == 27
    assert s.predict_proba(X).shape == (len(y), 2)
    assert 0.85 < s.score(X, y) <= 1.0


def test_refit_false_budget_a_list_of_dicts_and_failing_candidates(ray_session, digits, tmp_path):
    X, y = digits
    space = [{"loss": ["hinge"], "alpha": loguniform(1e-5, 1e-2)},
             {"loss": ["log_loss"], "penalty": ["l1", "l2"]},
             {"loss": ["no-such-loss"]}]
    s = HalvingSearchCV(SGDClassifier(random_state=0), space, n_candidates=9, max_epochs=3, refit=False, budget=6,
                        cv=2, random_state=2, n_jobs=2, run_dir=tmp_path)
    with pytest.warns(FitFailedWarning, match="candidates failed; their scores are set to error_score=nan"):
        s.fit(X, y)
    res = s.cv_results_
    failed = np.array([p["loss"] == "no-such-loss" for p in res["params"]])
    assert 0 < failed.sum() < 9
    assert "failed" in res["state"][failed] and set(res["state"][failed]) <= {"failed", "not started"}
    assert np.isnan(res["mean_test_score"][failed]).all()
    scored = ~np.isnan(res["mean_test_score"])
    assert res["rank_test_score"][~scored].min() > res["rank_test_score"][scored].max()  # NaN ranks last
    # The budget (6 epochs, fewer than the 9 candidates) ended the search: some never started.
    assert s.epochs_used_ <= 6 and s.result_.stop_reason == "budget"
    assert s.epochs_used_ == s.result_.table().num_rows == res["n_epochs"].sum()
    assert (res["n_epochs"][res["state"] == "not started"] == 0).all() and "not started" in res["state"]
    assert np.array_equal(res["param_penalty"].mask, ["penalty" not in p for p in res["params"]])
    assert np.array_equal(res["param_alpha"].mask, ["alpha" not in p for p in res["params"]])
    assert res["rank_test_score"][s.best_index_] == 1 and s.best_params_ == res["params"][s.best_index_]
    assert not hasattr(s, "best_estimator_")
    with pytest.raises(AttributeError) as info:
        s.predict(X)
    assert "refit=False" in str(info.value.__cause__)


def test_stopped_candidates_keep_their_last_score_and_resources(ray_session, tmp_path):
    X, y = load_breast_cancer(return_X_y=True)
    s = HalvingSearchCV(GradientBoostingClassifier(n_estimators=18, random_state=0),
                        {"learning_rate": loguniform(0.01, 1.0), "max_depth": [1, 2, 3]}, policy="sha",
                        n_candidates=9, max_epochs=9, cv=2, random_state=3, n_jobs=2, run_dir=tmp_path)
    s.fit(X, y)
    res = s.cv_results_
    assert s.n_candidates_ == [9, 3, 1] and s.rung_epochs_ == [1, 3, 9]
    stopped = res["state"] == "stopped"
    assert stopped.sum() == 8 and sorted(res["n_epochs"][stopped].tolist()) == [1] * 6 + [3] * 2
    # Each stopped candidate: its score and folds at the last epoch it trained, the trees it got.
    curves = s.result_.table().to_pylist()
    for c in np.flatnonzero(stopped):
        trial = next(t for t, cfg in s.result_.configs.items() if cfg["candidate"] == c)
        last = max((r for r in curves if r["trial"] == trial), key=lambda r: r["epoch"])
        assert last["epoch"] == res["n_epochs"][c]
        assert [res[f"split{k}_test_score"][c] for k in range(2)] == [last["split0_test_score"],
                                                                      last["split1_test_score"]]
        assert res["mean_test_score"][c] == pytest.approx(last["score"])
        assert res["mean_test_score"][c] == pytest.approx(res[f"test_score_epoch_{last['epoch']}"][c])
        assert res["n_resources"][c] == 2 * last["epoch"] and res["iter"][c] == (0 if last["epoch"] == 1 else 1)
        assert res["mean_fit_time"][c] > 0
    # Ranked by how far they got, then by score: the finished one first, then the two stopped at epoch 3.
    by_rank = np.argsort(res["rank_test_score"], kind="stable")
    assert res["n_epochs"][by_rank].tolist() == [9, 3, 3] + [1] * 6
    assert res["rank_test_score"][s.best_index_] == 1
    for group in (by_rank[1:3], by_rank[3:]):
        scores = res["mean_test_score"][group]
        assert np.all(scores[:-1] >= scores[1:])
    assert s.best_index_ == by_rank[0] and s.best_score_ == pytest.approx(s.result_.best_value)


def test_an_address_ray_cannot_use_is_a_cluster_error_and_leaves_no_run_dir(ray_session, digits, tmp_path):
    # With Ray already initialised here, joining another cluster is refused before anything is written.
    with pytest.raises(ClusterError):
        search(n_candidates=3, max_epochs=1, address="127.0.0.1:1", run_dir=tmp_path).fit(*digits)
    assert list(tmp_path.iterdir()) == []


def test_example_script_runs(ray_session, capsys):
    spec = importlib.util.spec_from_file_location("sklearn_search_example", ROOT / "examples" / "sklearn_search.py")
    example = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(example)
    sgd, gbc = example.main(n_candidates=6, max_epochs=3, n_jobs=2)
    out = capsys.readouterr().out
    assert "StandardScaler + SGDClassifier on digits" in out and "GradientBoostingClassifier on breast_cancer" in out
    assert "validation accuracy" in out and "f1_macro" in out
    assert sgd.resource_ == "partial_fit" and sgd.multimetric_ and gbc.resource_ == "n_estimators"
    assert gbc.n_splits_ == 3


# -- issue 12, item 7: scikit-learn habits ------------------------------------------------


def test_pipeline_resource_resolution():
    # resource="auto" looks at a Pipeline's final step, and names step parameters as scikit-learn does.
    r = _resolve_resource(make_pipeline(StandardScaler(), SGDClassifier()), "auto", 9)
    assert (r.kind, r.final_step) == ("partial_fit", True)
    r = _resolve_resource(make_pipeline(StandardScaler(), GradientBoostingClassifier(n_estimators=27)), "auto", 9)
    assert (r.kind, r.param, r.warm_key, r.final_step) == (
        "warm_start", "gradientboostingclassifier__n_estimators", "gradientboostingclassifier__warm_start", True)
    assert r.describe() == "gradientboostingclassifier__n_estimators" and r.amount(9) == 27
    lr = _resolve_resource(Pipeline([("clf", LogisticRegression(max_iter=30))]), "auto", 9)
    assert lr.param == "clf__max_iter" and not lr.cumulative
    with pytest.raises(ValueError, match=r"the Pipeline's final step 'svc' \(SVC\) cannot train by epochs.*"
                                         r"resource='svc__n_estimators'"):
        _resolve_resource(make_pipeline(StandardScaler(), SVC()), "auto", 9)
    # warm_start but no count it knows: the error names the parameters to pass as resource=.
    with pytest.raises(ValueError, match=r"Pass resource='<parameter>'.*one of \['est__depth', 'est__n_rounds'\]"):
        _resolve_resource(Pipeline([("scale", StandardScaler()), ("est", WarmNoCount())]), "auto", 9)
    with pytest.raises(ValueError, match=r"resource='n_estimators' is not a parameter of Pipeline.*"
                                         r"'gradientboostingclassifier__n_estimators'"):
        _resolve_resource(make_pipeline(StandardScaler(), GradientBoostingClassifier()), "n_estimators", 9)
    with pytest.raises(ValueError, match="resource='partial_fit', but the Pipeline's final step 'svc'"):
        _resolve_resource(make_pipeline(StandardScaler(), SVC()), "partial_fit", 9)
    with pytest.raises(ValueError, match="final step 'clf' is 'passthrough'"):
        _resolve_resource(Pipeline([("scale", StandardScaler()), ("clf", "passthrough")]), "auto", 9)
    with pytest.raises(ValueError, match="'gradientboostingclassifier__n_estimators' is set by HalvingSearchCV"):
        _check_not_searched(r, [{"gradientboostingclassifier__n_estimators": 5}])


def test_worker_exceptions_keep_their_class():
    tb = ("Traceback (most recent call last):\n  File \"x.py\", line 1, in f\n"
          "sklearn.utils._param_validation.InvalidParameterError: The 'loss' parameter of SGDClassifier must be\n"
          "  one of ...\n")
    assert _exception_type("InvalidParameterError: The 'loss' parameter", tb) is InvalidParameterError
    assert _exception_type("ValueError: bad", "Traceback ...\nValueError: bad\n") is ValueError
    assert _exception_type("NoSuchError: x", "Traceback ...\nnowhere.module.NoSuchError: x\n") is RuntimeError
    assert _exception_type("KeyboardInterrupt: ", "KeyboardInterrupt\n") is RuntimeError  # not an Exception


def test_score_reports_rank_by_the_refit_metric():
    multi = _score_report([{"acc": 0.5, "f1": 0.2}, {"acc": 0.7, "f1": 0.4}], "f1")
    assert multi["score"] == pytest.approx(0.3) and multi["multimetric"] is True
    assert multi["split1_test_acc"] == 0.7 and multi["split0_test_f1"] == 0.2
    assert _score_report([{"acc": 0.5, "f1": 0.2}], None)["score"] == 0.5  # the first scorer
    single = _score_report([0.25, 0.75], None)
    assert single == {"score": 0.5, "multimetric": False, "split0_test_score": 0.25, "split1_test_score": 0.75}


@pytest.mark.parametrize("n_jobs, workers, expected", [(None, None, None), (3, None, 3), (None, 3, 3), (-1, None, 8),
                                                       (-2, None, 7), (-20, None, 1)])
def test_n_jobs_counts_back_from_the_cpus_ray_sees(n_jobs, workers, expected):
    cluster = Capacity(cpus=8.0, max_node_cpus=8.0, alive=frozenset())
    assert search(n_jobs=n_jobs, workers=workers)._n_workers(cluster) == expected


def test_pipeline_search_fits_the_head_once_and_trains_the_final_step(ray_session, ship_this_module, digits):
    X, y = digits
    space = {"sgdclassifier__alpha": loguniform(1e-5, 1e-2), "countingscaler__with_mean": [True, False]}
    s = HalvingSearchCV(make_pipeline(CountingScaler(), SGDClassifier(random_state=0)), space, n_candidates=6,
                        max_epochs=3, policy="sha", random_state=0, n_jobs=2)
    s.fit(X, y)
    assert s.resource_ == "partial_fit" and s.n_candidates_ == [6, 2]
    assert set(s.best_params_) == set(space)
    scaler, sgd = s.best_trial_estimator_.steps[0][1], s.best_trial_estimator_.steps[-1][1]
    n_train = len(y) - int(np.ceil(0.2 * len(y)))
    assert scaler.n_fits_ == 1 and sgd.t_ == n_train * 3 + 1  # one scaler fit, three partial_fit passes
    assert isinstance(s.best_estimator_, Pipeline) and s.best_estimator_.steps[0][1].n_fits_ == 1
    assert s.best_estimator_.steps[-1][1].t_ == len(y) * 3 + 1
    assert s.score(X, y) == pytest.approx(accuracy_score(y, s.predict(X)))


def test_pipeline_search_grows_the_final_steps_count_warm(ray_session, ship_this_module):
    X, y = load_breast_cancer(return_X_y=True)
    pipe = Pipeline([("scale", CountingScaler()), ("gbc", GrowingGBC(n_estimators=9, random_state=0))])
    s = HalvingSearchCV(pipe, {"gbc__max_depth": [1, 2, 3]}, n_candidates=3, max_epochs=3, policy="sha", cv=2,
                        random_state=0, n_jobs=2)
    s.fit(X, y)
    assert s.resource_ == "gbc__n_estimators" and s.n_resources_ == [3, 9]
    for model in s.best_trial_estimator_:
        assert model.named_steps["scale"].n_fits_ == 1
        assert model.named_steps["gbc"].grown_from_ == [0, 3, 6] and len(model.named_steps["gbc"].estimators_) == 9
    assert s.best_estimator_.named_steps["gbc"].grown_from_ == [0, 3, 6]


@pytest.mark.parametrize("kw, workers", [({"n_jobs": 1}, 1), ({"n_jobs": -1}, 2), ({"n_jobs": -2}, 1),
                                         ({"workers": 1}, 1)])
def test_n_jobs_is_the_number_of_concurrent_trials(ray_session, digits, kw, workers):
    s = search(n_candidates=3, max_epochs=1, random_state=0, **kw).fit(*digits)
    assert s.result_.backend_stats["workers"] == workers  # ray_session has 2 CPUs


def test_verbose_prints_rungs_and_finished_candidates(ray_session, digits, capsys):
    search(n_candidates=6, max_epochs=3, policy="sha", random_state=0, n_jobs=2).fit(*digits)
    assert capsys.readouterr().out == ""
    search(n_candidates=6, max_epochs=3, policy="sha", random_state=0, n_jobs=2, verbose=1).fit(*digits)
    out = capsys.readouterr().out.splitlines()
    assert out[0].startswith("[HalvingSearchCV] 6 candidates, 1 fold(s) each, policy sha, up to 3 epochs")
    assert any(line.startswith("[HalvingSearchCV] epoch 1 (partial_fit=1) reached after") for line in out)
    assert any(line.startswith("[HalvingSearchCV] epoch 3 (partial_fit=3) reached after") for line in out)
    assert any(line.startswith("[HalvingSearchCV] done in") for line in out)
    assert "[HalvingSearchCV] epoch 3 (partial_fit=3): 2 candidates" in out
    assert not any("candidate " in line and "/6" in line for line in out)
    search(n_candidates=6, max_epochs=3, policy="sha", random_state=0, n_jobs=2, verbose=2).fit(*digits)
    ended = [line for line in capsys.readouterr().out.splitlines() if "/6 " in line]
    assert len(ended) == 6 and sum(" completed at epoch 3: score=0." in line for line in ended) == 2
    assert all("alpha=" in line and "loss=" in line for line in ended)


def test_multimetric_scoring_with_a_refit_name(ray_session, digits):
    X, y = digits
    scoring = {"acc": "accuracy", "f1": "f1_macro"}
    s = search(n_candidates=6, max_epochs=3, policy="sha", cv=2, random_state=0, n_jobs=2, scoring=scoring,
               refit="f1").fit(X, y)
    res = s.cv_results_
    assert s.multimetric_ and set(s.scorer_) == {"acc", "f1"}
    for name in ("acc", "f1"):
        for key in ("mean_test_", "std_test_", "rank_test_", "split0_test_", "split1_test_"):
            assert len(res[key + name]) == 6, key + name
        assert f"test_{name}_epoch_3" in res
    assert "mean_test_score" not in res
    # The policy ranked by f1: its reports' value is the mean f1 over the folds.
    assert s.best_index_ == int(np.argmin(res["rank_test_f1"]))
    assert s.best_score_ == res["mean_test_f1"][s.best_index_] == pytest.approx(s.result_.best_value)
    assert s.best_score_ == pytest.approx(f1_score(y, s.best_trial_estimator_[0].predict(X), average="macro"),
                                          abs=0.2)  # a sanity bound: a model this good on all of X
    assert s.score(X, y) == pytest.approx(f1_score(y, s.predict(X), average="macro"))  # scores with refit's scorer


def test_multimetric_scoring_with_a_callable_refit_and_without_refit(ray_session, digits):
    X, y = digits
    pick = lambda results: int(np.argmin(results["rank_test_acc"]))  # noqa: E731
    s = search(n_candidates=4, max_epochs=1, random_state=0, n_jobs=2, scoring=["accuracy", "f1_macro"],
               refit=lambda r: int(np.argmax(r["mean_test_f1_macro"]))).fit(X, y)
    assert s.best_index_ == int(np.argmax(s.cv_results_["mean_test_f1_macro"]))
    assert not hasattr(s, "best_score_") and s.predict(X).shape == y.shape
    s = search(n_candidates=4, max_epochs=1, random_state=0, n_jobs=2, refit=pick,
               scoring={"acc": "accuracy"}).fit(X, y)
    assert s.best_index_ == pick(s.cv_results_)
    s = search(n_candidates=4, max_epochs=1, random_state=0, n_jobs=2, scoring=["accuracy", "f1_macro"],
               refit=False).fit(X, y)
    assert s.multimetric_ and not hasattr(s, "best_index_") and not hasattr(s, "best_estimator_")
    assert "rank_test_f1_macro" in s.cv_results_


FAILING_SPACE = [{"loss": ["hinge"], "alpha": loguniform(1e-5, 1e-2)}, {"loss": ["no-such-loss"]}]


def test_error_score_is_the_score_of_failing_candidates(ray_session, digits):
    s = HalvingSearchCV(SGDClassifier(random_state=0), FAILING_SPACE, n_candidates=8, max_epochs=1, cv=2,
                        random_state=0, n_jobs=2, error_score=-1.0)
    with pytest.warns(FitFailedWarning, match="set to error_score=-1.0.*no-such-loss"):
        s.fit(*digits)
    res = s.cv_results_
    failed = np.array([p["loss"] == "no-such-loss" for p in res["params"]])
    assert 0 < failed.sum() < 8 and (res["state"][failed] == "failed").all()
    for key in ("mean_test_score", "split0_test_score", "split1_test_score"):
        assert (res[key][failed] == -1.0).all() and (res[key][~failed] > 0).all()
    assert not failed[s.best_index_]


def test_error_score_raise_stops_the_search_and_raises_the_workers_error(ray_session, digits, tmp_path):
    s = HalvingSearchCV(SGDClassifier(random_state=0), FAILING_SPACE, n_candidates=8, max_epochs=3,
                        random_state=0, n_jobs=1, error_score="raise", run_dir=tmp_path)
    with pytest.raises(InvalidParameterError, match="(?s)'loss' parameter of SGDClassifier.*no-such-loss.*"
                                                    "error_score='raise'.*Traceback") as info:
        s.fit(*digits)
    assert isinstance(info.value, ValueError)
    (run,) = tmp_path.iterdir()
    finished = [e for e in iter_events(read_events(run)) if e["kind"] == "experiment_finished"]
    summary = json.loads(finished[0]["payload"])
    # The failing candidate, and at most the one queued behind it (halving's lookahead of 1), failed;
    # no candidate was handed out after the failure came back.
    assert 1 <= summary["n_failed"] <= 2 and summary["stop_reason"] == "failed" and summary["n_trials"] < 8


def test_temporary_run_dirs_are_removed_and_the_fit_stays_usable(ray_session, digits, tmp_path, monkeypatch):
    X, y = digits
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    s = search(n_candidates=4, max_epochs=3, random_state=0, n_jobs=2).fit(X, y)
    assert list(tmp_path.iterdir()) == []
    assert s.run_dir_ is None and s.result_.run_dir is None and s.result_.model_path is None
    assert s.result_.best_model is not None and s.best_trial_estimator_ is s.result_.best_model
    assert s.result_.table().num_rows == s.epochs_used_
    again = pickle.loads(pickle.dumps(s))
    assert np.array_equal(again.predict(X), s.predict(X))
    with pytest.raises(ValueError):  # a failed fit leaves nothing either
        HalvingSearchCV(SGDClassifier(), {"loss": ["no-such-loss"]}, n_candidates=1, max_epochs=1).fit(X, y)
    assert list(tmp_path.iterdir()) == []
    assert ray_session.is_initialized()  # a Ray the user started is theirs: never shut down by fit


KEPT_RAY_SCRIPT = textwrap.dedent('''
    import atexit, glob, os, sys, tempfile

    def after_halving():  # registered before halving's own handler, so it runs after it
        import ray
        from halving.backends import ray_cluster
        print("AT_EXIT", ray.is_initialized(), ray_cluster._kept["session"], flush=True)

    atexit.register(after_halving)
    import ray
    inits = []
    real_init = ray.init

    def counting_init(*args, **kwargs):
        inits.append(kwargs.get("address"))
        return real_init(*args, **kwargs)

    ray.init = counting_init
    from sklearn.datasets import load_digits
    from sklearn.linear_model import SGDClassifier
    from sklearn.model_selection import cross_validate
    from halving.sklearn import HalvingSearchCV

    class PidSGD(SGDClassifier):
        def partial_fit(self, X, y, classes=None):
            self.pid_ = os.getpid()
            return super().partial_fit(X, y, classes=classes)

    X, y = load_digits(return_X_y=True)
    search = HalvingSearchCV(PidSGD(random_state=0), {"alpha": [1e-4, 1e-3, 1e-2]}, n_candidates=3, max_epochs=3,
                             n_jobs=2, random_state=0)
    out = cross_validate(search, X / 16.0, y, cv=3, return_estimator=True)
    pids = {e.best_trial_estimator_.pid_ for e in out["estimator"]}
    print("INITS", inits, "PIDS", len(pids), "ALIVE", ray.is_initialized(),
          "LEFT", len(glob.glob(os.path.join(tempfile.gettempdir(), "halving-sklearn-*"))), flush=True)
''')


@pytest.mark.slow
def test_one_ray_and_warm_workers_across_fits_shut_down_at_exit(tmp_path):
    # A fresh interpreter without Ray: cross_validate fits the search three times.
    script = tmp_path / "kept.py"
    script.write_text(KEPT_RAY_SCRIPT)
    env = {**os.environ, "PYTHONPATH": str(ROOT), "TMPDIR": str(tmp_path), "RAY_TMPDIR": tempfile.gettempdir()}
    out = subprocess.run([sys.executable, str(script)], env=env, capture_output=True, text=True, timeout=600)
    assert out.returncode == 0, out.stderr[-3000:]
    lines = {line.split()[0]: line for line in out.stdout.splitlines() if line.split()}
    # One local Ray for the three fits; the same two worker processes trained every fold's search
    # (fresh workers would make three different pids); no run folder left; Ray ended at exit.
    assert lines["INITS"].startswith("INITS ['local'] PIDS ")
    assert " PIDS 1 " in lines["INITS"] or " PIDS 2 " in lines["INITS"]
    assert "ALIVE True" in lines["INITS"] and "LEFT 0" in lines["INITS"]
    assert lines["AT_EXIT"] == "AT_EXIT False None"


@parametrize_with_checks([
    # scikit-learn checks its own searches with error_score="raise" (instance_generator.py): so here.
    HalvingSearchCV(make_pipeline(StandardScaler(), SGDClassifier(random_state=0)),
                    {"sgdclassifier__alpha": [1e-4, 1e-3]}, n_candidates=2, max_epochs=2, n_jobs=2, random_state=0,
                    error_score="raise"),
    HalvingSearchCV(GradientBoostingRegressor(n_estimators=40, random_state=0), {"max_depth": [2, 3]},
                    n_candidates=2, max_epochs=2, cv=2, n_jobs=2, random_state=0, error_score="raise"),
])
@pytest.mark.slow
def test_scikit_learn_estimator_checks(estimator, check, ray_session):
    check(estimator)


def test_a_joined_cluster_is_joined_once_per_process_and_its_cpus_are_not_held(monkeypatch):
    # No cluster to join here: join, Ray's state and the session are stand-ins.
    from halving.backends import ray_cluster, ray_pool

    state = {"initialized": False, "joins": 0}
    monkeypatch.setattr(ray_cluster.ray, "is_initialized", lambda: state["initialized"])
    monkeypatch.setattr(ray_cluster, "join", lambda address: state.update(initialized=True, joins=state["joins"] + 1))
    monkeypatch.setattr(ray_cluster, "session_id", lambda: ("node", "job") if state["initialized"] else None)
    monkeypatch.setattr(ray_cluster, "capacity", lambda: Capacity(cpus=4.0, max_node_cpus=4.0, alive=frozenset()))
    monkeypatch.setattr(ray_cluster, "_kept", {"address": None, "session": None, "atexit": True})
    monkeypatch.setattr(ray_pool, "_idle", {**ray_pool._idle, "session": None})
    for _ in range(3):
        with ray_cluster.connect("auto", keep=True) as cluster:
            assert cluster.cpus == 4.0
    assert state["joins"] == 1 and ray_cluster._kept["address"] == "auto"
    assert ray_pool._idle["session"] is None  # idle workers would hold a shared cluster's CPUs: not kept
    with pytest.raises(ClusterError, match=r"already runs the Ray that halving kept for it \(auto\); call "
                                           r"ray.shutdown\(\) before joining 10.0.0.1:6379"):
        with ray_cluster.connect("10.0.0.1:6379", keep=True):
            pass
