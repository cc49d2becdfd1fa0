"""A logged run interrupted and resumed proposes what an uninterrupted run proposes: the
sampler is fed the log's observations in the log's order, and every logged proposal is
asked again; where one differs, the resume says which and why."""

from __future__ import annotations

import json
import warnings

import pytest

import halving
from halving.errors import SpecError
from halving.experiment import ExperimentSpec, PolicySpec, SamplerSpec

from . import _sampler_runs as R
from ._sampler_runs import SPACE, logged_run, proposals, session_checks


def _spec(sampler, workers, **kw) -> ExperimentSpec:
    return ExperimentSpec(space=SPACE, metric="acc", mode="max", max_epochs=9, trials=60, workers=workers,
                          policy=PolicySpec.of("asha"), sampler=sampler, lookahead=0, **kw)


@pytest.mark.parametrize("name", ["tpe", "bohb", "random"])
def test_interrupted_then_resumed_proposes_what_an_uninterrupted_run_does(tmp_path, name):
    spec = _spec(name, workers=1)
    logged_run(spec, tmp_path / "whole", workers=1)
    assert logged_run(spec, tmp_path / "cut", workers=1, stop_after=25) is None  # interrupted
    assert len(proposals(tmp_path / "cut")) == 25
    result = logged_run(spec, tmp_path / "cut", workers=1)
    whole, cut = proposals(tmp_path / "whole"), proposals(tmp_path / "cut")
    assert len(whole) == 60 and cut == whole  # configs and origins, trial by trial
    if name != "random":
        assert sum(json.loads(o)["model"] != "random" for _, _, o in cut[25:]) > 10  # the model made them
    assert session_checks(tmp_path / "cut") == [None, {"name": name, "checked": 25, "same": 25, "diverged": None}]
    assert result.best_value == halving.load(tmp_path / "whole").best_value


@pytest.mark.parametrize("name", ["tpe", "bohb"])
def test_with_many_workers_every_logged_proposal_is_made_again_on_resume(tmp_path, name):
    spec = _spec(name, workers=8)
    logged_run(spec, tmp_path / "whole", workers=8)
    logged_run(spec, tmp_path / "cut", workers=8, stop_after=30)
    first = proposals(tmp_path / "cut")
    logged_run(spec, tmp_path / "cut", workers=8, stop_after=45)  # interrupted twice
    logged_run(spec, tmp_path / "cut", workers=8)
    cut = proposals(tmp_path / "cut")
    assert cut[:len(first)] == proposals(tmp_path / "whole")[:len(first)]
    checks = session_checks(tmp_path / "cut")
    assert [c["checked"] == c["same"] for c in checks[1:]] == [True, True]
    assert checks[1]["checked"] >= 30 and checks[2]["checked"] >= 45 and checks[2]["diverged"] is None


def test_a_sampler_that_changed_between_sessions_is_reported_precisely(tmp_path):
    spec = _spec(R.DriftingSampler(n_startup=5), workers=1)
    # A custom sampler object is logged as its class path and parameters, and rebuilt from them.
    assert spec.sampler.name == "tests._sampler_runs:DriftingSampler" and spec.sampler.params["n_startup"] == 5
    logged_run(spec, tmp_path / "run", workers=1, stop_after=20)
    R.DRIFT["shift"] = 0.25  # "new code": the same inputs now give other proposals
    try:
        with pytest.warns(UserWarning, match=r"the tests._sampler_runs:DriftingSampler sampler proposes trial 0 "
                                             r"another config than the log holds"):
            logged_run(spec, tmp_path / "run", workers=1)
    finally:
        R.DRIFT["shift"] = 0.0
    check = session_checks(tmp_path / "run")[1]
    assert check["checked"] == 20 and check["same"] == 0
    diverged = check["diverged"]
    assert diverged["trial"] == 0 and diverged["now"]["shift"] == pytest.approx(diverged["logged"]["shift"] + 0.25)
    assert "from random on 0 observations; the sampler now uses random on 0" in diverged["why"]
    assert "the same inputs: the sampler's code or numpy changed, or it is not deterministic" in diverged["why"]


