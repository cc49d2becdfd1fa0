"""The append-only event log of an experiment: Arrow IPC streams in the run dir.

Each session (the first run, then each resume) writes one stream file,
``events-000.arrows``, ``events-001.arrows``, ...: append-only, each a valid
Arrow IPC stream with the same typed schema. The engine writes a record and
flushes it before it acts on it, so a killed driver loses at most the events
it had not acted on. A torn tail (a record half-written when the process
died) is detected on open and cut back to the last whole record.

Schema version 1, one row per event; ``kind`` says which columns are set:

===================  =====================================================
kind                 columns
===================  =====================================================
experiment_started   payload (JSON spec: target, space, policy, params, ...)
session_started      payload (JSON: session number, resumed from)
trial_created        trial, payload (JSON config)
assigned             trial, epoch (start), until (granted), reason, payload
report               trial, epoch, value, metrics (JSON), worker, time
removed              trial, epoch (the engine told the policy to forget it)
decision             trial, epoch, action, until, reason (JSON)
trial_failed         trial, epoch, payload (JSON: error, traceback)
experiment_finished  payload (JSON summary)
===================  =====================================================
"""

from __future__ import annotations

import enum
import glob
import json
import math
import os
from pathlib import Path
from typing import Any, Iterator, Sequence

import pyarrow as pa

from policies import Action, Decision, Reason

__all__ = ["EventLog", "LOG_VERSION", "SCHEMA", "read_events", "repair", "log_files", "CorruptLogError"]

LOG_VERSION = 1

SCHEMA = pa.schema(
    [
        ("seq", pa.int64()),
        ("kind", pa.string()),
        ("time", pa.float64()),
        ("trial", pa.int64()),
        ("epoch", pa.int64()),
        ("until", pa.int64()),
        ("value", pa.float64()),
        ("worker", pa.int64()),
        ("action", pa.string()),
        ("reason", pa.string()),
        ("metrics", pa.string()),
        ("payload", pa.string()),
    ],
    metadata={"halving_log_version": str(LOG_VERSION)},
)



class EventKind(str, enum.Enum):
    EXPERIMENT_STARTED = "experiment_started"
    SESSION_STARTED = "session_started"
    TRIAL_CREATED = "trial_created"
    ASSIGNED = "assigned"
    REPORT = "report"
    REMOVED = "removed"
    DECISION = "decision"
    TRIAL_FAILED = "trial_failed"
    RESTARTED = "restarted"
    REFUSED = "refused"
    INTERRUPTED = "interrupted"
    EXPERIMENT_FINISHED = "experiment_finished"


_FIELDS = SCHEMA.names
_TYPES = {f.name: f.type for f in SCHEMA}


class CorruptLogError(ValueError):
    """The event log cannot be read (beyond a torn tail, which is repaired)."""


def log_files(run_dir: str | os.PathLike) -> list[Path]:
    return sorted(Path(p) for p in glob.glob(os.path.join(os.fspath(run_dir), "events-*.arrows")))


def _dumps(obj: Any) -> str:
    return json.dumps(obj, default=_json_default, allow_nan=True)


def _json_default(obj: Any) -> Any:
    item = getattr(obj, "item", None)
    if callable(item):
        return item()
    if isinstance(obj, (set, tuple)):
        return list(obj)
    return str(obj)


def reason_json(reason: Reason | None) -> str | None:
    return None if reason is None else _dumps(reason.as_dict())


def reason_from_json(text: str | None) -> Reason | None:
    if not text:
        return None
    return Reason(**json.loads(text))


