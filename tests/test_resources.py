"""Resources per trial (issue #13) on the session's real local Ray: 2 CPUs, 2 logical GPUs
(Ray counts and assigns their ids; no device is behind them) and 2 of a custom resource
``accel``. What each trial got is what its worker reports from inside Ray."""

from __future__ import annotations

import json
import math
import warnings
from pathlib import Path

import pytest

import halving
from halving import space
from halving.errors import SpecError, SpecTypeError
from halving.eventlog import iter_events, read_events
from halving.experiment import ExperimentSpec, PolicySpec

from . import _resource_trainables as R

pytestmark = pytest.mark.usefixtures("ray_session")

SPACE = {"x": space.uniform(0.0, 1.0), "slow": space.uniform(0.0, 1.0)}


def _rows(result, *cols):
    t = result.table()
    return list(zip(*(t.column(c).to_pylist() for c in ("trial", "epoch", *cols))))


def _log(result, kind):
    return [(e["trial"], e["epoch"], json.loads(e["payload"])) for e in iter_events(read_events(result.run_dir))
            if e["kind"] == kind]


def _most_at_once(result) -> int:
    """The most epochs that overlapped in time (each from its start to its report)."""
    t = result.table()
    spans = sorted(zip(t.column("began").to_pylist(), t.column("time").to_pylist()))
    edges = sorted([(b, 1) for b, _ in spans] + [(e, -1) for _, e in spans], key=lambda x: (x[0], x[1]))
    most = now = 0
    for _, step in edges:
        now += step
        most = max(most, now)
    return most


def test_whole_gpus_get_distinct_ids_and_bound_concurrency(tmp_path):
    result = halving.tune(R.train_fn, SPACE, metric="acc", mode="max", policy="sha", max_epochs=3, trials=6,
                          workers=4, gpus=1, run_dir=tmp_path / "run")
    rows = _rows(result, "gpus", "cuda", "env_gpus", "ray_gpu", "pid")
    assert result.n_failed == 0 and len(rows) == 6 + 2 * 2  # rungs at epochs 1 and 3
    # Every epoch ran on a worker Ray gave one whole GPU; the trial saw its id in halving.gpus(),
    # CUDA_VISIBLE_DEVICES (set by Ray) and HALVING_GPUS (set by halving, for scripts).
    assert all(r == 1.0 and g in ("0", "1") and c == g and e == g for _, _, g, c, e, r, _ in rows)
    by_worker = {pid: g for *_, g, _, _, _, pid in rows}
    assert sorted(by_worker.values()) == ["0", "1"]  # two workers, each its own GPU
    # 4 workers were asked for, but 2 GPUs hold 2 such trials at once.
    assert result.backend_stats["workers"] == 2 and _most_at_once(result) <= 2


def test_half_gpus_share_one(tmp_path):
    result = halving.tune(R.train_fn, SPACE, metric="acc", mode="max", policy="sha", max_epochs=3, trials=6,
                          workers=2, gpus=0.5, run_dir=tmp_path / "run")
    rows = _rows(result, "gpus", "ray_gpu", "pid")
    assert result.n_failed == 0
    assert {r for *_, r, _ in rows} == {0.5}
    assert len({pid for *_, pid in rows}) == 2 and len({g for _, _, g, _, _ in rows}) == 1  # two workers, one GPU


def test_custom_resource_and_cpus_are_held_and_bound_concurrency(tmp_path):
    result = halving.tune(R.train_fn, SPACE, metric="acc", mode="max", policy="sha", max_epochs=3, trials=6,
                          workers=2, resources={"accel": 2}, cpus=1, run_dir=tmp_path / "run")
    rows = _rows(result, "ray_accel", "gpus", "env_cpus")
    assert result.n_failed == 0 and {(a, g, c) for *_, a, g, c in rows} == {(2.0, "", "1")}
    assert result.backend_stats["workers"] == 1 and _most_at_once(result) == 1  # only one holds both accel


def test_promoted_class_trials_move_warm_to_a_gpu_worker(tmp_path):
    result = halving.tune(R.Hooked, SPACE, metric="acc", mode="max", policy="sha", max_epochs=9, trials=9, workers=2,
                          gpus=[0, 1], resources={"accel": [0, 1]}, run_dir=tmp_path / "run")
    rows = _rows(result, "ray_gpu", "ray_accel", "own_epoch")
    assert result.n_failed == 0 and result.epochs_used == 9 + 3 * 2 + 6
    assert all((g, a) == ((0.0, 0.0) if e == 1 else (1.0, 1.0)) for _, e, g, a, _ in rows)  # never less than asked
    assert all(e == own for _, e, _, _, own in rows)  # warm: no epoch trained twice, state travelled
    moved = _log(result, "moved")
    assert result.backend_stats["resized"] >= 1
    to_gpu = [p for _, _, p in moved if p["what"] in ("worker", "spill")]
    assert to_gpu and all("GPU" in p["why"] or "GPU" in json.dumps(p["detail"]) for p in to_gpu)


