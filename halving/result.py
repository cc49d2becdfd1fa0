"""The result of an experiment: the same type from ``tune``, ``simulate`` and ``load``."""

from __future__ import annotations

import enum
import functools
from dataclasses import dataclass, field
from typing import Any, Mapping

import numpy as np
import pyarrow as pa

from policies import Decision

__all__ = ["Result", "TrialState", "ReportTable"]


class TrialState(enum.Enum):
    PENDING = "pending"
    RUNNING = "running"
    PAUSED = "paused"
    STOPPED = "stopped"
    COMPLETED = "completed"
    FAILED = "failed"


class ReportTable:
    """Every report, kept as segments (one per round trip) and turned into
    columns only when asked: a million-trial simulation never builds a
    Python object per report."""

    def __init__(self, metric: str) -> None:
        self.metric = metric
        self._trial: list[int] = []
        self._start: list[int] = []
        self._values: list[Any] = []
        self._times: list[Any] = []
        self._workers: list[int] = []
        self._extra: list[list[dict] | None] = []
        self.n_reports = 0

    def add(self, trial: int, start: int, values, times, worker: int = -1, extra: list[dict] | None = None) -> None:
        if len(values) == 0:
            return
        self._trial.append(trial)
        self._start.append(start)
        self._values.append(values)
        self._times.append(times)
        self._workers.append(worker)
        self._extra.append(extra)
        self.n_reports += len(values)

    def curve(self, trial: int) -> list[tuple[int, float]]:
        out = []
        for t, s, v in zip(self._trial, self._start, self._values):
            if t == trial:
                out.extend((s + i + 1, float(x)) for i, x in enumerate(v))
        return out

    def to_arrow(self) -> pa.Table:
        lengths = np.fromiter((len(v) for v in self._values), dtype=np.int64, count=len(self._values))
        n = int(lengths.sum())
        trial = np.repeat(np.asarray(self._trial, dtype=np.int64), lengths)
        starts = np.repeat(np.asarray(self._start, dtype=np.int64), lengths)
        offsets = np.arange(n, dtype=np.int64) - np.repeat(np.cumsum(lengths) - lengths, lengths)
        epoch = starts + offsets + 1
        value = np.concatenate([np.asarray(v, dtype=np.float64) for v in self._values]) if n else np.zeros(0)
        times = np.concatenate([np.asarray(t, dtype=np.float64) for t in self._times]) if n else np.zeros(0)
        worker = np.repeat(np.asarray(self._workers, dtype=np.int64), lengths)
        columns = {"trial": trial, "epoch": epoch, self.metric: value, "time": times, "worker": worker}
        extra_keys: list[str] = []
        for ex in self._extra:
            if ex:
                for row in ex:
                    for k in row:
                        if k not in columns and k not in extra_keys:
                            extra_keys.append(k)
        for k in extra_keys:
            col = []
            for ex, length in zip(self._extra, lengths):
                col.extend(row.get(k) for row in ex) if ex else col.extend([None] * int(length))
            columns[k] = pa.array(col)
        return pa.table(columns)


@dataclass
class Result:
    """What an experiment found and everything it decided.

    ``best_trial`` is the best trial at ``max_epochs`` among the trials that
    reached it (``None`` when none did, e.g. a budget too small). ``decisions``
    holds every decision the policy (or the engine: failures, budget, timeouts)
    took at a trial's decision point; ``promotions`` every resumption of a
    paused trial, each with its reason.
    """

    metric: str
    mode: str
    max_epochs: int
    policy: str
    best_trial: int | None
    best_value: float | None
    best_config: dict | None
    epochs_used: int
    decisions: list[Decision]
    #: The engine's record of each trial (``config``, ``state``, ``error``, ...), by trial id;
    #: ``configs``, ``states`` and ``failures`` are views of it, made when first read.
    trials: Mapping[int, Any] = field(repr=False)
    reports: ReportTable = field(repr=False)
    #: Seconds the experiment ran: each session from its workers being ready to its last event,
    #: summed over resumed sessions (Ray's start and the time down after a crash excluded).
    wall_seconds: float = 0.0
    virtual_seconds: float = 0.0
    #: The best trial's model as returned by ``tune()`` (``None`` when read back: see ``best_model``).
    model: Any = field(default=None, repr=False)
    #: Where the best model was saved (``best_model.pkl`` in the run dir), for ``best_model``.
    model_path: str | None = None
    run_dir: str | None = None
    stop_reason: str = "done"
    backend_stats: dict = field(default_factory=dict)
    #: Promotions: a paused trial resumed to train on to ``until``, with the policy's reason.
    promotions: list[Decision] = field(default_factory=list)

    @functools.cached_property
    def configs(self) -> dict[int, dict]:
        """Each trial's configuration."""
        return {t: r.config for t, r in self.trials.items()}

    @functools.cached_property
    def states(self) -> dict[int, TrialState]:
        """Each trial's final (or current) state."""
        return {t: r.state for t, r in self.trials.items()}

    @functools.cached_property
    def failures(self) -> dict[int, str]:
        """Why each trial that ended abnormally did: its error, timeout or non-finite value."""
        return {t: r.error for t, r in self.trials.items() if r.error is not None}

    @property
    def best_model(self) -> Any:
        """The best trial's model. Read back from a run dir (``load``, ``show``), it is
        unpickled only now, when asked for, and only after its keyed digest proves that
        this run wrote it: unpickling runs code, so a file someone else placed in a run
        dir you were sent is refused (``UntrustedFileError``), never executed. Trust a run
        dir's model as you would trust a pickle from its author."""
        if self.model is None and self.model_path is not None:
            from pathlib import Path

            from .signing import load_pickle, run_key

            path = Path(self.model_path)
            self.model = load_pickle(path, run_key(path.parent))
        return self.model

    def table(self) -> pa.Table:
        """A pyarrow Table with one row per report: trial, epoch, the metric, time, worker, extras."""
        return self.reports.to_arrow()

    def _count(self, state: TrialState) -> int:
        return sum(1 for s in self.states.values() if s is state)

    @property
    def n_trials(self) -> int:
        return len(self.states)

    @property
    def n_completed(self) -> int:
        return self._count(TrialState.COMPLETED)

    @property
    def n_stopped(self) -> int:
        return self._count(TrialState.STOPPED)

    @property
    def n_failed(self) -> int:
        return self._count(TrialState.FAILED)

    def summary(self) -> dict:
        return {
            "policy": self.policy,
            "metric": self.metric,
            "mode": self.mode,
            "best_trial": self.best_trial,
            "best_value": self.best_value,
            "best_config": self.best_config,
            "epochs_used": self.epochs_used,
            "n_trials": self.n_trials,
            "n_completed": self.n_completed,
            "n_stopped": self.n_stopped,
            "n_failed": self.n_failed,
            "wall_seconds": round(self.wall_seconds, 3),
            "stop_reason": self.stop_reason,
            "run_dir": self.run_dir,
        }
