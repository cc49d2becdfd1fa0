"""The append-only event log of an experiment: Arrow IPC streams in the run dir.

Each session (the first run, then each resume) writes one stream file,
``events-000.arrows``, ``events-001.arrows``, ...: append-only, each a valid
Arrow IPC stream with the same typed schema. The engine writes a record and
flushes it before it acts on it.

Reading never writes. ``read_log`` returns the events it could read and a
``Damage`` for each stretch it could not: a torn tail (an incomplete last
message, as a killed writer or a reader racing a live writer sees) is ignored;
a damage in the middle is reported with its file, byte offset and the records
readable before it, and the records after it are recovered where a whole
message can be found again. Only the writer, holding the run dir's lock, cuts
a torn tail (``repair_run``) before it appends a new session.

What the log promises:

- a killed process (SIGKILL, an exception, Ctrl-C) loses nothing flushed:
  ``flush()`` hands each batch to the operating system, and the engine flushes
  before it waits on its backend, which is when a backend sends work;
- a power loss or kernel crash loses at most the batches flushed in the last
  ``sync_every`` seconds (0.05 by default) plus one fsync's duration: a
  background thread fsyncs the file at most that long after a flush (with
  ``sync_every=0`` every ``flush()`` fsyncs before it returns); ``close()``
  always fsyncs. What survives is a prefix of the stream, perhaps followed by
  zero bytes or half a message, which the reader treats as a torn tail.

Why in the background: the engine flushes at every assignment and decision
batch, on its critical path. Measured on the development machine (ext4 on a
virtual disk, 1,000 flushes of a one-row batch, median of 5): 0.05 ms per
flush without fsync and 0.24 ms with an fsync in every flush when the disk
was idle; 0.09-0.20 ms and 1.8-2.5 ms with other jobs running (load 9-13
on 2 CPUs); the background fsync costs what no fsync costs (0.05-0.15 ms).

A damage in the last message of a file that leaves it looking incomplete
(its length pointing past the end) cannot be told from a torn tail, and is
treated as one: no record after it could have been read either way.

Schema version 1, one row per event; ``kind`` (an ``EventKind`` value) says
which columns are set. ``seq`` and ``time`` (seconds) are set on every row;
``seq`` rises by one per event, across sessions, and the reader relies on it
to tell a damaged batch that still decodes from a good one.

===================  ==================================================================
kind                 columns
===================  ==================================================================
experiment_started   payload (JSON spec: version, target, space, policy, params, ...)
session_started      payload (JSON: session number, workers, resumed, replayed, ...)
trial_created        trial, payload (JSON config), reason (JSON: the proposal's origin, ``sampler``,
                     ``model``, ``n_obs``, ``pending``...; null in logs written before samplers)
assigned             trial, epoch (trained so far), until (granted), reason (JSON or null),
                     payload (JSON ``{"how": ...}`` or null)
report               trial, epoch, value (the metric as reported: may be NaN or infinite),
                     worker, metrics (JSON of the extra metrics, or null); time: the epoch's
removed              trial, epoch (the engine told the policy to forget it)
decision             trial, epoch, action, until, reason (JSON)
trial_failed         trial, epoch, payload (JSON: error, traceback)
restarted            trial, epoch (restarted from), payload (JSON: how, why, detail)
refused              trial, epoch (trained so far): the budget had no room for its grant
moved                trial, epoch (trained so far), payload (JSON: what ("worker": to a worker
                     holding more resources; "offload": a paused trial's state left a GPU
                     worker's device; "kept": it could not; "spill": its idle worker was
                     ended to make room for another shape, its state went to disk), why,
                     and detail (worker shapes,
                     the hook used)); informational: replay and resume read past it
interrupted          payload (JSON string: why, e.g. "KeyboardInterrupt")
experiment_finished  payload (JSON summary)
===================  ==================================================================
"""

from __future__ import annotations

import enum
import glob
import json
import math
import os
import threading
import warnings
import weakref
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterator, Sequence

import numpy as np
import pyarrow as pa

from policies import Action, Decision, Reason

from .arrays import column
from .errors import UserError
from .runlock import RunLock