@pytest.mark.slow
@pytest.mark.usefixtures("ray_session")
def test_a_real_run_on_ray_interrupted_and_resumed_proposes_what_an_uninterrupted_one_does(tmp_path):
    args = dict(metric="acc", mode="max", policy="asha", max_epochs=9, trials=24, workers=1, lookahead=0, seed=2,
                sampler=halving.samplers.TPESampler(n_startup=4))

    def stop_at_12(engine):
        if len(engine.trials) >= 12:
            raise KeyboardInterrupt

    halving.tune(R.train, SPACE, run_dir=tmp_path / "whole", **args)
    with pytest.raises(KeyboardInterrupt, match="Resume with"):
        halving.tune(R.train, SPACE, run_dir=tmp_path / "cut", progress=stop_at_12, **args)
    assert len(proposals(tmp_path / "cut")) == 12
    halving.tune(R.train, SPACE, run_dir=tmp_path / "cut", resume=True, **args)
    whole, cut = proposals(tmp_path / "whole"), proposals(tmp_path / "cut")
    assert len(whole) == 24 and cut == whole
    assert sum(json.loads(o)["model"] == "tpe" for _, _, o in cut[12:]) == 12
    assert session_checks(tmp_path / "cut")[1] == {"name": "tpe", "checked": 12, "same": 12, "diverged": None}


@pytest.mark.slow
@pytest.mark.usefixtures("ray_session")
def test_a_run_logged_under_other_defaults_resumes_with_them_not_todays(tmp_path):
    # "An older version" whose TPE drew unwidened: its defaults are in the log's header, and a
    # resume that names only "tpe" rebuilds the sampler with them, so it proposes as it did.
    older = SamplerSpec("tpe", {}, {"bandwidth_factor": 1.0})
    args = dict(metric="acc", mode="max", policy="asha", max_epochs=9, trials=30, workers=1, lookahead=0, seed=4)

    def stop_at_12(engine):
        if len(engine.trials) >= 12:
            raise KeyboardInterrupt

    halving.tune(R.train, SPACE, run_dir=tmp_path / "whole", sampler=older, **args)
    with pytest.raises(KeyboardInterrupt, match="Resume with"):
        halving.tune(R.train, SPACE, run_dir=tmp_path / "cut", sampler=older, progress=stop_at_12, **args)
    header = json.loads((tmp_path / "cut" / "spec.json").read_text())
    assert header["sampler_params"] == {} and header["sampler_defaults"]["bandwidth_factor"] == 1.0
    assert header["sampler_defaults"]["n_startup"] == 10 and header["policy_defaults"] == {"eta": 3, "min_epochs": 1}
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # a sampler rebuilt with today's bandwidth_factor=8 would warn here
        halving.tune(R.train, SPACE, run_dir=tmp_path / "cut", sampler="tpe", resume=True, **args)
    whole, cut = proposals(tmp_path / "whole"), proposals(tmp_path / "cut")
    assert len(whole) == 30 and cut == whole
    assert sum(json.loads(o)["model"] == "tpe" for _, _, o in cut[12:]) > 10
    assert session_checks(tmp_path / "cut")[1] == {"name": "tpe", "checked": 12, "same": 12, "diverged": None}
    # Today's defaults propose otherwise from the same observations: the pins are what made it exact.
    today = halving.tune(R.train, SPACE, run_dir=tmp_path / "today", sampler="tpe", **args)
    assert proposals(tmp_path / "today") != whole and today.run_dir


