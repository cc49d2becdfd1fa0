"""A run dir as three plain tables for data tools (pandas, polars, DuckDB, Spark):
``reports``, ``trials`` and ``decisions``, written as Parquet or CSV.

The event log stays an append-only Arrow IPC stream, for crash safety; these tables
are built from it by reading only (``eventlog.read_log``, then the replay that
``rundir.load_run`` makes), so a finished, interrupted or still-running experiment can
be exported at any time and its run dir is never changed.

Column names. ``trial``, ``epoch``, ``time`` (seconds since the Unix epoch) and
``worker`` are fixed. Each hyperparameter is ``config.<name>``. Each metric is a
column of its own name (the ranking metric too, not ``value``); a metric whose name
is a fixed column or starts with ``config.`` or ``metric.`` is written as
``metric.<name>`` so that no two columns clash. Values keep their types: numbers are numbers, strings are
strings; a column whose values mix types (or hold lists) holds their JSON text.

- ``reports``: one row per report in the log, in log order, also non-finite values
  (the engine ended those trials there).
- ``trials``: one row per trial: its config, final state, last decision (action,
  rule, reason as text), epochs trained, last and best value of the metric
  (``last_<metric>``, ``best_<metric>``), and its failure message.
- ``decisions``: one row per decision, and per promotion (a paused trial resumed,
  ``kind = "promotion"``), in log order: trial, epoch, action, until, and the
  reason's fields as columns (rule, rung, cutoff, compared, rank, bracket, detail, predicted,
  uncertainty).
"""

from __future__ import annotations

import json
import math
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterable

import pyarrow as pa
import pyarrow.compute as pc

from policies import Reason

from .errors import UserError
from .eventlog import EventKind
from .rundir import read_run, read_run_log, spec_of_events

__all__ = ["FORMATS", "CONFIG_PREFIX", "METRIC_PREFIX", "RunTables", "run_tables", "reports_table", "trials_table",
           "decisions_table", "metric_column", "write_tables", "write_reports", "default_out"]

FORMATS = ("parquet", "csv")
CONFIG_PREFIX = "config."
METRIC_PREFIX = "metric."
_FIXED = ("trial", "epoch", "time", "worker")
_REASON_TYPES = {"rule": pa.string(), "rung": pa.int64(), "cutoff": pa.float64(), "compared": pa.int64(),
                 "rank": pa.int64(), "bracket": pa.int64(), "detail": pa.string(), "predicted": pa.float64(),
                 "uncertainty": pa.float64()}


@dataclass(frozen=True)
class RunTables:
    """The three tables of one run dir."""

    reports: pa.Table
    trials: pa.Table
    decisions: pa.Table

    def items(self) -> list[tuple[str, pa.Table]]:
        return [("reports", self.reports), ("trials", self.trials), ("decisions", self.decisions)]


def metric_column(name: str) -> str:
    """The column a metric is written to: its own name unless that would clash."""
    clash = name in _FIXED or name.startswith((CONFIG_PREFIX, METRIC_PREFIX))
    return METRIC_PREFIX + name if clash else name


def _column(values: list) -> pa.Array:
    """Typed when the values share a type (ints and floats together are floats); JSON text
    otherwise, so one odd value never loses a column."""
    try:
        array = pa.array(values)
    except (pa.ArrowException, TypeError, ValueError, OverflowError):
        array = None
    if array is not None and not (pa.types.is_nested(array.type) or pa.types.is_null(array.type)):
        return array
    if array is not None and pa.types.is_null(array.type):
        return pa.nulls(len(values), pa.string())  # CSV and every reader know a string column
    return pa.array([None if v is None else json.dumps(v, allow_nan=True) for v in values], pa.string())


def _rows(events: pa.Table, kind: EventKind) -> pa.Table:
    return events.filter(pc.equal(events.column("kind"), kind.value))


def _configs(events: pa.Table) -> dict[int, dict]:
    created = _rows(events, EventKind.TRIAL_CREATED)
    trials, payloads = created.column("trial").to_pylist(), created.column("payload").to_pylist()
    return {t: json.loads(p) for t, p in zip(trials, payloads)}


