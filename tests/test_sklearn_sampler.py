"""HalvingSearchCV(sampler=...): model samplers propose candidates from param_distributions
translated to a halving space, on a real local Ray; bad samplers and distributions are
refused before anything runs."""

from __future__ import annotations

import json

import pytest
from scipy import stats
from sklearn.datasets import load_digits
from sklearn.linear_model import SGDClassifier
from sklearn.model_selection import ParameterGrid

import halving.sklearn
from halving import space as hs
from halving.errors import SpecError, SpecTypeError
from halving.samplers import TPESampler
from halving.sklearn import HalvingSearchCV
from halving.sklearn_space import ParamSpace

from ._sampler_runs import proposals

PENALTIES = ["l2", "l1", None]
SPACE = {"alpha": stats.loguniform(1e-6, 1e-1), "eta0": stats.uniform(0.01, 0.5),
         "n_iter_no_change": stats.randint(1, 8), "loss": ["hinge", "log_loss"], "penalty": PENALTIES,
         "power_t": stats.norm(0.5, 0.1)}


@pytest.fixture(scope="module")
def digits():
    X, y = load_digits(return_X_y=True)
    return X[:600] / 16.0, y[:600]


def search(space=SPACE, **kw) -> HalvingSearchCV:
    return HalvingSearchCV(SGDClassifier(random_state=0, learning_rate="invscaling"), space, **kw)


def _check_params(params: dict) -> None:
    assert set(params) == set(SPACE)
    assert type(params["alpha"]) is float and 1e-6 <= params["alpha"] <= 1e-1
    assert type(params["eta0"]) is float and 0.01 <= params["eta0"] <= 0.51
    assert type(params["n_iter_no_change"]) is int and 1 <= params["n_iter_no_change"] <= 7
    assert type(params["power_t"]) is float
    assert params["loss"] in ("hinge", "log_loss")
    assert any(params["penalty"] is p for p in PENALTIES)  # the very object listed


# -- the translation (no Ray) -----------------------------------------------------------


def test_distributions_become_the_halving_dimensions_with_the_same_support():
    ps = ParamSpace.of({"a": stats.uniform(2, 3), "b": stats.loguniform(1e-4, 1e-1), "c": stats.randint(3, 9),
                        "d": stats.norm(1.0, 0.5), "e": stats.reciprocal(2, 8), "f": [(1,), None, "x"]}, "tpe")
    dims = ps.space.dimensions
    assert dims["a"] == hs.uniform(2.0, 5.0) and dims["b"] == hs.loguniform(1e-4, 1e-1)
    assert dims["c"] == hs.randint(3, 9) and dims["d"] == hs.normal(1.0, 0.5)
    assert dims["e"] == hs.loguniform(2.0, 8.0) and dims["f"] == hs.grid([0, 1, 2])
    params = ps.params({"a": 2.5, "b": 0.01, "c": 4, "d": 1.2, "e": 3.0, "f": 0})
    assert params["f"] == (1,) and type(params["f"]) is tuple and ps.n_distinct is None
    # A scaled loguniform is still one; randint's loc shifts its integers.
    scaled = ParamSpace.of({"s": stats.loguniform(1, 10, scale=2), "r": stats.randint(0, 3, loc=5)}, "tpe")
    assert scaled.space.dimensions["s"] == hs.loguniform(2.0, 20.0)
    assert scaled.space.dimensions["r"] == hs.randint(5, 8)


def test_a_list_of_dicts_picks_one_dict_and_names_its_parameters_back():
    ps = ParamSpace.of([{"a": [1, 2]}, {"a": stats.uniform(0, 1), "b": ["x", "y", "z"]}], "bohb")
    assert set(ps.space.names) == {"dict", "a@0", "a@1", "b@1"}
    assert ps.params({"dict": 0, "a@0": 1, "a@1": 0.3, "b@1": 2}) == {"a": 2}
    assert ps.params({"dict": 1, "a@0": 1, "a@1": 0.3, "b@1": 2}) == {"a": 0.3, "b": "z"}
    assert ParamSpace.of([{"a": [1, 2]}, {"b": ["x", "y", "z"]}], "tpe").n_distinct == 5


@pytest.mark.parametrize(("value", "match"), [
    (stats.expon(), r"param_distributions\['alpha'\] is scipy.stats.expon\(\).*uniform, loguniform"),
    (stats.loguniform(1, 10, loc=1), r"loc=1.0 shifts it"),
    ("abc", r"must be a list of values or a scipy.stats distribution, but got 'abc'"),
    ([], r"param_distributions\['alpha'\] is an empty list"),
])
def test_what_a_model_sampler_cannot_search_is_refused_naming_it(value, match):
    with pytest.raises((SpecError, SpecTypeError), match=match):
        ParamSpace.of({"alpha": value}, "tpe")


class _Tripwire(Exception):
    pass


def _no_ray(*args, **kwargs):
    raise _Tripwire("fit got as far as connecting to Ray")