__all__ = [
    "EventKind", "EventLog", "LOG_VERSION", "SCHEMA", "Damage", "LogRead", "LogDamageWarning", "CorruptLogError",
    "read_log", "read_events", "iter_events", "log_files", "repair", "repair_run", "decision_from_event",
]

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

_FIELDS = SCHEMA.names
_MERGE_EVERY = 256
_TYPES = {f.name: f.type for f in SCHEMA}


class EventKind(str, enum.Enum):
    """The kinds of event the log holds; the module docstring lists each one's columns."""

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
    MOVED = "moved"
    INTERRUPTED = "interrupted"
    EXPERIMENT_FINISHED = "experiment_finished"


# Members and their plain values both map to the plain value: ``add`` runs once per
# report, so a dict lookup replaces an enum construction on that path.
_KIND_TEXT: dict[Any, str] = {**{k.value: k.value for k in EventKind}, **{k: k.value for k in EventKind}}


class CorruptLogError(UserError):
    """Nothing sensible can be read from an event log file (or a damaged log cannot be repaired)."""


class LogDamageWarning(UserWarning):
    """``read_events`` skipped a damaged stretch in the middle of a log."""


def log_files(run_dir: str | os.PathLike) -> list[Path]:
    return sorted(Path(p) for p in glob.glob(os.path.join(glob.escape(os.fspath(run_dir)), "events-*.arrows")))


def json_text(obj: Any) -> str:
    """The JSON text the log stores for a value (numpy scalars as numbers, sets as lists)."""
    return json.dumps(obj, default=_json_default, allow_nan=True)


def _json_default(obj: Any) -> Any:
    item = getattr(obj, "item", None)
    if callable(item):
        return item()
    if isinstance(obj, (set, tuple)):
        return list(obj)
    return str(obj)


def reason_json(reason: Reason | None) -> str | None:
    return None if reason is None else json_text(reason.as_dict())


def reason_from_json(text: str | None) -> Reason | None:
    if not text:
        return None
    return Reason(**json.loads(text))


_fdatasync = getattr(os, "fdatasync", os.fsync)  # macOS has no fdatasync


def _fsync_dir(path: Path) -> None:
    """Make a new file's directory entry durable (a no-op where directories cannot be opened)."""
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass  # some file systems refuse fsync on a directory; the data fsyncs still hold
    finally:
        os.close(fd)


class _Syncer:
    """Fsyncs a file from a background thread at most ``interval`` seconds after it was
    written, so the engine never waits for the disk and a power loss loses at most that long."""

    def __init__(self, fd: int, interval: float) -> None:
        self._fd = fd
        self._interval = interval
        self._dirty = threading.Event()
        self._stopping = threading.Event()
        self.error: OSError | None = None
        self._thread = threading.Thread(target=self._loop, name="halving-log-fsync", daemon=True)
        self._thread.start()

    def dirty(self) -> None:
        self._dirty.set()

    def _loop(self) -> None:
        while True:
            self._dirty.wait()
            if self._stopping.is_set():
                return
            self._dirty.clear()
            try:
                _fdatasync(self._fd)
            except OSError as exc:  # raised again in the writer's thread, at its next flush or close
                self.error = exc
                return
            # Waiting here (not before the fsync) bounds the loss: a flush made now is
            # fsynced at most one interval later.
            if self._stopping.wait(self._interval):
                return

    def stop(self) -> None:
        self._stopping.set()
        self._dirty.set()
        self._thread.join()


def _next_session(run_dir: Path) -> int:
    numbers = []
    for path in log_files(run_dir):
        try:
            numbers.append(int(path.stem.split("-", 1)[1]))
        except ValueError:
            continue
    return max(numbers, default=-1) + 1