def test_a_trial_whose_state_cannot_move_starts_again_on_the_bigger_worker(tmp_path):
    result = halving.tune(R.train_fn, SPACE, metric="acc", mode="max", policy="sha", max_epochs=3, trials=3, workers=2,
                          gpus=[0, 1], run_dir=tmp_path / "run")
    rows = _rows(result, "ray_gpu", "own_epoch")
    assert result.n_failed == 0 and result.n_completed == 1
    assert all(g == (0.0 if e == 1 else 1.0) for _, e, g, _ in rows)
    assert all(e == own for _, e, _, own in rows)  # retrained silently to where it was, then reported on
    restarts = _log(result, "restarted")
    assert restarts and all(p["how"] == "scratch" and "cannot move" in p["why"] for _, _, p in restarts)


@pytest.mark.parametrize("trainable, hook", [(R.Hooked, "offload()"), (R.Saved, "save()"),
                                             (R.train_fn_checkpointed, "checkpoint=")])
def test_paused_trials_leave_the_gpu_and_come_back(tmp_path, trainable, hook):
    result = halving.tune(trainable, SPACE, metric="acc", mode="max", policy="asha", max_epochs=9, trials=9, workers=1,
                          gpus=1, run_dir=tmp_path / "run")
    assert result.n_failed == 0, result.failures
    offloads = [(t, e, p) for t, e, p in _log(result, "moved") if p["what"] == "offload"]
    assert offloads and all(p["detail"]["hook"] == hook and p["detail"]["gpus"] == ["0"] for _, _, p in offloads)
    rows = _rows(result, "own_epoch")
    assert all(e == own for _, e, own in rows)  # resumed where it was paused
    promoted = {t for t, _, _ in offloads} & {t for t, e, _ in rows if e > 1}
    assert promoted  # some offloaded trial trained again: reloaded, restored or restarted from its checkpoint
    column = {"offload()": "reloads", "save()": "restores", "checkpoint=": "resumed_from_checkpoint"}[hook]
    t = result.table()
    back = {(tr, e): v for tr, e, v in zip(t.column("trial").to_pylist(), t.column("epoch").to_pylist(),
                                           t.column(column).to_pylist())}
    first = {}  # trial -> the epoch it was first moved off the device at
    for tr, e, _ in offloads:
        first.setdefault(tr, e)
    # Every epoch trained after a move off the device came after its way back.
    assert all(back[(tr, e)] >= 1 for tr in promoted for e in range(first[tr] + 1, 10) if (tr, e) in back)
    assert halving.load(result.run_dir).best_trial == result.best_trial  # the reader reads past "moved"


def test_a_paused_trial_that_cannot_leave_the_device_is_logged_as_kept(tmp_path):
    result = halving.tune(R.train_fn, SPACE, metric="acc", mode="max", policy="asha", max_epochs=3, trials=4, workers=1,
                          gpus=1, run_dir=tmp_path / "run")
    kept = [p for _, _, p in _log(result, "moved") if p["what"] == "kept"]
    assert kept and all("checkpoint=" in p["why"] for p in kept)
    # paused_on_device=4: nothing is moved off the device.
    again = halving.tune(R.Hooked, SPACE, metric="acc", mode="max", policy="asha", max_epochs=3, trials=4, workers=1,
                         gpus=1, paused_on_device=4, run_dir=tmp_path / "run2")
    assert _log(again, "moved") == []


@pytest.mark.parametrize("kwargs, match", [
    ({"gpus": 3}, r"asks for 1 CPU, 3 GPU, more than any node .*no node has enough GPU"),
    ({"cpus": [1, 4]}, r"rung 1 asks for 4 CPU.*no node has enough CPU"),
    ({"resources": {"tpu": 1}}, r"no node has enough tpu"),
])
def test_more_than_any_node_has_is_refused_before_any_trial(tmp_path, kwargs, match):
    with pytest.raises(halving.errors.UserError, match=match):
        halving.tune(R.train_fn, SPACE, metric="acc", mode="max", policy="sha", max_epochs=3, trials=3,
                     run_dir=tmp_path / "run", **kwargs)
    assert not list((tmp_path / "run").glob("events-*"))  # no trial started, nothing logged


