"""The event log: schema round trip, event kinds, torn tails, sessions, durability settings."""

from __future__ import annotations

import json

import pyarrow as pa
import pytest

import halving.eventlog as eventlog
from halving.eventlog import (SCHEMA, CorruptLogError, EventKind, EventLog, iter_events, log_files, read_events,
                              read_log, repair)
from halving.backends.protocol import Segment
from policies import Action, Decision, Reason


def _write_some(run_dir, n_batches=3):
    log = EventLog(run_dir)
    log.experiment_started({"metric": "acc"}, 1.0)
    log.flush()
    for b in range(n_batches):
        log.trial_created(b, {"x": b / 10}, 2.0)
        log.reports(Segment(b, 0, [0.1 * b, 0.2 * b], [3.0, 4.0], [{"loss": 1.0}, {"loss": 0.5}], worker=1), 2)
        log.decisions([Decision(b, 2, Action.PAUSE, Reason("rung-reached", rung=0, compared=b + 1, rank=1))], 5.0)
        log.flush()
    return log


def test_schema_round_trips(tmp_path):
    log = _write_some(tmp_path)
    log.close()
    table = read_events(tmp_path)
    assert table.schema.equals(SCHEMA, check_metadata=True)
    events = list(iter_events(table))
    kinds = [e["kind"] for e in events]
    assert kinds[0] == "experiment_started"
    assert kinds.count("report") == 6 and kinds.count("decision") == 3
    assert [e["seq"] for e in events] == list(range(len(events)))
    report = next(e for e in events if e["kind"] == "report" and e["trial"] == 2)
    assert report["epoch"] == 1 and report["value"] == pytest.approx(0.2) and report["worker"] == 1
    assert '"loss": 1.0' in report["metrics"]
    decision = next(e for e in events if e["kind"] == "decision")
    assert decision["action"] == "pause" and '"rung": 0' in decision["reason"]


@pytest.mark.parametrize("garbage", [b"\xff\xff\xff\xff\x10\x00", b"\x00" * 3, b"\xff\xff\xff\xff\xf0\x00\x00\x00abc"])
def test_torn_tail_is_cut_back_to_the_last_whole_record(tmp_path, garbage):
    log = _write_some(tmp_path)
    # Simulate a crash mid-write: the writer never closes, and half a message follows.
    log._sink.flush()
    path = log.path
    whole = path.stat().st_size
    with open(path, "ab") as fh:
        fh.write(garbage)
    cut = repair(path)
    assert cut == len(garbage)
    assert path.stat().st_size == whole
    table = read_events(tmp_path)
    assert [e["kind"] for e in iter_events(table)].count("report") == 6