class EventLog:
    """Writes events; ``flush()`` turns the buffered rows into one record batch on disk.

    Only one process may write a run dir: the caller holds its ``runlock`` (and, at a
    resume, calls ``repair_run`` under it first). ``sync_every``: seconds after a flush
    within which the batch is fsynced (0: in ``flush()`` itself; None: only at close).
    """

    def __init__(self, run_dir: str | os.PathLike, *, seq: int = 0, sync_every: float | None = 0.05) -> None:
        if sync_every is not None and not (isinstance(sync_every, (int, float)) and sync_every >= 0):
            raise ValueError(f"sync_every must be None or a number of seconds >= 0, not {sync_every!r}")
        self.run_dir = Path(run_dir)
        self.run_dir.mkdir(parents=True, exist_ok=True)
        self.session = _next_session(self.run_dir)
        self.path = self.run_dir / f"events-{self.session:03d}.arrows"
        try:
            # "x": a second writer that slipped past the lock fails here instead of emptying our file.
            self._sink = open(self.path, "xb")
        except FileExistsError:
            raise FileExistsError(f"{self.path} already exists: is another process writing {self.run_dir}?") from None
        self._writer = pa.ipc.new_stream(self._sink, SCHEMA)
        self._sink.flush()
        # The new session's file and its schema survive a power loss from the start.
        os.fsync(self._sink.fileno())
        _fsync_dir(self.run_dir)
        self._sync_inline = sync_every == 0
        self._syncer = _Syncer(self._sink.fileno(), float(sync_every)) if sync_every else None
        if self._syncer is not None:
            weakref.finalize(self, self._syncer.stop)  # a log never closed leaves no thread behind
        self._rows: dict[str, list] = {name: [] for name in _FIELDS}
        self._set: set[str] = set()  # columns holding a value in the pending rows
        # What this session wrote, for the results table at the end without reading the file
        # back: the one-flush batches are merged every _MERGE_EVERY so that few objects stay.
        self._written: list[pa.RecordBatch] = []
        self._recent: list[pa.RecordBatch] = []
        self.seq = seq
        self.closed = False

    # --- the Recorder protocol of the engine ---------------------------------
    def add(self, kind: EventKind, time: float, **cols: Any) -> None:
        try:
            text = _KIND_TEXT[kind]
        except (KeyError, TypeError):
            raise ValueError(f"unknown event kind {kind!r}; the kinds are {[k.value for k in EventKind]}") from None
        rows = self._rows
        rows["seq"].append(self.seq)
        rows["kind"].append(text)
        rows["time"].append(time)
        for name in _FIELDS[3:]:
            value = cols.get(name)
            rows[name].append(value)
            if value is not None:
                self._set.add(name)
        self.seq += 1

    def experiment_started(self, spec: dict, time: float) -> None:
        self.add(EventKind.EXPERIMENT_STARTED, time, payload=json_text({"version": LOG_VERSION, **spec}))

    def session_started(self, info: dict, time: float) -> None:
        self.add(EventKind.SESSION_STARTED, time, payload=json_text(info))

    def trial_created(self, trial: int, config: dict, time: float, origin: dict | None = None) -> None:
        self.add(EventKind.TRIAL_CREATED, time, trial=trial, payload=json_text(config),
                 reason=None if origin is None else json_text(origin))

    def assigned(self, trial: int, start: int, until: int, reason: Reason | None, time: float,
                 how: str | None = None) -> None:
        self.add(EventKind.ASSIGNED, time, trial=trial, epoch=start, until=until, reason=reason_json(reason),
                 payload=None if how is None else json_text({"how": how}))

    def reports(self, segment: Any, n: int) -> None:
        """Every epoch of the segment (``n`` of them reached the policy)."""
        extra = segment.extra
        values = segment.values
        times = segment.times
        for i in range(len(values)):
            v = float(values[i])
            self.add(
                EventKind.REPORT,
                float(times[i]) if i < len(times) else math.nan,
                trial=segment.trial,
                epoch=segment.start + i + 1,
                value=v,
                worker=segment.worker,
                metrics=json_text(extra[i]) if extra is not None and extra[i] else None,
            )

    def removed(self, trial: int, epoch: int, time: float) -> None:
        self.add(EventKind.REMOVED, time, trial=trial, epoch=epoch)

    def decisions(self, decisions: Sequence[Decision], time: float) -> None:
        for d in decisions:
            self.add(EventKind.DECISION, time, trial=d.trial, epoch=d.epoch, action=d.action.value, until=d.until,
                     reason=reason_json(d.reason))

    def failed(self, trial: int, epoch: int, error: str, traceback: str | None, time: float) -> None:
        self.add(EventKind.TRIAL_FAILED, time, trial=trial, epoch=epoch,
                 payload=json_text({"error": error, "traceback": traceback}))

    def restarted(self, trial: int, epoch: int, info: dict, time: float) -> None:
        """The trial's state was lost; ``info`` says how it restarts (how, why, detail)."""
        self.add(EventKind.RESTARTED, time, trial=trial, epoch=epoch, payload=json_text(info))

    def refused(self, trial: int, epoch: int, time: float) -> None:
        self.add(EventKind.REFUSED, time, trial=trial, epoch=epoch)

    def moved(self, trial: int, epoch: int, what: str, why: str, detail: dict, time: float) -> None:
        """The backend moved the trial's state on its own (see the schema above)."""
        self.add(EventKind.MOVED, time, trial=trial, epoch=epoch,
                 payload=json_text({"what": what, "why": why, "detail": detail}))

    def interrupted(self, why: str, time: float) -> None:
        self.add(EventKind.INTERRUPTED, time, payload=json_text(why))

    def experiment_finished(self, summary: dict, time: float) -> None:
        self.add(EventKind.EXPERIMENT_FINISHED, time, payload=json_text(summary))

    def flush(self) -> None:
        self._raise_sync_error()
        rows = self._rows
        if not rows["seq"]:
            return
        n = len(rows["seq"])
        given = self._set
        # Most events set few columns: the others are written as all-null arrays, made cheaply.
        batch = pa.record_batch(
            [column(rows[name], _TYPES[name]) if i < 3 or name in given else pa.nulls(n, _TYPES[name])
             for i, name in enumerate(_FIELDS)],
            schema=SCHEMA,
        )
        self._writer.write_batch(batch)
        self._sink.flush()  # to the OS: a killed process loses nothing written here
        self._recent.append(batch)
        if len(self._recent) >= _MERGE_EVERY:
            self._written += pa.Table.from_batches(self._recent, SCHEMA).combine_chunks().to_batches()
            self._recent = []
        for v in rows.values():
            v.clear()
        given.clear()
        if self._sync_inline:
            _fdatasync(self._sink.fileno())
        elif self._syncer is not None:
            self._syncer.dirty()

    def written(self) -> pa.Table:
        """Every record this session has flushed, as ``read_events`` would read them back."""
        return pa.Table.from_batches(self._written + self._recent, SCHEMA)

    def _raise_sync_error(self) -> None:
        if self._syncer is not None and self._syncer.error is not None:
            error, self._syncer.error = self._syncer.error, None
            raise OSError(error.errno, f"could not fsync the event log {self.path}: {error.strerror}")

    def close(self) -> None:
        if self.closed:
            return
        self.closed = True
        try:
            self.flush()
            self._writer.close()
            self._sink.flush()
            if self._syncer is not None:
                self._syncer.stop()
                self._raise_sync_error()
            os.fsync(self._sink.fileno())
        finally:
            if self._syncer is not None:
                self._syncer.stop()
            self._sink.close()