@pytest.mark.parametrize(("kw", "error", "match"), [
    ({"sampler": "tpx"}, SpecError, "unknown sampler 'tpx'"),
    ({"sampler": 3}, TypeError, "sampler=3"),
    ({"sampler": "tpe", "space": {"alpha": stats.expon(), "loss": ["hinge"]}}, TypeError,
     r"param_distributions\['alpha'\] is scipy.stats.expon\(\), which sampler 'tpe' cannot propose from"),
    ({"sampler": "bohb", "space": [{"loss": ["hinge"]}, {"alpha": stats.gamma(2)}]}, TypeError,
     r"param_distributions\[1\]\['alpha'\] is scipy.stats.gamma\(2\)"),
    ({"sampler": "grid", "space": {"alpha": stats.uniform(0, 1)}}, SpecError, r"grid.*'alpha'"),
    ({"sampler": "grid", "space": [{"loss": ["hinge"]}, {"penalty": ["l1"]}]}, SpecError, "list of 2 dicts"),
    ({"sampler": "tpe", "space": {"alpha": [1e-4], "max_iter": [5]}, "resource": "max_iter"}, ValueError,
     "'max_iter' is set by HalvingSearchCV"),
])
def test_bad_samplers_and_distributions_are_refused_before_anything_runs(digits, monkeypatch, tmp_path, kw,
                                                                          error, match):
    monkeypatch.setattr(halving.sklearn, "connect", _no_ray)
    space = kw.pop("space", SPACE)
    with pytest.raises(error, match=match):
        search(space, max_epochs=3, run_dir=tmp_path / "runs", **kw).fit(*digits)
    assert not (tmp_path / "runs").exists()


def test_a_sampler_refuses_its_own_bad_parameters_naming_them():
    with pytest.raises(ValueError, match="n_startup"):
        TPESampler(n_startup=1)
    # A sampler object's parameters go with it: it is a search parameter like any other.
    s = search(sampler=TPESampler(n_startup=5))
    assert s.get_params()["sampler"].n_startup == 5
    assert halving.sklearn.clone(s).sampler.params() == TPESampler(n_startup=5).params()


# -- on Ray --------------------------------------------------------------------------------


@pytest.mark.parametrize("sampler", ["tpe", "bohb"])
def test_a_model_sampler_proposes_valid_candidates_as_results_come_in(ray_session, digits, tmp_path, sampler,
                                                                      capsys):
    X, y = digits
    s = search(sampler=sampler, n_candidates=24, max_epochs=3, random_state=0, n_jobs=2, run_dir=tmp_path,
               verbose=2)
    s.fit(X, y)
    res = s.cv_results_
    assert len(res["params"]) == 24 == len(s.result_.configs)
    for params in res["params"]:
        _check_params(params)
    assert len({json.dumps(p, sort_keys=True, default=str) for p in res["params"]}) == 24
    # Every candidate evaluated, in trial order, with the parameters its trial trained.
    space = ParamSpace.of(SPACE, sampler)
    assert res["params"] == [space.params(s.result_.configs[t]) for t in sorted(s.result_.configs)]
    assert list(res["param_alpha"]) == [p["alpha"] for p in res["params"]]
    assert s.best_params_ == res["params"][s.best_index_] and s.best_score_ > 0.5
    assert s.best_estimator_.get_params()["alpha"] == s.best_params_["alpha"]
    assert s.best_trial_estimator_ is not None and s.best_trial_estimator_.alpha == s.best_params_["alpha"]
    # The sampler's model proposed some of them, from the reports before it.
    origins = [json.loads(o) for _, _, o in proposals(s.run_dir_)]
    assert {o["sampler"] for o in origins} == {sampler}
    assert any(o["model"] != "random" and o["n_obs"] > 0 for o in origins), origins
    saved = json.loads((tmp_path / s.run_dir_ / "candidates.json").read_text())
    assert [c["alpha"] for c in saved] == [repr(p["alpha"]) for p in res["params"]]
    out = capsys.readouterr().out
    assert f"24 candidates proposed by '{sampler}'" in out and "candidate 24/24" in out


def test_the_same_random_state_gives_the_same_proposals(ray_session, digits):
    X, y = digits
    fits = [search(sampler="tpe", n_candidates=16, max_epochs=3, random_state=seed, n_jobs=1).fit(X, y)
            for seed in (5, 5, 6)]
    same, other = fits[0].cv_results_["params"], fits[2].cv_results_["params"]
    assert fits[1].cv_results_["params"] == same and other != same
    assert fits[1].best_params_ == fits[0].best_params_


def test_a_list_of_dicts_with_a_model_sampler(ray_session, digits):
    X, y = digits
    dicts = [{"loss": ["hinge"], "alpha": stats.loguniform(1e-5, 1e-2)},
             {"loss": ["log_loss"], "penalty": ["l1", "l2"], "eta0": stats.uniform(0.01, 0.1)}]
    s = search(dicts, sampler="bohb", n_candidates=12, max_epochs=3, random_state=1, n_jobs=2).fit(X, y)
    assert len(s.cv_results_["params"]) == 12
    for params in s.cv_results_["params"]:
        assert set(params) in ({"loss", "alpha"}, {"loss", "penalty", "eta0"})
        assert (params["loss"] == "hinge") == ("alpha" in params)
    # The masked param_ columns are scikit-learn's: masked where a candidate's dict lacks the name.
    assert list(s.cv_results_["param_alpha"].mask) == ["alpha" not in p for p in s.cv_results_["params"]]


def test_the_grid_sampler_walks_a_grid_of_lists_and_stops_at_its_size(ray_session, digits):
    X, y = digits
    grid = {"loss": ["hinge", "log_loss", "modified_huber"], "penalty": ["l2", "l1"]}
    s = search(grid, sampler="grid", n_candidates=81, max_epochs=1, n_jobs=2).fit(X, y)
    params = s.cv_results_["params"]
    assert len(params) == 6 and sorted(map(str, params)) == sorted(map(str, ParameterGrid(grid)))
    assert params[:2] == [{"loss": "hinge", "penalty": "l2"}, {"loss": "hinge", "penalty": "l1"}]  # last fastest
    fewer = search(grid, sampler="grid", n_candidates=4, max_epochs=1, n_jobs=2).fit(X, y)
    assert fewer.cv_results_["params"] == params[:4]
