"""The event log: schema round trip, torn tails, replay equivalence."""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pytest

import halving
from halving.eventlog import SCHEMA, CorruptLogError, EventLog, iter_events, log_files, read_events, repair
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
