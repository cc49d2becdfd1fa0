"""A run dir read back: its spec and its result, rebuilt from the event log alone.

Reading never writes to the run dir and never unpickles anything from it; the best
model is loaded only when ``result.best_model`` is asked for (see ``Result``).
"""

from __future__ import annotations

import json
import os
import warnings
from dataclasses import dataclass
from pathlib import Path

import pyarrow as pa

from .engine import Engine
from .errors import UserError
from .eventlog import EventKind, LogDamageWarning, LogRead, iter_events, read_log
from .experiment import ExperimentSpec
from .replay import replay_log
from .result import Result

__all__ = ["read_run_log", "read_spec", "load", "load_run", "read_run", "RunRead", "spec_of_events", "session_seconds", "BEST_MODEL"]

BEST_MODEL = "best_model.pkl"


def _existing(run_dir: str | os.PathLike) -> Path:
    path = Path(run_dir)
    if not path.is_dir():
        raise UserError(f"run dir {path} does not exist")
    return path


def read_run_log(run_dir: str | os.PathLike) -> LogRead:
    """Every readable event of a run dir; a damage in the middle is a ``LogDamageWarning``
    (the CLI prints it) and never a change on disk."""
    try:
        read = read_log(_existing(run_dir))
    except FileNotFoundError as exc:
        raise UserError(str(exc)) from None
    if read.damaged:
        warnings.warn(LogDamageWarning(read.summary()), stacklevel=3)
    return read


def spec_of_events(events, where: object) -> ExperimentSpec:
    """The spec in a log's first record."""
    for ev in iter_events(events.slice(0, 1)):
        if ev["kind"] == EventKind.EXPERIMENT_STARTED.value:
            data = json.loads(ev["payload"])
            data.pop("version", None)
            return ExperimentSpec.from_dict(data)
    raise UserError(f"{where}: the event log does not start with experiment_started")


def session_seconds(events) -> float:
    """Seconds the experiment ran: from each session's start (its workers ready) to that
    session's last event, summed; Ray's start and the time between a crash and its resume
    are not counted. ``Result.wall_seconds`` means this wherever it is shown."""
    total, start, last = 0.0, None, None
    for kind, t in zip(events.column("kind").to_pylist(), events.column("time").to_pylist()):
        if t is None or t != t:
            continue
        if kind == EventKind.SESSION_STARTED.value:
            total += 0.0 if start is None else last - start
            start = t
        elif start is not None:
            last = t
        if start is not None and (last is None or last < start):
            last = start
    return total + (0.0 if start is None else last - start)


def read_spec(run_dir: str | os.PathLike) -> ExperimentSpec:
    """The spec of a run dir, from its log's first record."""
    return spec_of_events(read_run_log(run_dir).table, run_dir)


class _NoBackend:
    """Stands in for a backend when a run is only read back: nothing runs."""

    def now(self) -> float:
        return 0.0

    def release(self, trial: int, keep: bool) -> None:
        pass


@dataclass(frozen=True)
class RunRead:
    """A run dir read once: its spec, its result, and the events both were made from (the
    tables of ``export`` describe the same moment of a run still being written)."""

    spec: ExperimentSpec
    result: Result
    events: pa.Table


def load_run(run_dir: str | os.PathLike) -> tuple[ExperimentSpec, Result]:
    """The spec and the result of a run from its log, finished or not (nothing is started)."""
    run = read_run(run_dir)
    return run.spec, run.result


def read_run(run_dir: str | os.PathLike) -> RunRead:
    """Every readable event of a run dir and what they make, read-only."""
    path = _existing(run_dir)
    read = read_run_log(path)
    events = read.table
    spec = spec_of_events(events, path)
    engine = Engine(spec, spec.policy.build(), _NoBackend())
    # With records missing, the policy cannot be made the same calls: show what remains.
    stats = replay_log(engine, iter_events(events), strict=not read.damaged)
    if stats.get("skipped"):
        warnings.warn(LogDamageWarning(f"{stats['skipped']} events of trials whose creation was lost in the "
                                       "damage were left out"), stacklevel=2)
    model = path / BEST_MODEL
    result = engine.result(run_dir=str(path), wall_seconds=session_seconds(events),
                           model_path=str(model) if engine.best_trial is not None and model.exists() else None)
    return RunRead(spec, result, events)


def load(run_dir: str | os.PathLike) -> Result:
    """The result of a run from its log, finished or not (nothing is started)."""
    return load_run(run_dir)[1]