# --- pure checks: no Ray needed ------------------------------------------------------

def _spec(**kw):
    return ExperimentSpec(space=SPACE, metric="acc", mode="max", max_epochs=9, trials=9, **kw)


@pytest.mark.parametrize("kwargs, error, match", [
    ({"gpus": -1}, SpecError, r"gpus must be a finite amount >= 0, but got gpus=-1"),
    ({"gpus": math.nan}, SpecError, r"gpus must be a finite amount >= 0, but got gpus=nan"),
    ({"cpus": [1, math.inf]}, SpecError, r"cpus must be a finite amount"),
    ({"gpus": 1.5}, SpecError, r"an amount above 1 must be whole"),
    ({"gpus": True}, SpecTypeError, r"gpus must be a number or a list of numbers"),
    ({"gpus": "1"}, SpecTypeError, r"gpus must be a number"),
    ({"gpus": []}, SpecError, r"non-empty per-rung list"),
    ({"resources": {"accel": -2}}, SpecError, r"resources\['accel'\] must be a finite amount >= 0"),
    ({"resources": {"GPU": 1}}, SpecError, r"not a custom Ray resource name"),
    ({"resources": [("accel", 1)]}, SpecTypeError, r"resources must be a dict"),
    ({"cpus_per_rung": [1, 2], "cpus": 3}, SpecError, r"both given"),
])
def test_bad_resources_are_refused_by_the_spec(kwargs, error, match):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        with pytest.raises(error, match=match):
            _spec(**kwargs)


def test_a_per_rung_list_longer_than_the_policys_rungs_is_refused():
    # ASHA with eta 3 on 9 epochs: rungs toward epochs 1, 3, 9.
    assert len(_spec(gpus=[0, 0.5, 1]).started_policy().levels) == 3
    with pytest.raises(SpecError, match=r"gpus=\[0, 0.5, 1, 1\] has 4 entries, one per rung, but policy 'asha' "
                                        r"has 3 rungs"):
        _spec(gpus=[0, 0.5, 1, 1]).started_policy()
    with pytest.raises(SpecError, match=r"resources\['accel'\]=\[1, 2\] has 2 entries.*'median' has 1 rung"):
        _spec(resources={"accel": [1, 2]}, policy=PolicySpec.of("median")).started_policy()


def test_requests_per_rung_take_the_last_entry_past_the_list():
    needs = _spec(cpus=[1, 2], gpus=[0.25, 0.5, 1], resources={"accel": 1, "zero": 0}).requests(4)
    assert [(n.cpus, n.gpus, n.custom) for n in needs] == [
        (1.0, 0.25, (("accel", 1.0),)), (2.0, 0.5, (("accel", 1.0),)), (2.0, 1.0, (("accel", 1.0),)),
        (2.0, 1.0, (("accel", 1.0),))]


def test_cpus_per_rung_is_a_deprecated_alias_and_old_logs_read_back():
    with pytest.warns(DeprecationWarning, match="cpus_per_rung is deprecated"):
        spec = _spec(cpus_per_rung=[1, 2])
    assert spec.cpus == (1, 2) and spec.cpus_per_rung is None and "cpus_per_rung" not in spec.to_dict()
    old = {k: v for k, v in _spec().to_dict().items() if k not in ("cpus", "gpus", "resources", "paused_on_device")}
    old["cpus_per_rung"] = [1, 2]  # a log written before cpus= existed
    with warnings.catch_warnings():
        warnings.simplefilter("error", DeprecationWarning)  # reading an old log warns nobody
        again = ExperimentSpec.from_dict(old)
    assert again.cpus == (1, 2) and again.gpus == 0 and again.resources == {}


def test_resources_round_trip_and_may_change_on_resume():
    spec = _spec(cpus=2, gpus=[0.5, 1], resources={"accel": [0, 1]}, paused_on_device=2)
    data = json.loads(json.dumps(spec.to_dict()))
    assert data["gpus"] == [0.5, 1] and data["resources"] == {"accel": [0, 1]}
    assert ExperimentSpec.from_dict(data) == spec
    _spec().check_same(data, "here")  # not identity fields: a resume may ask for other resources


# --- the command line -----------------------------------------------------------------

def _cli(*args):
    from typer.testing import CliRunner

    from halving.cli import app

    return CliRunner().invoke(app, [str(a) for a in args])


