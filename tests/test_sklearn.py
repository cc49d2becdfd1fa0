"""halving.sklearn.HalvingSearchCV: scikit-learn's conventions, and fits on a real local Ray."""

from __future__ import annotations

import ast
import importlib.util
import pickle
import sys
from pathlib import Path

import numpy as np
import pytest
from scipy.stats import loguniform
from sklearn.base import clone, is_classifier
from sklearn.exceptions import FitFailedWarning
from sklearn.datasets import load_breast_cancer, load_digits
from sklearn.ensemble import GradientBoostingClassifier, HistGradientBoostingClassifier, RandomForestRegressor
from sklearn.linear_model import LogisticRegression, SGDClassifier
from sklearn.metrics import accuracy_score
from sklearn.model_selection import ParameterSampler
from sklearn.model_selection._search import BaseSearchCV
from sklearn.svm import SVC
from sklearn.utils.estimator_checks import (
    check_get_params_invariance,
    check_no_attributes_set_in_init,
    check_parameters_default_constructible,
    check_set_params,
)

import policies
import halving.sklearn
from halving.backends.ray_cluster import ClusterError, ship_by_value
from halving.sklearn import HalvingSearchCV, _check_not_searched, _rank, _resolve_resource

ROOT = Path(__file__).resolve().parents[1]

SGD_SPACE = {"alpha": loguniform(1e-6, 1e-1), "loss": ["hinge", "log_loss", "modified_huber"],
             "penalty": ["l2", "l1"]}


class GrowingGBC(GradientBoostingClassifier):
    """Records how many trees each fit call started from: warm growth gives 0, 3, 6, ..."""

    def fit(self, X, y, **kw):
        self.grown_from_ = getattr(self, "grown_from_", []) + [len(getattr(self, "estimators_", []))]
        return super().fit(X, y, **kw)


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
    ({"scoring": ["accuracy", "f1"]}, "one scorer"),
])
def test_bad_arguments_raise_at_fit(digits, kw, match):
    s = search(**kw)  # __init__ validates nothing, as scikit-learn asks
    with pytest.raises(ValueError, match=match):
        s.fit(*digits)


def test_estimator_without_a_resource_is_a_clear_error(digits):
    with pytest.raises(ValueError, match="SVC supports neither resource.*partial_fit.*warm_start"):
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
    s = search(n_candidates=27, max_epochs=9, random_state=0, workers=2, run_dir=tmp_path)
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
                        max_epochs=9, cv=3, random_state=1, workers=2, run_dir=tmp_path)
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
                        cv=2, random_state=2, workers=2, run_dir=tmp_path)
    with pytest.warns(FitFailedWarning, match="candidates failed"):
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
                        n_candidates=9, max_epochs=9, cv=2, random_state=3, workers=2, run_dir=tmp_path)
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
        assert [res[f"split{k}_test_score"][c] for k in range(2)] == [last["split0_score"], last["split1_score"]]
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
    sgd, gbc = example.main(n_candidates=6, max_epochs=3, workers=2)
    out = capsys.readouterr().out
    assert "SGDClassifier on digits" in out and "GradientBoostingClassifier on breast_cancer" in out
    assert sgd.resource_ == "partial_fit" and gbc.resource_ == "n_estimators" and gbc.n_splits_ == 3
