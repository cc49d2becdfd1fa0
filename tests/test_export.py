"""``halving export`` and ``results.parquet``: a run dir as tables that pandas, pyarrow.dataset,
DuckDB and polars open, with the log's values, on finished, killed and still-running runs."""

from __future__ import annotations

import json
import math
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.dataset as ds
import pyarrow.parquet as pq
import pytest
from typer.testing import CliRunner

import halving
from halving import space
from halving.cli import app
from halving.eventlog import EventKind, EventLog, iter_events, read_events
from halving.experiment import ExperimentSpec
from halving.export import reports_table

pytestmark = pytest.mark.usefixtures("ray_session")

runner = CliRunner()
TABLES = ("reports", "trials", "decisions")


def train_mixed(config: dict) -> None:
    """A string hyperparameter, extra metrics (one named like a fixed column), a failing and a NaN trial."""
    epoch = 0
    while True:
        epoch += 1
        if config["opt"] == "bad":
            raise RuntimeError("bad optimiser")
        acc = float("nan") if config["opt"] == "diverge" else config["x"] * (1.0 - math.exp(-epoch))
        halving.report(acc=acc, own_epoch=epoch, opt_name=config["opt"], time=0.5 * epoch)


GRID = {"x": space.grid([0.2, 0.5, 0.9]), "opt": space.grid(["sgd", "adam", "bad", "diverge"])}


@pytest.fixture(scope="module")
def run(tmp_path_factory) -> tuple[Path, halving.Result]:
    from ray import cloudpickle

    cloudpickle.register_pickle_by_value(sys.modules[__name__])
    run_dir = tmp_path_factory.mktemp("export") / "run"
    result = halving.tune(train_mixed, GRID, metric="acc", mode="max", policy="asha", max_epochs=9, workers=2,
                          run_dir=run_dir)
    return run_dir, result


def _events(run_dir: Path, kind: str) -> list[dict]:
    return [e for e in iter_events(read_events(run_dir)) if e["kind"] == kind]


def _snapshot(run_dir: Path) -> dict[str, bytes]:
    return {str(p.relative_to(run_dir)): p.read_bytes() for p in sorted(run_dir.rglob("*")) if p.is_file()}