class EventLog:
    """Writes events; ``flush()`` turns the buffered rows into one record batch on disk."""

    def __init__(self, run_dir: str | os.PathLike, *, seq: int = 0) -> None:
        self.run_dir = Path(run_dir)
        self.run_dir.mkdir(parents=True, exist_ok=True)
        existing = log_files(self.run_dir)
        self.session = len(existing)
        self.path = self.run_dir / f"events-{self.session:03d}.arrows"
        self._sink = open(self.path, "wb")
        self._writer = pa.ipc.new_stream(self._sink, SCHEMA)
        self._rows: dict[str, list] = {name: [] for name in _FIELDS}
        self._set: set[str] = set()  # columns holding a value in the pending rows
        self.seq = seq
        self.closed = False

    # --- the Recorder protocol of the engine ---------------------------------
    def add(self, kind: str, time: float, **cols: Any) -> None:
        rows = self._rows
        rows["seq"].append(self.seq)
        rows["kind"].append(kind)
        rows["time"].append(time)
        for name in _FIELDS[3:]:
            value = cols.get(name)
            rows[name].append(value)
            if value is not None:
                self._set.add(name)
        self.seq += 1

    def experiment_started(self, spec: dict, time: float) -> None:
        self.add("experiment_started", time, payload=_dumps({"version": LOG_VERSION, **spec}))

    def session_started(self, info: dict, time: float) -> None:
        self.add("session_started", time, payload=_dumps(info))

    def trial_created(self, trial: int, config: dict, time: float) -> None:
        self.add("trial_created", time, trial=trial, payload=_dumps(config))

    def assigned(self, trial: int, start: int, until: int, reason: Reason | None, time: float,
                 how: str | None = None) -> None:
        self.add("assigned", time, trial=trial, epoch=start, until=until, reason=reason_json(reason),
                 payload=None if how is None else _dumps({"how": how}))

    def reports(self, segment: Any, n: int) -> None:
        """Every epoch of the segment (``n`` of them reached the policy)."""
        extra = segment.extra
        values = segment.values
        times = segment.times
        for i in range(len(values)):
            v = float(values[i])
            self.add(
                "report",
                float(times[i]) if i < len(times) else math.nan,
                trial=segment.trial,
                epoch=segment.start + i + 1,
                value=v,
                worker=segment.worker,
                metrics=_dumps(extra[i]) if extra is not None and extra[i] else None,
            )

    def removed(self, trial: int, epoch: int, time: float) -> None:
        self.add("removed", time, trial=trial, epoch=epoch)

    def decisions(self, decisions: Sequence[Decision], time: float) -> None:
        for d in decisions:
            self.add("decision", time, trial=d.trial, epoch=d.epoch, action=d.action.value, until=d.until,
                     reason=reason_json(d.reason))

    def failed(self, trial: int, epoch: int, error: str, traceback: str | None, time: float) -> None:
        self.add("trial_failed", time, trial=trial, epoch=epoch,
                 payload=_dumps({"error": error, "traceback": traceback}))

    def restarted(self, trial: int, epoch: int, info: dict, time: float) -> None:
        self.add("restarted", time, trial=trial, epoch=epoch, payload=_dumps(info))

    def refused(self, trial: int, epoch: int, time: float) -> None:
        self.add("refused", time, trial=trial, epoch=epoch)

    def interrupted(self, why: str, time: float) -> None:
        self.add("interrupted", time, payload=_dumps(why))

    def experiment_finished(self, summary: dict, time: float) -> None:
        self.add("experiment_finished", time, payload=_dumps(summary))

    def flush(self) -> None:
        rows = self._rows
        if not rows["seq"]:
            return
        n = len(rows["seq"])
        given = self._set
        # Most events set few columns: the others are written as all-null arrays, made cheaply.
        batch = pa.record_batch(
            [pa.array(rows[name], type=_TYPES[name]) if i < 3 or name in given else pa.nulls(n, _TYPES[name])
             for i, name in enumerate(_FIELDS)],
            schema=SCHEMA,
        )
        self._writer.write_batch(batch)
        self._sink.flush()  # to the OS: a killed process loses nothing written here
        for v in rows.values():
            v.clear()
        given.clear()

    def close(self) -> None:
        if self.closed:
            return
        self.flush()
        self._writer.close()
        self._sink.flush()
        os.fsync(self._sink.fileno())
        self._sink.close()
        self.closed = True


def repair(path: str | os.PathLike) -> int:
    """Cut a torn tail: truncate ``path`` after its last whole message. Returns bytes cut."""
    path = Path(path)
    size = path.stat().st_size
    good = 0
    with open(path, "rb") as fh:
        try:
            reader = pa.ipc.MessageReader.open_stream(fh)
        except (pa.ArrowInvalid, OSError) as exc:
            raise CorruptLogError(f"{path} is not an Arrow IPC stream: {exc}") from None
        while True:
            try:
                msg = reader.read_next_message()
            except StopIteration:
                good = fh.tell()
                break
            except (pa.ArrowInvalid, OSError, IOError):
                break
            good = fh.tell()
    if good == 0:
        raise CorruptLogError(f"{path} has no readable schema message; it is not a halving event log")
    cut = size - good
    if cut > 0:
        with open(path, "r+b") as fh:
            fh.truncate(good)
    return cut


def read_events(run_dir: str | os.PathLike, *, repair_tail: bool = True) -> pa.Table:
    """All events of a run, every session in order, as one table."""
    files = log_files(run_dir)
    if not files:
        raise FileNotFoundError(f"{run_dir} holds no halving event log (events-*.arrows)")
    tables = []
    for path in files:
        if repair_tail:
            repair(path)
        try:
            with pa.ipc.open_stream(pa.OSFile(os.fspath(path))) as reader:
                if reader.schema.metadata is None or b"halving_log_version" not in reader.schema.metadata:
                    raise CorruptLogError(f"{path} is an Arrow stream but not a halving event log")
                version = int(reader.schema.metadata[b"halving_log_version"])
                if version > LOG_VERSION:
                    raise CorruptLogError(f"{path} has log version {version}; this halving reads up to {LOG_VERSION}")
                batches = []
                while True:
                    try:
                        batches.append(reader.read_next_batch())
                    except StopIteration:
                        break
                    except (pa.ArrowInvalid, OSError) as exc:
                        if repair_tail:
                            raise CorruptLogError(f"{path}: {exc}") from None
                        break
                tables.append(pa.Table.from_batches(batches, schema=SCHEMA))
        except pa.ArrowInvalid as exc:
            raise CorruptLogError(f"{path} cannot be read as a halving event log: {exc}") from None
    return pa.concat_tables(tables)


def iter_events(table: pa.Table) -> Iterator[dict]:
    cols = {name: table.column(name).to_pylist() for name in _FIELDS}
    for i in range(table.num_rows):
        yield {name: cols[name][i] for name in _FIELDS}


def decision_from_event(ev: dict) -> Decision:
    return Decision(ev["trial"], ev["epoch"], Action(ev["action"]), reason_from_json(ev["reason"]), until=ev["until"])