# ------------------------------------------------------------------ reading
# A stream is a schema message, then record batch messages, then an end-of-stream
# marker; each message is the continuation marker, a little-endian int32 metadata
# length (a multiple of 8), a Message flatbuffer and a body of the length it states.

_MARKER = b"\xff\xff\xff\xff"
_EOS = _MARKER + b"\x00\x00\x00\x00"
_MAX_METADATA = 1 << 20  # halving's message metadata is under 1 KiB: a longer length is a damaged header
_ARROW_ERRORS = (pa.ArrowException, OSError, EOFError, ValueError)


@dataclass(frozen=True)
class Damage:
    """A stretch of one log file that could not be read and was skipped (on disk it is left as it is)."""

    path: Path
    offset: int  # byte offset of the first unreadable byte in the file
    length: int  # bytes skipped
    torn_tail: bool  # an incomplete last message: a writer was killed, or is still writing
    records_before: int  # records of this file read before it
    records_after: int  # records of this file recovered after it, up to the next damage
    seq_before: int | None  # seq of the last record read before it
    seq_after: int | None  # seq of the first record recovered after it
    why: str  # what the reader found there

    @property
    def lost_records(self) -> int | None:
        """How many records the skipped bytes held, when records on both sides of it say."""
        if self.seq_before is None or self.seq_after is None:
            return None
        return self.seq_after - self.seq_before - 1

    def describe(self) -> str:
        name = self.path.name
        if self.torn_tail:
            return (f"{name}: ignored an incomplete last record ({self.length} bytes at byte {self.offset}, "
                    f"after {self.records_before} records): a writer was killed or is still writing")
        lost = self.lost_records
        held = (f"{lost} records (seq {self.seq_before + 1}..{self.seq_after - 1})" if lost is not None
                else "an unknown number of records")
        after = (f"{self.records_after} records after it were recovered" if self.records_after
                 else "nothing after it could be read")
        return (f"{name}: damaged at byte {self.offset} after {self.records_before} readable records; "
                f"skipped {self.length} bytes holding {held}; {after} ({self.why})")