def _config_columns(configs: dict[int, dict], trials: list[int], space: Any) -> dict[str, pa.Array]:
    """One ``config.<name>`` column per hyperparameter, a row per entry of ``trials``; the
    space's names come first, so a run with no trial yet has its columns too."""
    names: dict[str, None] = dict.fromkeys(space.names if space is not None else ())
    for config in configs.values():
        names.update(dict.fromkeys(config))
    empty: dict = {}
    return {CONFIG_PREFIX + n: _column([configs.get(t, empty).get(n) for t in trials]) for n in names}


def _metric_columns(metric: str, values: pa.Array, extras: list[str | None]) -> dict[str, pa.Array]:
    columns: dict[str, Any] = {metric_column(metric): values}
    parsed = [json.loads(e) if e else None for e in extras]
    names: dict[str, None] = {}
    for row in parsed:
        if row:
            names.update(dict.fromkeys(row))
    for name in names:
        if name != metric:  # the ranking metric's column is the log's value, never overwritten
            columns[metric_column(name)] = _column([row.get(name) if row else None for row in parsed])
    return columns


def reports_table(events: pa.Table, spec: Any) -> pa.Table:
    """One row per report event of a log: trial, epoch, time, worker, ``config.*``, metrics.
    ``spec`` is the run's ``ExperimentSpec`` (its metric and space)."""
    reports = _rows(events, EventKind.REPORT)
    trials = reports.column("trial").to_pylist()
    columns: dict[str, Any] = {name: reports.column(name).combine_chunks() for name in _FIXED}
    columns.update(_config_columns(_configs(events), trials, spec.space))
    columns.update(_metric_columns(spec.metric, reports.column("value").combine_chunks(),
                                   reports.column("metrics").to_pylist()))
    return pa.table(columns)


def _decision_rows(events: pa.Table) -> pa.Table:
    """Decision events and promotions (assignments that carry the policy's reason), in log order."""
    kind = events.column("kind")
    promoted = pc.and_(pc.equal(kind, EventKind.ASSIGNED.value), pc.is_valid(events.column("reason")))
    return events.filter(pc.or_(pc.equal(kind, EventKind.DECISION.value), promoted))


def decisions_table(events: pa.Table) -> pa.Table:
    """One row per decision and per promotion: time, kind, trial, epoch, action, until, the reason's fields."""
    rows = _decision_rows(events)
    promotion = pc.equal(rows.column("kind"), EventKind.ASSIGNED.value)
    reasons = [json.loads(r) if r else {} for r in rows.column("reason").to_pylist()]
    columns: dict[str, Any] = {
        "time": rows.column("time").combine_chunks(),
        "kind": pc.if_else(promotion, "promotion", "decision"),
        "trial": rows.column("trial").combine_chunks(),
        "epoch": rows.column("epoch").combine_chunks(),
        # A promotion resumes a paused trial: the engine records it as a "continue" with a reason.
        "action": pc.if_else(promotion, "continue", rows.column("action").combine_chunks()),
        "until": rows.column("until").combine_chunks(),
    }
    for field, type_ in _REASON_TYPES.items():
        # An empty detail is no detail: null, which CSV readers read back as they read Parquet.
        columns[field] = pa.array([r.get(field) if r.get(field) != "" else None for r in reasons], type_)
    return pa.table(columns)


def _curves(reports: pa.Table, metric: str) -> dict[int, list[tuple[int, float]]]:
    values = reports.column(metric_column(metric)).to_pylist()
    curves: dict[int, list[tuple[int, float]]] = {}
    for t, e, v in zip(reports.column("trial").to_pylist(), reports.column("epoch").to_pylist(), values):
        curves.setdefault(t, []).append((e, v))
    return curves


def _best(values: Iterable[float | None], mode: str) -> float | None:
    finite = [v for v in values if v is not None and math.isfinite(v)]
    if not finite:
        return None
    return max(finite) if mode == "max" else min(finite)