def test_torn_tail_inside_a_batch_loses_only_that_batch(tmp_path):
    log = _write_some(tmp_path, n_batches=2)
    log._sink.flush()
    size = log.path.stat().st_size
    log.trial_created(9, {"x": 0.9}, 9.0)
    log.flush()
    full = log.path.stat().st_size
    with open(log.path, "r+b") as fh:
        fh.truncate(size + (full - size) // 2)
    table = read_events(tmp_path)
    assert 9 not in table.column("trial").to_pylist()
    assert table.num_rows > 0


def test_a_file_that_is_not_a_log_is_a_clear_error(tmp_path):
    (tmp_path / "events-000.arrows").write_bytes(b"this is not arrow at all")
    with pytest.raises(CorruptLogError, match="events-000.arrows"):
        read_events(tmp_path)


def test_another_arrow_stream_is_not_a_halving_log(tmp_path):
    with pa.OSFile(str(tmp_path / "events-000.arrows"), "wb") as sink:
        with pa.ipc.new_stream(sink, pa.schema([("a", pa.int64())])) as w:
            w.write_table(pa.table({"a": [1]}))
    with pytest.raises(CorruptLogError, match="not a halving event log"):
        read_events(tmp_path)


def test_missing_log_is_file_not_found(tmp_path):
    with pytest.raises(FileNotFoundError, match="no halving event log"):
        read_events(tmp_path)


def test_each_session_writes_its_own_stream(tmp_path):
    _write_some(tmp_path).close()
    second = EventLog(tmp_path, seq=100)
    second.session_started({"session": 1}, 9.0)
    second.close()
    assert [p.name for p in log_files(tmp_path)] == ["events-000.arrows", "events-001.arrows"]
    table = read_events(tmp_path)
    assert table.column("kind").to_pylist()[-1] == "session_started"


def test_event_kinds_are_one_enum_and_the_docstring_documents_each():
    assert [k.value for k in EventKind] == [
        "experiment_started", "session_started", "trial_created", "assigned", "report", "removed", "decision",
        "trial_failed", "restarted", "refused", "moved", "interrupted", "experiment_finished"]
    table = eventlog.__doc__.split("kind                 columns")[1]
    documented = [line.split()[0] for line in table.splitlines() if line and not line.startswith((" ", "="))]
    assert documented == [k.value for k in EventKind]


def test_every_writer_method_writes_its_kind_and_the_reader_reads_it_back(tmp_path):
    log = _write_some(tmp_path, n_batches=1)
    log.assigned(0, 2, 4, Reason("promoted", rung=0), 6.0, how="resume")
    log.removed(0, 2, 6.0)
    log.failed(1, 1, "boom", "Traceback ...", 7.0)
    log.restarted(1, 1, {"how": "scratch", "why": "its worker died", "detail": "retraining"}, 7.5)
    log.refused(2, 0, 8.0)
    log.moved(0, 3, "offload", "paused on a GPU worker", {"worker": 1, "hook": "save()"}, 8.2)
    log.interrupted("KeyboardInterrupt", 8.5)
    log.session_started({"session": 0}, 8.6)
    log.experiment_finished({"best": 0}, 9.0)
    log.close()
    events = list(iter_events(read_events(tmp_path)))
    assert {EventKind(e["kind"]) for e in events} == set(EventKind)
    by_kind = {e["kind"]: e for e in events}
    assert json.loads(by_kind[EventKind.RESTARTED]["payload"])["how"] == "scratch"
    assert by_kind["restarted"]["trial"] == 1 and by_kind["restarted"]["epoch"] == 1
    assert (by_kind["refused"]["trial"], by_kind["refused"]["epoch"]) == (2, 0)
    assert json.loads(by_kind["moved"]["payload"]) == {"what": "offload", "why": "paused on a GPU worker",
                                                       "detail": {"worker": 1, "hook": "save()"}}
    assert json.loads(by_kind["interrupted"]["payload"]) == "KeyboardInterrupt"


def test_add_takes_the_enum_or_its_value_and_refuses_anything_else(tmp_path):
    log = EventLog(tmp_path)
    log.add(EventKind.REFUSED, 1.0, trial=1, epoch=0)
    log.add("refused", 2.0, trial=2, epoch=0)
    with pytest.raises(ValueError, match="unknown event kind 'refuse'"):
        log.add("refuse", 3.0)
    with pytest.raises(ValueError, match="unknown event kind"):
        log.add(None, 3.0)
    log.close()
    assert read_events(tmp_path).column("kind").to_pylist() == ["refused", "refused"]


def test_a_new_session_never_overwrites_a_file(tmp_path):
    _write_some(tmp_path).close()
    (tmp_path / "events-000.arrows").rename(tmp_path / "events-002.arrows")  # a gap in the numbers
    log = EventLog(tmp_path)
    log.close()
    assert [p.name for p in log_files(tmp_path)] == ["events-002.arrows", "events-003.arrows"]


@pytest.mark.parametrize("sync_every", [None, 0, 0.01])
def test_every_durability_setting_writes_the_same_log(tmp_path, sync_every):
    log = EventLog(tmp_path, sync_every=sync_every)
    for i in range(20):
        log.removed(i, 1, float(i))
        log.flush()
    log.close()
    assert read_events(tmp_path).column("trial").to_pylist() == list(range(20))


def test_a_bad_sync_setting_is_refused(tmp_path):
    with pytest.raises(ValueError, match="sync_every"):
        EventLog(tmp_path, sync_every=-1)


def test_the_schema_is_on_disk_before_the_first_flush(tmp_path):
    # A process killed right after starting its session leaves a readable, empty session.
    EventLog(tmp_path)
    read = read_log(tmp_path)
    assert read.table.num_rows == 0 and read.damages == ()


def test_a_newer_log_version_is_refused(tmp_path):
    schema = SCHEMA.with_metadata({"halving_log_version": "99"})
    with pa.OSFile(str(tmp_path / "events-000.arrows"), "wb") as sink:
        with pa.ipc.new_stream(sink, schema):
            pass
    with pytest.raises(CorruptLogError, match="version 99"):
        read_events(tmp_path)


def test_a_log_never_closed_leaves_no_fsync_thread(tmp_path):
    import gc
    import threading

    before = sum(t.name == "halving-log-fsync" for t in threading.enumerate())
    log = EventLog(tmp_path)
    log.removed(1, 1, 0.0)
    log.flush()
    del log
    gc.collect()
    assert sum(t.name == "halving-log-fsync" for t in threading.enumerate()) == before


@pytest.mark.parametrize("sync_every", [0, 0.02])
def test_each_flush_is_fsynced_within_the_promised_time(tmp_path, monkeypatch, sync_every):
    import time

    synced = []
    real = eventlog._fdatasync
    monkeypatch.setattr(eventlog, "_fdatasync", lambda fd: (real(fd), synced.append(time.monotonic())))
    log = EventLog(tmp_path, sync_every=sync_every)
    for i in range(5):
        log.removed(i, 1, 0.0)
        flushed = time.monotonic()
        log.flush()
        deadline = flushed + sync_every + 1.0  # the interval, plus room for a loaded machine
        while not any(t >= flushed for t in synced) and time.monotonic() < deadline:
            time.sleep(0.001)
        assert any(t >= flushed for t in synced), f"flush {i} was not fsynced"
        time.sleep(0.03)
    log.close()


def test_written_holds_what_the_file_holds_across_merges(tmp_path):
    log = EventLog(tmp_path, sync_every=None)
    log.experiment_started({"metric": "acc"}, 1.0)
    for b in range(eventlog._MERGE_EVERY * 2 + 7):  # past two merges of the one-flush batches
        log.reports(Segment(b, 0, [0.1 * b], [3.0], [{"loss": 1.0}] if b % 2 else None, worker=b % 3), 1)
        log.flush()
    log.close()
    written, read = log.written(), read_events(tmp_path)
    assert written.num_rows == read.num_rows == eventlog._MERGE_EVERY * 2 + 8
    assert written.equals(read)