@dataclass(frozen=True)
class LogRead:
    """What ``read_log`` could read: every readable event, and each stretch it skipped."""

    table: pa.Table
    damages: tuple[Damage, ...] = ()

    @property
    def damaged(self) -> tuple[Damage, ...]:
        """Damages in the middle of a file: records were (or may have been) skipped."""
        return tuple(d for d in self.damages if not d.torn_tail)

    @property
    def torn_bytes(self) -> int:
        """Bytes of incomplete last records ignored (normal for a run killed or still running)."""
        return sum(d.length for d in self.damages if d.torn_tail)

    def notes(self) -> list[str]:
        """One line per skipped stretch, damages first, for a command to print as warnings."""
        return [d.describe() for d in self.damaged] + [d.describe() for d in self.damages if d.torn_tail]

    def summary(self) -> str:
        lines = [d.describe() for d in self.damaged]
        if not lines:
            return "the event log is readable"
        return "the event log is damaged: " + "; ".join(lines) + ". Nothing on disk was changed."


class _Unreadable(Exception):
    """No record batch can be read at this offset (internal to the reader)."""


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


def _word(data: bytes, at: int, size: int, signed: bool = False) -> int:
    if at < 0 or at + size > len(data):
        raise ValueError(f"offset {at} outside {len(data)} bytes of metadata")
    return int.from_bytes(data[at:at + size], "little", signed=signed)


def _body_length(meta: bytes) -> int:
    """The bodyLength of an IPC Message flatbuffer: field 3 of its root table (after version
    and the header union's type and value)."""
    table = _word(meta, 0, 4)
    vtable = table - _word(meta, table, 4, signed=True)
    slot = 4 + 2 * 3
    if slot + 2 > _word(meta, vtable, 2):
        return 0
    field = _word(meta, vtable + slot, 2)
    return _word(meta, table + field, 8, signed=True) if field else 0


def _looks_torn(data: bytes, off: int) -> bool:
    """Whether the bytes from ``off`` to the end are the start of a message the file ends
    inside, or only zeros (what a power loss can leave where a write had not reached the disk)."""
    rest = len(data) - off
    if data.count(b"\0", off) == rest:
        return True
    if rest < 8:
        return _MARKER.startswith(data[off:off + min(rest, 4)])
    if data[off:off + 4] != _MARKER:
        return False
    meta = int.from_bytes(data[off + 4:off + 8], "little", signed=True)
    if meta <= 0 or meta % 8 or meta > _MAX_METADATA:
        return False
    if 8 + meta > rest:
        return True
    try:
        body = _body_length(data[off + 8:off + 8 + meta])
    except ValueError:
        return False
    return body >= 0 and 8 + meta + body > rest


def _check_schema(path: Path, schema: pa.Schema) -> None:
    meta = schema.metadata or {}
    if b"halving_log_version" not in meta:
        raise CorruptLogError(f"{path} is an Arrow stream but not a halving event log")
    try:
        version = int(meta[b"halving_log_version"])
    except ValueError:
        raise CorruptLogError(f"{path} has a log version that is not a number: {meta[b'halving_log_version']!r}") from None
    if version > LOG_VERSION:
        raise CorruptLogError(f"{path} has log version {version}; this halving reads up to {LOG_VERSION}")
    if not schema.equals(SCHEMA, check_metadata=False):
        raise CorruptLogError(f"{path} says halving log version {version} but does not have its columns")