def test_a_spec_pins_the_defaults_it_was_built_with_and_reads_them_back():
    spec = _spec("bohb", workers=1)
    data = json.loads(json.dumps(spec.to_dict()))
    assert data["sampler_params"] == {} and data["sampler_defaults"]["bandwidth_factor"] == 8.0
    data["sampler_defaults"]["bandwidth_factor"] = 5.0  # as a version with another default wrote it
    data["policy_defaults"]["eta"] = 2
    back = ExperimentSpec.from_dict(data)
    assert back.sampler.build().bandwidth_factor == 5.0 and back.policy.build().eta == 2
    spec.check_same(data, "a log")  # only the parameters given say which experiment it is
    resumed = spec.continuing(back)
    assert resumed.sampler.build().bandwidth_factor == 5.0 and resumed.policy.build().eta == 2
    assert resumed.to_dict()["sampler_defaults"]["bandwidth_factor"] == 5.0
    # A pinned parameter the code no longer takes is dropped, not passed to the constructor.
    gone = ExperimentSpec.from_dict({**data, "sampler_defaults": {"bandwidth_factor": 5.0, "retired": 1}})
    assert gone.sampler.build().bandwidth_factor == 5.0
    assert "retired" not in gone.to_dict()["sampler_defaults"]
    # A log written before defaults were logged has none: it reads back, and builds with today's.
    older = {k: v for k, v in data.items() if k not in ("policy_defaults", "sampler_defaults")}
    assert ExperimentSpec.from_dict(older) == spec and spec.continuing(ExperimentSpec.from_dict(older)) == spec


class _TupleDefault(halving.samplers.RandomSampler):
    """A custom sampler whose defaults do not all survive JSON: a tuple, a function."""

    name = "tuple-default"

    def __init__(self, weights: tuple = (1.0, 2.0), pick=len, scale: float = 2.0) -> None:
        if not isinstance(weights, tuple) or not callable(pick):
            raise TypeError(f"weights must be a tuple and pick callable, but got {weights!r}, {pick!r}")
        self.weights, self.pick, self.scale = weights, pick, scale

    def params(self) -> dict:
        return {"weights": self.weights, "pick": self.pick, "scale": self.scale}


def test_only_defaults_that_come_back_from_json_unchanged_are_pinned():
    spec = ExperimentSpec(space=SPACE, metric="acc", mode="max", max_epochs=9, trials=10,
                          sampler=SamplerSpec(f"{__name__}:_TupleDefault"))
    data = json.loads(json.dumps(spec.to_dict()))
    assert data["sampler_defaults"] == {"scale": 2.0}  # the tuple and the function are left to the code
    back = ExperimentSpec.from_dict(data)
    assert back == spec and back.sampler.build().weights == (1.0, 2.0)


def test_a_pinned_value_this_version_refuses_is_named_in_the_message():
    data = json.loads(json.dumps(_spec("tpe", workers=1).to_dict()))
    data["sampler_defaults"]["n_candidates"] = 0
    with pytest.raises(SpecError, match=r"sampler 'tpe' with \{\} \(and, as logged, .*'n_candidates': 0"):
        ExperimentSpec.from_dict(data)


def test_spec_parts_compare_by_what_was_given_not_by_the_pins():
    back = ExperimentSpec.from_dict(json.loads(json.dumps(_spec("tpe", workers=1).to_dict())))
    assert back.sampler == SamplerSpec("tpe") and back.policy == PolicySpec.of("asha")


def test_a_resume_checks_the_policy_it_will_run_with_the_logs_defaults_before_anything_changes(tmp_path):
    run = tmp_path / "run"
    pinned = _spec("random", workers=1, cpus=[1, 1]).replace(policy=PolicySpec("asha", {}, {"eta": 9}))
    logged_run(pinned, run, workers=1, stop_after=5)  # rungs 1 and 9: one CPU entry each
    def files():  # the writer's lock file aside: it is made empty and left, as by any run
        return {p.name: p.read_bytes() for p in run.iterdir() if p.is_file() and p.name != ".lock"}

    before = files()
    # Today's eta=3 has rungs 1, 3 and 9, so three entries pass the first check; the log's eta=9 refuses them.
    with pytest.raises(SpecError, match=r"cpus=\[1, 1, 1\] has 3 entries, one per rung, but policy 'asha' has 2"):
        halving.tune(R.train, SPACE, metric="acc", mode="max", max_epochs=9, trials=60, workers=1, lookahead=0,
                     cpus=[1, 1, 1], run_dir=run, resume=True)
    assert files() == before and "events-000.arrows" in before