def _export(run_dir: Path, out: Path, fmt: str = "parquet") -> dict[str, pd.DataFrame]:
    result = runner.invoke(app, ["export", str(run_dir), "--format", fmt, "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert result.output.split() == [str(out / f"{name}.{fmt}") for name in TABLES]
    read = pd.read_parquet if fmt == "parquet" else pd.read_csv
    return {name: read(out / f"{name}.{fmt}") for name in TABLES}


def test_the_three_files_open_in_pandas_and_pyarrow_dataset(run, tmp_path):
    run_dir, _ = run
    frames = _export(run_dir, tmp_path / "out")
    for name in TABLES:
        assert ds.dataset(tmp_path / "out" / f"{name}.parquet").to_table().num_rows == len(frames[name]) > 0
    # The folder as one dataset per table, as a data tool globs it.
    assert ds.dataset(tmp_path / "out", format="parquet").schema is not None


def test_duckdb_queries_the_files_by_name(run, tmp_path):
    duckdb = pytest.importorskip("duckdb")
    run_dir, _ = run
    _export(run_dir, tmp_path / "out")
    best = duckdb.sql(f"SELECT trial, max(acc) AS best FROM '{tmp_path / 'out' / 'reports.parquet'}' "
                      "WHERE epoch = 9 GROUP BY trial ORDER BY best DESC LIMIT 1").fetchall()
    assert best[0][0] == halving.load(run_dir).best_trial
    failed = duckdb.sql(f"SELECT count(*) FROM '{tmp_path / 'out' / 'trials.parquet'}' WHERE state = 'failed' "
                        "AND error LIKE '%bad optimiser%'").fetchall()[0][0]
    assert failed == 3


def test_polars_reads_the_files(run, tmp_path):
    polars = pytest.importorskip("polars")
    run_dir, result = run
    _export(run_dir, tmp_path / "out")
    trials = polars.read_parquet(tmp_path / "out" / "trials.parquet")
    assert trials.height == result.n_trials and trials.schema["config.x"] == polars.Float64


def test_reports_have_the_logs_values_one_column_per_hyperparameter_and_metric(run, tmp_path):
    run_dir, result = run
    reports = _export(run_dir, tmp_path / "out")["reports"]
    logged = _events(run_dir, "report")
    assert list(reports.columns[:4]) == ["trial", "epoch", "time", "worker"]
    assert {"config.x", "config.opt", "acc", "own_epoch", "opt_name", "metric.time"} <= set(reports.columns)
    assert "value" not in reports.columns
    assert len(reports) == len(logged)  # NaN reports too: one row per report in the log
    for row, ev in zip(reports.to_dict("records"), logged):
        assert (row["trial"], row["epoch"], row["worker"], row["time"]) == (ev["trial"], ev["epoch"], ev["worker"],
                                                                            ev["time"])
        assert row["acc"] == ev["value"] or (math.isnan(row["acc"]) and math.isnan(ev["value"]))
        extra = json.loads(ev["metrics"])
        assert (row["own_epoch"], row["opt_name"], row["metric.time"]) == (extra["own_epoch"], extra["opt_name"],
                                                                         extra["time"])
        assert (row["config.x"], row["config.opt"]) == (result.configs[row["trial"]]["x"],
                                                        result.configs[row["trial"]]["opt"])
    # Numbers are numbers, strings are strings (not JSON text).
    schema = pq.read_schema(tmp_path / "out" / "reports.parquet")
    assert [str(schema.field(c).type) for c in ("trial", "config.x", "config.opt", "acc", "own_epoch", "metric.time")] \
        == ["int64", "double", "string", "double", "int64", "double"]
    assert schema.metadata[b"halving.metric"] == b"acc" and schema.metadata[b"halving.mode"] == b"max"


def test_trials_table_gives_state_reason_epochs_values_and_failure(run, tmp_path):
    run_dir, result = run
    trials = _export(run_dir, tmp_path / "out")["trials"].set_index("trial")
    assert sorted(trials.index) == sorted(result.configs)
    curves = {}
    for ev in _events(run_dir, "report"):
        curves.setdefault(ev["trial"], []).append((ev["epoch"], ev["value"]))
    last = {d.trial: d for d in result.decisions}
    for t, row in trials.iterrows():
        assert (row["config.x"], row["config.opt"]) == (result.configs[t]["x"], result.configs[t]["opt"])
        assert row["state"] == result.states[t].value
        assert (row["last_action"], row["rule"], row["reason"]) == (last[t].action.value, last[t].reason.rule,
                                                                    str(last[t].reason))
        finite = [v for _, v in curves.get(t, []) if not math.isnan(v)]
        assert row["epochs"] == max((e for e, _ in curves.get(t, [])), default=0)
        assert row["best_acc"] == (max(finite) if finite else None) or (not finite and math.isnan(row["best_acc"]))
    bad = trials[trials["config.opt"] == "bad"]
    assert (bad["state"] == "failed").all() and bad["error"].str.contains("bad optimiser").all()
    assert (trials[trials["config.opt"] == "diverge"]["rule"] == "non-finite-metric").all()
    assert trials["error"][trials["config.opt"] != "bad"].isna().all()


def test_decisions_table_holds_every_decision_and_promotion_with_reason_fields(run, tmp_path):
    run_dir, result = run
    decisions = _export(run_dir, tmp_path / "out")["decisions"]
    made = decisions[decisions["kind"] == "decision"]
    assert [(r.trial, r.epoch, r.action, r.rule, None if pd.isna(r.rank) else int(r.rank))
            for r in made.itertuples()] == [(d.trial, d.epoch, d.action.value, d.reason.rule, d.reason.rank)
                                            for d in result.decisions]
    promoted = decisions[decisions["kind"] == "promotion"]
    assert len(promoted) == len(result.promotions) > 0
    assert [(r.trial, r.epoch, int(r.until), r.rule, None if pd.isna(r.cutoff) else r.cutoff)
            for r in promoted.itertuples()] == [
        (d.trial, d.epoch, d.until, d.reason.rule, d.reason.cutoff) for d in result.promotions]
    assert (promoted["action"] == "continue").all()
    assert {"rule", "rung", "cutoff", "compared", "rank", "bracket", "detail", "time"} <= set(decisions.columns)
    assert str(decisions["rung"].dtype) in ("Int64", "int64", "float64")  # a number, not text


def test_csv_export_has_the_same_rows_as_parquet(run, tmp_path):
    run_dir, _ = run
    parquet = _export(run_dir, tmp_path / "p")
    csv = _export(run_dir, tmp_path / "c", fmt="csv")
    for name in TABLES:
        assert list(csv[name].columns) == list(parquet[name].columns)
        pd.testing.assert_frame_equal(csv[name], parquet[name], check_dtype=False)


def test_results_parquet_is_the_reports_table(run, tmp_path):
    run_dir, _ = run
    exported = _export(run_dir, tmp_path / "out")["reports"]
    results = pd.read_parquet(run_dir / "results.parquet")
    pd.testing.assert_frame_equal(results, exported)
    assert {"config.x", "config.opt"} <= set(results.columns)


def test_export_reads_only_and_defaults_to_a_folder_in_the_current_directory(run, tmp_path, monkeypatch):
    run_dir, _ = run
    before = _snapshot(run_dir)
    monkeypatch.chdir(tmp_path)
    result = runner.invoke(app, ["export", str(run_dir)])
    assert result.exit_code == 0, result.output
    assert result.output.split() == [f"run-export/{name}.parquet" for name in TABLES]
    assert all((tmp_path / "run-export" / f"{name}.parquet").is_file() for name in TABLES)
    assert _snapshot(run_dir) == before
    help_text = " ".join(runner.invoke(app, ["export", "--help"]).output.split())
    assert "RUN_DIR_NAME-export in the current directory" in help_text


@pytest.mark.parametrize("args, says", [
    (["{missing}"], "does not exist"),
    (["{run}", "--format", "xlsx"], "format 'xlsx' is not one of parquet, csv"),
    (["{run}", "--out", "{run}/export"], "is inside the run dir"),
])
def test_bad_input_is_one_line_and_exit_2(run, tmp_path, args, says):
    run_dir, _ = run
    before = _snapshot(run_dir)
    argv = [a.format(run=run_dir, missing=tmp_path / "nope") for a in args]
    result = runner.invoke(app, ["export", *argv])
    assert result.exit_code == 2
    lines = result.output.strip().splitlines()
    assert len(lines) == 1 and says in lines[0] and lines[0].startswith("halving: error:"), result.output
    assert _snapshot(run_dir) == before


def _hand_written_log(run_dir: Path) -> ExperimentSpec:
    spec = ExperimentSpec(space={"a": space.choice([1, "two", [3]]), "lr": space.uniform(0.0, 1.0)}, metric="loss",
                          mode="min", max_epochs=3, trials=3)
    log = EventLog(run_dir)
    log.experiment_started(spec.to_dict(), 0.0)
    for trial, a in enumerate([1, "two", [3]]):
        log.trial_created(trial, {"a": a, "lr": 0.1 * trial}, 1.0)
        log.add(EventKind.REPORT, 2.0 + trial, trial=trial, epoch=1, value=float(trial), worker=0,
                metrics=json.dumps({"config.a": trial, "metric.x": [trial], "n": trial}))
    log.close()
    return spec


def test_mixed_types_become_json_text_and_metric_names_never_clash(tmp_path):
    spec = _hand_written_log(tmp_path / "run")
    reports = reports_table(read_events(tmp_path / "run"), spec)
    assert reports.column_names == ["trial", "epoch", "time", "worker", "config.a", "config.lr", "loss",
                                    "metric.config.a", "metric.metric.x", "n"]
    assert reports.column("config.a").to_pylist() == ["1", '"two"', "[3]"]  # one type per column: JSON text
    assert reports.column("config.lr").type == pa.float64() and reports.column("n").type == pa.int64()
    assert reports.column("metric.metric.x").to_pylist() == ["[0]", "[1]", "[2]"]


def test_a_run_with_no_trial_yet_exports_empty_tables_with_their_columns(tmp_path):
    spec = ExperimentSpec(space={"lr": space.uniform(0.0, 1.0)}, metric="loss", mode="min", max_epochs=3, trials=3)
    log = EventLog(tmp_path / "run")
    log.experiment_started(spec.to_dict(), 0.0)
    log.flush()  # still open: a run that has just started
    try:
        frames = _export(tmp_path / "run", tmp_path / "out", fmt="csv")
    finally:
        log.close()
    assert list(frames["reports"].columns) == ["trial", "epoch", "time", "worker", "config.lr", "loss"]
    assert len(frames["reports"]) == len(frames["trials"]) == len(frames["decisions"]) == 0
    assert {"state", "reason", "epochs", "best_loss", "error"} <= set(frames["trials"].columns)


TARGET = str(Path(__file__).with_name("_resume_target.py")) + ":train"
# 243 epochs of 0.04 s on 2 workers: the writer is still at work while the test exports it.
ARGS = ["--policy", "sha", "--trials", "81", "--max-epochs", "27", "--workers", "2", "--seed", "5",
        "--metric", "acc", "--mode", "max"]


def _wait_for_reports(proc: subprocess.Popen, run_dir: Path, n: int) -> None:
    deadline = time.time() + 120
    while time.time() < deadline:
        time.sleep(0.2)
        if proc.poll() is not None:
            pytest.fail(f"the run ended before it could be exported: {proc.stdout.read().decode()[-2000:]}")
        try:
            if len(_events(run_dir, "report")) >= n:
                return
        except (FileNotFoundError, ValueError):
            continue
    pytest.fail("the run did not report in time")


@pytest.mark.slow
def test_export_a_run_being_written_then_killed_then_resumed(tmp_path):
    run_dir = tmp_path / "live"
    proc = subprocess.Popen([sys.executable, "-m", "halving.cli", "run", TARGET, *ARGS, "--run-dir", str(run_dir),
                             "--quiet"], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        _wait_for_reports(proc, run_dir, 20)
        live = _export(run_dir, tmp_path / "while-running")
        assert proc.poll() is None  # the writer was still writing while it was exported
    finally:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=30)
    logged = [(e["trial"], e["epoch"], e["value"], e["worker"]) for e in _events(run_dir, "report")]
    rows = list(zip(*(live["reports"][c] for c in ("trial", "epoch", "acc", "worker"))))
    assert 20 <= len(rows) <= len(logged) and rows == logged[: len(rows)]
    assert set(live["trials"]["state"]) & {"running", "paused", "pending"}
    assert not list(run_dir.glob("*export*")) and not list(run_dir.rglob("*.tmp"))

    before = _snapshot(run_dir)  # killed mid-run: perhaps a torn tail, which reading must leave as it is
    killed = _export(run_dir, tmp_path / "killed")
    assert _snapshot(run_dir) == before
    assert len(killed["reports"]) == len(logged)
    assert not (run_dir / "results.parquet").exists()

    resumed = runner.invoke(app, ["resume", str(run_dir), "--quiet", "--json"])
    assert resumed.exit_code == 0, resumed.output
    results = pd.read_parquet(run_dir / "results.parquet")
    logged = [(e["trial"], e["epoch"], e["worker"]) for e in _events(run_dir, "report")]
    # Reports of the first session keep the worker the log gives them (worker 0 included), not -1.
    assert list(zip(results["trial"], results["epoch"], results["worker"])) == logged
    assert 0 in set(results["worker"][: len(rows)]) and -1 not in set(results["worker"])
    assert {"config.x", "config.slow"} <= set(results.columns)