@dataclass(frozen=True)
class _Found:
    """A message that decoded as a record batch whose seq rises by one per row."""

    offset: int
    end: int
    batch: pa.RecordBatch
    first: int
    last: int


def _follows(a: _Found, b: _Found) -> bool:
    # Every record skipped between two batches took 8 bytes of seq there, so a gap in seq
    # wider than the bytes between allow is a garbage seq, not lost records.
    return b.offset >= a.end and b.first > a.last and b.first - a.last - 1 <= (b.offset - a.end) // 8


def _best_chain(found: list[_Found], window: int = 16) -> list[_Found]:
    """The batches to keep: the chain whose seq numbers fit together holding the most records
    (a batch whose seq was damaged yet decoded breaks the chain and is left out)."""
    if all(b.first == a.last + 1 for a, b in zip(found, found[1:])):
        return found  # the usual case: nothing to choose
    best = [b.last - b.first + 1 for b in found]
    prev = [-1] * len(found)
    for i, b in enumerate(found):
        rows = b.last - b.first + 1
        for j in range(max(0, i - window), i):
            if best[j] + rows > best[i] and _follows(found[j], b):
                best[i], prev[i] = best[j] + rows, j
    i = max(range(len(found)), key=best.__getitem__)
    chain = []
    while i != -1:
        chain.append(found[i])
        i = prev[i]
    return chain[::-1]