CLI_TARGET = str(Path(__file__).with_name("_cli_target.py")) + ":train"
CLI_SMALL = ["--metric", "val_acc", "--mode", "max", "--trials", "3", "--max-epochs", "3", "--policy", "sha",
             "--workers", "2", "--quiet"]


def test_the_cli_takes_cpus_gpus_and_resources(tmp_path):
    out = _cli("run", CLI_TARGET, *CLI_SMALL, "--cpus", "1", "--gpus", "0,1", "--resource", "accel=0.5",
               "--run-dir", tmp_path / "run")
    assert out.exit_code == 0, out.output
    spec = json.loads((tmp_path / "run" / "spec.json").read_text())
    assert (spec["cpus"], spec["gpus"], spec["resources"]) == (1, [0, 1], {"accel": 0.5})
    # The promoted trial (a function without checkpoints) started again on a GPU worker, and the log says why.
    restarts = [json.loads(e["payload"]) for e in iter_events(read_events(tmp_path / "run"))
                if e["kind"] == "restarted"]
    assert restarts and all("1 GPU" in r["why"] for r in restarts)


@pytest.mark.parametrize("args, message", [
    (["--gpus", "one"], "--gpus takes a number or a comma-separated list"),
    (["--resource", "accel"], "--resource takes NAME=AMOUNT"),
    (["--gpus", "-1"], "gpus must be a finite amount >= 0"),
    (["--gpus", "0,0,1"], "gpus=[0, 0, 1] has 3 entries, one per rung, but policy 'sha' has 2 rungs"),
    (["--gpus", "4"], "more than any node of the cluster has"),
])
def test_bad_resources_on_the_cli_are_one_line_and_exit_code_2(tmp_path, args, message):
    out = _cli("run", CLI_TARGET, *CLI_SMALL, *args, "--run-dir", tmp_path / "run")
    assert out.exit_code == 2 and message in out.output, out.output
    assert not list((tmp_path / "run").glob("events-*"))


def test_halving_search_cv_takes_the_same_resources():
    from sklearn.datasets import load_digits
    from sklearn.linear_model import SGDClassifier

    from halving.sklearn import HalvingSearchCV

    X, y = load_digits(return_X_y=True)
    search = HalvingSearchCV(SGDClassifier(random_state=0), {"alpha": [1e-4, 1e-3, 1e-2]}, n_candidates=3,
                             max_epochs=3, policy="sha", workers=2, refit=False, random_state=0,
                             gpus=[0, 1], resources={"accel": 1})
    search.fit(X[:300], y[:300])
    assert search.result_.n_failed == 0 and search.result_.backend_stats["resized"] >= 1
    with pytest.raises(SpecError, match="gpus must be a finite amount"):
        HalvingSearchCV(SGDClassifier(), {"alpha": [1e-4]}, n_candidates=1, max_epochs=1, gpus=-1).fit(X[:50], y[:50])


def test_a_script_finds_its_gpus_and_cpus_in_its_environment(tmp_path):
    script = tmp_path / "train.py"
    script.write_text(
        "import argparse, os\nimport halving\n"
        "p = argparse.ArgumentParser(); p.add_argument('--x', type=float); a = p.parse_args()\n"
        "for epoch in range(3):\n"
        "    halving.report(acc=a.x * (epoch + 1), cuda=os.environ.get('CUDA_VISIBLE_DEVICES', '<unset>'),\n"
        "                   env_gpus=os.environ.get('HALVING_GPUS', '<unset>'), env_cpus=os.environ['HALVING_CPUS'],\n"
        "                   gpus=','.join(halving.gpus()))\n")
    (tmp_path / "space.json").write_text(json.dumps({"x": {"type": "uniform", "low": 0.0, "high": 1.0}}))
    out = _cli("run", script, "--space", tmp_path / "space.json", "--metric", "acc", "--mode", "max", "--trials", "2",
               "--max-epochs", "3", "--policy", "none", "--workers", "2", "--gpus", "1", "--quiet",
               "--run-dir", tmp_path / "run")
    assert out.exit_code == 0, out.output
    rows = [json.loads(e["metrics"]) for e in iter_events(read_events(tmp_path / "run")) if e["kind"] == "report"]
    assert len(rows) == 6 and {r["env_cpus"] for r in rows} == {"1"}
    assert all(r["cuda"] == r["env_gpus"] == r["gpus"] and r["gpus"] in ("0", "1") for r in rows)
    assert {r["gpus"] for r in rows} == {"0", "1"}  # two trials at once, a GPU each