def trials_table(reports: pa.Table, spec: Any, result: Any) -> pa.Table:
    """One row per trial: config, final state, last decision and its reason, epochs trained,
    last and best value of the metric, failure message. ``result`` is ``load_run``'s."""
    trials = sorted(result.configs)
    curves = _curves(reports, spec.metric)
    last: dict[int, Any] = {d.trial: d for d in result.decisions}
    columns: dict[str, Any] = {"trial": pa.array(trials, pa.int64())}
    columns.update(_config_columns(result.configs, trials, spec.space))
    reason: list[Reason | None] = [last[t].reason if t in last else None for t in trials]
    columns.update({
        "state": pa.array([result.states[t].value for t in trials], pa.string()),
        "last_action": pa.array([last[t].action.value if t in last else None for t in trials], pa.string()),
        "rule": pa.array([r.rule if r is not None else None for r in reason], pa.string()),
        "reason": pa.array([str(r) if r is not None else None for r in reason], pa.string()),
        "epochs": pa.array([max((e for e, _ in curves.get(t, [])), default=0) for t in trials], pa.int64()),
        f"last_{spec.metric}": pa.array([curves[t][-1][1] if t in curves else None for t in trials], pa.float64()),
        f"best_{spec.metric}": pa.array([_best((v for _, v in curves.get(t, [])), spec.mode) for t in trials],
                                        pa.float64()),
        "error": pa.array([result.failures.get(t) for t in trials], pa.string()),
    })
    return pa.table(columns)


def _with_metadata(table: pa.Table, spec: Any, run_dir: Path) -> pa.Table:
    """The metric and its direction travel with the file (Parquet keeps schema metadata)."""
    meta = {"halving.metric": spec.metric, "halving.mode": spec.mode, "halving.run": run_dir.name}
    return table.replace_schema_metadata({**(table.schema.metadata or {}), **meta})


def run_tables(run_dir: str | os.PathLike) -> RunTables:
    """The three tables of a run dir, finished, interrupted or being written; reads only."""
    run = read_run(run_dir)
    reports = reports_table(run.events, run.spec)
    tables = RunTables(reports, trials_table(reports, run.spec, run.result), decisions_table(run.events))
    return RunTables(*(_with_metadata(t, run.spec, Path(run_dir)) for _, t in tables.items()))


def default_out(run_dir: str | os.PathLike) -> Path:
    """``./<run dir name>-export``: in the current directory, never inside the run dir."""
    return Path(f"{Path(os.path.abspath(run_dir)).name}-export")


def _check_out(out: Path, run_dir: Path) -> None:
    if out.exists() and not out.is_dir():
        raise UserError(f"the export folder {out} is a file")
    inside = Path(os.path.abspath(out)).resolve()
    run = Path(os.path.abspath(run_dir)).resolve()
    if inside == run or run in inside.parents:
        raise UserError(f"the export folder {out} is inside the run dir {run_dir}: exporting only reads a "
                        "run dir, so choose a folder outside it")


def _write(table: pa.Table, dest: Path, fmt: str) -> None:
    """Whole or not at all: a reader never opens half a file."""
    tmp = dest.with_name(dest.name + ".tmp")
    if fmt == "parquet":
        import pyarrow.parquet as pq

        pq.write_table(table, tmp)
    else:
        import pyarrow.csv as pcsv

        pcsv.write_csv(table, tmp)
    os.replace(tmp, dest)


def write_tables(run_dir: str | os.PathLike, out: str | os.PathLike | None = None,
                 fmt: str = "parquet") -> list[Path]:
    """Write ``reports``, ``trials`` and ``decisions`` of a run dir to ``out`` (default:
    ``default_out``) as ``fmt`` ("parquet" or "csv"); returns the files written."""
    if fmt not in FORMATS:
        raise UserError(f"format {fmt!r} is not one of {', '.join(FORMATS)}")
    dest = Path(out) if out is not None else default_out(run_dir)
    _check_out(dest, Path(run_dir))
    tables = run_tables(run_dir)
    try:
        dest.mkdir(parents=True, exist_ok=True)
        written = []
        for name, table in tables.items():
            path = dest / f"{name}.{fmt}"
            _write(table, path, fmt)
            written.append(path)
    except OSError as exc:
        raise UserError(f"cannot write the export to {dest}: {exc.strerror or exc}") from None
    return written


def write_reports(run_dir: str | os.PathLike, dest: str | os.PathLike) -> Path:
    """The ``reports`` table of a run dir as one Parquet file (``results.parquet`` at the end of a run)."""
    path = Path(run_dir)
    events = read_run_log(path).table
    spec = spec_of_events(events, path)
    table = _with_metadata(reports_table(events, spec), spec, path)
    _write(table, Path(dest), "parquet")
    return Path(dest)