class _FileScan:
    """Reads one stream file message by message from a copy in memory: the file is opened
    read-only, never written, and a writer appending to it cannot disturb the read.

    First every message that decodes is found (skipping to the next continuation marker
    after one that does not); then the batches whose seq numbers fit together are kept,
    and every stretch between them is a ``Damage``.
    """

    def __init__(self, path: Path) -> None:
        self.path = path
        with open(path, "rb") as fh:
            self.data = fh.read()
        self.buf = pa.py_buffer(self.data)
        self.schema: pa.Schema | None = None
        self.start = 0  # where the records begin: after the schema message, if it was readable
        self.found: list[_Found] = []
        self.fails: dict[int, str] = {}  # offset -> what the reader saw there
        self.chain: list[_Found] = []

    @property
    def batches(self) -> list[pa.RecordBatch]:
        return [f.batch for f in self.chain]

    def scan(self) -> _FileScan:
        self.start = self._schema_end()
        self._walk(self.start)
        self.chain = _best_chain(self.found) if self.found else []
        return self

    def _schema_end(self) -> int:
        """Offset after the schema message (0 for an empty file, or one whose schema is unreadable)."""
        if not self.data:
            return 0  # a session that had not written its schema yet
        reader = pa.BufferReader(self.buf)
        try:
            msg = pa.ipc.read_message(reader)
        except _ARROW_ERRORS as exc:
            return self._without_schema(_first_line(exc))
        if msg.type != "schema":
            raise CorruptLogError(f"{self.path} starts with a {msg.type} message, not a schema: "
                                  "it is not a halving event log")
        try:
            schema = pa.ipc.read_schema(msg)
        except _ARROW_ERRORS as exc:
            raise CorruptLogError(f"{self.path} has an unreadable schema: {_first_line(exc)}") from None
        _check_schema(self.path, schema)
        self.schema = schema
        return reader.tell()

    def _without_schema(self, why: str) -> int:
        """The schema message is unreadable: the records after it are read with the one schema
        of this log version if any can be found; else it is a torn schema, or not a log at all."""
        self.fails[0] = f"an unreadable schema message: {why}"
        self.schema = SCHEMA
        if self._resync(1) < len(self.data):
            return 0
        self.schema = None
        if _looks_torn(self.data, 0):
            return 0
        raise CorruptLogError(f"{self.path} is not an Arrow IPC stream: {why}")

    def _walk(self, off: int) -> None:
        data, size = self.data, len(self.data)
        if self.schema is None:
            return
        while off < size:
            if data.startswith(_EOS, off):
                off += len(_EOS)
                if data.count(b"\0", off) == size - off:
                    return  # the end, perhaps followed by zeros
                self.fails.setdefault(off, "bytes after the end-of-stream marker")
                off = self._resync(off)
                continue
            try:
                found = self._decode(off)
            except _Unreadable as exc:
                self.fails.setdefault(off, str(exc))
                off = self._resync(off + 1)
                continue
            if not self._boundary(found.end):
                # Either the next message is damaged, or this one's stated length is: then
                # a whole message starts inside it, and reading goes on from there.
                inner = self._resync(off + 1, found.end)
                if inner < found.end:
                    self.fails.setdefault(off, "a message whose stated length runs over the next one")
                    off = inner
                    continue
            self.found.append(found)
            off = found.end

    def _decode(self, off: int) -> _Found:
        reader = pa.BufferReader(self.buf)
        reader.seek(off)
        try:
            msg = pa.ipc.read_message(reader)
            kind = msg.type
            if kind == "record batch":
                batch = pa.ipc.read_record_batch(msg, self.schema)
                batch.validate(full=True)
        except _ARROW_ERRORS as exc:
            raise _Unreadable(_first_line(exc)) from None
        if kind != "record batch":
            raise _Unreadable(f"a {kind} message where a record batch belongs")
        first, last = _seq_range(batch)
        return _Found(off, reader.tell(), batch, first, last)

    def _boundary(self, end: int) -> bool:
        """Whether a message may end at ``end``: the file ends, or a message (or its torn
        start, or a power loss's zeros) follows. A damaged length fails this."""
        data, size = self.data, len(self.data)
        rest = min(4, size - end)
        return data.startswith(_MARKER[:rest], end) or data.count(b"\0", end) == size - end

    def _resync(self, start: int, stop: int | None = None) -> int:
        """The offset of the next message from ``start`` on (and before ``stop``) that decodes
        as a record batch; ``stop`` (the file's end by default) if there is none."""
        data, size = self.data, len(self.data)
        stop = size if stop is None else stop
        pos = data.find(_MARKER, start, stop)
        while pos != -1:
            meta = int.from_bytes(data[pos + 4:pos + 8], "little", signed=True)
            if 0 < meta <= _MAX_METADATA and meta % 8 == 0 and pos + 8 + meta <= size:
                try:
                    self._decode(pos)
                    return pos
                except _Unreadable:
                    pass
            pos = data.find(_MARKER, pos + 1, stop)
        return stop

    def damages(self) -> list[Damage]:
        """Each stretch between the kept batches, with the records on either side of it."""
        chain, size = self.chain, len(self.data)
        bounds = [self.start] + [x for f in chain for x in (f.offset, f.end)] + [size]
        rows = [0]
        for f in chain:
            rows.append(rows[-1] + f.last - f.first + 1)
        spans = []
        for k in range(len(chain) + 1):
            lo, hi = bounds[2 * k], bounds[2 * k + 1]
            if k == len(chain) and self._clean_end(lo):
                continue
            if hi > lo:
                spans.append((k, lo, hi))
        return [self._damage(k, lo, hi, rows, i, spans) for i, (k, lo, hi) in enumerate(spans)]

    def _clean_end(self, lo: int) -> bool:
        return self.data[lo:] in (b"", _EOS)

    def _damage(self, k: int, lo: int, hi: int, rows: list[int], i: int, spans: list) -> Damage:
        chain, size = self.chain, len(self.data)
        torn = hi == size and (_looks_torn(self.data, lo) or self._zeros_after_end(lo))
        upto = rows[spans[i + 1][0]] if i + 1 < len(spans) else rows[-1]
        whys = [why for at, why in sorted(self.fails.items()) if lo <= at < hi]
        why = whys[0] if whys else "a record batch whose seq does not fit the records around it"
        return Damage(path=self.path, offset=lo, length=hi - lo, torn_tail=torn, records_before=rows[k],
                      records_after=upto - rows[k], seq_before=chain[k - 1].last if k else None,
                      seq_after=chain[k].first if k < len(chain) else None, why=why)

    def _zeros_after_end(self, lo: int) -> bool:
        data = self.data
        return data.startswith(_EOS, lo) and data.count(b"\0", lo + len(_EOS)) == len(data) - lo - len(_EOS)


def _seq_range(batch: pa.RecordBatch) -> tuple[int, int]:
    """First and last seq of a batch; ``_Unreadable`` unless seq rises by one per row from
    0 or more, as the writer numbers events (anything else is garbage that decoded)."""
    seq = batch.column(0)
    n = len(seq)
    if not n or seq.null_count:
        raise _Unreadable("a record batch with no rows or a missing seq")
    values = seq.to_numpy()
    first, last = int(values[0]), int(values[-1])
    if first < 0 or last - first != n - 1 or (n > 2 and not bool(np.all(np.diff(values) == 1))):
        raise _Unreadable("a record batch whose seq does not rise by one per record")
    return first, last


def read_log(run_dir: str | os.PathLike) -> LogRead:
    """Every readable event of a run, every session in order, and what could not be read.

    Never writes. Raises ``FileNotFoundError`` when the dir holds no log, ``CorruptLogError``
    when a file is not a halving event log at all (not Arrow, no schema, another schema, a
    newer version); any other damage is skipped and described in ``LogRead.damages``.
    """
    files = log_files(run_dir)
    if not files:
        raise FileNotFoundError(f"{run_dir} holds no halving event log (events-*.arrows)")
    batches: list[pa.RecordBatch] = []
    damages: list[Damage] = []
    for path in files:
        scan = _FileScan(path).scan()
        batches.extend(scan.batches)
        damages.extend(scan.damages())
    return LogRead(pa.Table.from_batches(batches, schema=SCHEMA), tuple(damages))


def read_events(run_dir: str | os.PathLike) -> pa.Table:
    """All readable events of a run as one table; never writes. A torn tail is ignored; a
    damage in the middle is skipped with a ``LogDamageWarning`` (``read_log`` says what)."""
    read = read_log(run_dir)
    if read.damaged:
        warnings.warn(LogDamageWarning(read.summary()), stacklevel=2)
    return read.table


# ----------------------------------------------------------- the writer's repair

def repair(path: str | os.PathLike) -> int:
    """Cut a torn tail from ``path`` so that a new session can follow it; returns bytes cut.

    The writer's tool, for the process holding the run dir's lock (``repair_run`` checks
    that): a reader must never call it. Only bytes from which no record can be read are
    cut; a file damaged anywhere but its tail raises ``CorruptLogError`` and is left as is.
    """
    path = Path(path)
    scan = _FileScan(path).scan()
    damages = scan.damages()
    middle = [d for d in damages if not d.torn_tail]
    if middle:
        raise CorruptLogError(f"{path}: {middle[0].describe()}; only a torn tail is ever cut, so the file "
                              "was left unchanged")
    torn = [d for d in damages if d.torn_tail and d.length]
    if not torn:
        return 0
    cut_at = torn[-1].offset
    if scan.data.startswith(_EOS, cut_at):
        cut_at += len(_EOS)  # zeros after a clean end: keep the end-of-stream marker
    with open(path, "r+b") as fh:
        if os.fstat(fh.fileno()).st_size != len(scan.data):
            raise CorruptLogError(f"{path} changed while it was being repaired: is another process writing it?")
        fh.truncate(cut_at)
        os.fsync(fh.fileno())
    return len(scan.data) - cut_at


def repair_run(lock: RunLock) -> dict[Path, int]:
    """Cut the torn tails of a run's log files, under its lock, before a resume appends to
    it; returns the bytes cut per file. Checks every file first, so a log damaged in the
    middle raises ``CorruptLogError`` (offset and records before it) with nothing changed."""
    if not isinstance(lock, RunLock) or not lock.held:
        raise ValueError(f"repair_run needs the run dir's lock held by this process (runlock.acquire), not {lock!r}")
    files = log_files(lock.run_dir)
    for path in files:
        middle = [d for d in _FileScan(path).scan().damages() if not d.torn_tail]
        if middle:
            raise CorruptLogError(f"{path}: {middle[0].describe()}; nothing was changed: a damaged log is "
                                  "reported, never cut")
    return {path: repair(path) for path in files}


def iter_events(table: pa.Table) -> Iterator[dict]:
    cols = {name: table.column(name).to_pylist() for name in _FIELDS}
    for i in range(table.num_rows):
        yield {name: cols[name][i] for name in _FIELDS}


def decision_from_event(ev: dict) -> Decision:
    return Decision(ev["trial"], ev["epoch"], Action(ev["action"]), reason_from_json(ev["reason"]), until=ev["until"])
