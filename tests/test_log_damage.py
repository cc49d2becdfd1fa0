"""A damaged event log is reported, never cut: real logs written by EventLog, real damage.

Each test writes a log with ``EventLog``, damages its bytes the way a failing disk, a
killed writer or a power loss does, and checks that reading changes nothing on disk,
says where the damage is, and recovers what the stream still holds.
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
import warnings
from pathlib import Path

import pyarrow as pa
import pytest

from halving import runlock
from halving.eventlog import (CorruptLogError, EventLog, LogDamageWarning, iter_events, read_events, read_log,
                              repair, repair_run)
from policies import Action, Decision, Reason

N_BATCHES = 30
ROWS_PER_BATCH = 4


def _write_log(run_dir: Path, n_batches: int = N_BATCHES, close: bool = True) -> EventLog:
    """A real log: experiment_started, then batches of a trial's creation, report, removal and
    decision, flushed as one batch (as the engine flushes once per turn of its loop)."""
    log = EventLog(run_dir)
    log.experiment_started({"metric": "acc", "mode": "max"}, 0.0)
    log.flush()
    for t in range(n_batches):
        log.trial_created(t, {"lr": 0.01 * (t + 1)}, float(t))
        log.add("report", float(t), trial=t, epoch=1, value=0.5 + t / 100, worker=t % 3)
        log.removed(t, 1, float(t))
        log.decisions([Decision(t, 1, Action.STOP, Reason("rung-reached", rung=0, compared=t + 1, rank=t + 1))],
                      float(t))
        log.flush()
    if close:
        log.close()
    return log


def _messages(path: Path) -> list[tuple[int, int, str]]:
    """(start, end, type) of every message of a whole stream file, found with pyarrow itself."""
    reader = pa.BufferReader(pa.py_buffer(path.read_bytes()))
    out = []
    while True:
        start = reader.tell()
        try:
            msg = pa.ipc.read_message(reader)
        except EOFError:
            return out
        out.append((start, reader.tell(), msg.type))


def _snapshot(path: Path) -> tuple[bytes, int]:
    # An mtime in the past: any write while reading would move it to now.
    os.utime(path, ns=(1_000_000_000, 1_000_000_000))
    return path.read_bytes(), path.stat().st_mtime_ns


def _damage(path: Path, offset: int, how: str) -> None:
    data = bytearray(path.read_bytes())
    if how == "marker":
        data[offset:offset + 4] = b"\x13\x37\x13\x37"
    elif how == "length-past-end":
        data[offset + 4:offset + 8] = (1 << 20).to_bytes(4, "little")
    elif how == "metadata":
        data[offset + 12:offset + 60] = b"\x99" * 48
    elif how == "zeros":
        data[offset:offset + 64] = bytes(64)
    path.write_bytes(bytes(data))


@pytest.mark.parametrize("how", ["marker", "length-past-end", "metadata", "zeros"])
def test_a_damaged_header_in_the_middle_is_reported_and_the_rest_recovered(tmp_path, how):
    _write_log(tmp_path)
    path = tmp_path / "events-000.arrows"
    batches = [m for m in _messages(path) if m[2] == "record batch"]
    assert len(batches) == N_BATCHES + 1
    k = 12  # batch 0 is experiment_started; batch k holds trial k-1's four events
    _damage(path, batches[k][0], how)
    before_bytes, before_mtime = _snapshot(path)

    read = read_log(tmp_path)

    assert path.read_bytes() == before_bytes and path.stat().st_mtime_ns == before_mtime
    [damage] = read.damaged
    assert damage.path == path and damage.offset == batches[k][0]
    assert damage.records_before == 1 + (k - 1) * ROWS_PER_BATCH
    assert damage.lost_records == ROWS_PER_BATCH
    assert damage.length == batches[k][1] - batches[k][0]
    assert damage.records_after == (N_BATCHES - k) * ROWS_PER_BATCH
    assert read.torn_bytes == 0
    trials = {e["trial"] for e in iter_events(read.table) if e["kind"] == "trial_created"}
    assert trials == set(range(N_BATCHES)) - {k - 1}
    note = read.notes()[0]
    assert f"byte {damage.offset}" in note and f"after {damage.records_before} readable records" in note
    assert f"{ROWS_PER_BATCH} records" in note and "recovered" in note


def test_read_events_warns_about_a_damage_and_changes_nothing(tmp_path):
    _write_log(tmp_path)
    path = tmp_path / "events-000.arrows"
    start = [m for m in _messages(path) if m[2] == "record batch"][5][0]
    _damage(path, start, "marker")
    before_bytes, before_mtime = _snapshot(path)
    with pytest.warns(LogDamageWarning, match=f"damaged at byte {start}"):
        table = read_events(tmp_path)
    assert table.num_rows == 1 + (N_BATCHES - 1) * ROWS_PER_BATCH
    assert path.read_bytes() == before_bytes and path.stat().st_mtime_ns == before_mtime


def test_two_damages_are_each_reported(tmp_path):
    _write_log(tmp_path)
    path = tmp_path / "events-000.arrows"
    batches = [m for m in _messages(path) if m[2] == "record batch"]
    _damage(path, batches[4][0], "marker")
    _damage(path, batches[20][0], "metadata")
    read = read_log(tmp_path)
    assert [d.offset for d in read.damaged] == [batches[4][0], batches[20][0]]
    assert [d.lost_records for d in read.damaged] == [ROWS_PER_BATCH, ROWS_PER_BATCH]
    assert read.damaged[0].records_after == 15 * ROWS_PER_BATCH
    assert read.table.num_rows == 1 + (N_BATCHES - 2) * ROWS_PER_BATCH


def test_a_damage_in_an_earlier_session_leaves_later_sessions_readable(tmp_path):
    first = _write_log(tmp_path, n_batches=5)
    second = EventLog(tmp_path, seq=first.seq)
    second.session_started({"session": 1}, 9.0)
    second.close()
    path = tmp_path / "events-000.arrows"
    _damage(path, [m for m in _messages(path) if m[2] == "record batch"][2][0], "marker")
    read = read_log(tmp_path)
    assert len(read.damaged) == 1 and read.damaged[0].path.name == "events-000.arrows"
    assert read.table.column("kind").to_pylist()[-1] == "session_started"


def test_the_writer_refuses_to_repair_a_damage_in_the_middle(tmp_path):
    _write_log(tmp_path)
    path = tmp_path / "events-000.arrows"
    start = [m for m in _messages(path) if m[2] == "record batch"][7][0]
    _damage(path, start, "marker")
    before_bytes, before_mtime = _snapshot(path)
    with runlock.acquire(tmp_path) as lock:
        with pytest.raises(CorruptLogError, match=f"damaged at byte {start} after 25 readable records"):
            repair_run(lock)
    with pytest.raises(CorruptLogError, match="left unchanged"):
        repair(path)
    assert path.read_bytes() == before_bytes and path.stat().st_mtime_ns == before_mtime


def _torn(tmp_path: Path) -> tuple[Path, int, int]:
    """A log whose writer died mid-batch: the last batch's message is cut in half."""
    log = _write_log(tmp_path, n_batches=6, close=False)
    whole = log.path.stat().st_size
    log.trial_created(99, {"lr": 0.5}, 9.0)
    log.flush()
    full = log.path.stat().st_size
    with open(log.path, "r+b") as fh:
        fh.truncate(whole + (full - whole) // 2)
    return log.path, whole, full


def test_a_torn_tail_is_ignored_by_the_reader_and_cut_only_by_the_writer(tmp_path):
    path, whole, full = _torn(tmp_path)
    before_bytes, before_mtime = _snapshot(path)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # a torn tail is normal: no warning
        table = read_events(tmp_path)
    read = read_log(tmp_path)
    assert path.read_bytes() == before_bytes and path.stat().st_mtime_ns == before_mtime
    assert table.num_rows == 1 + 6 * ROWS_PER_BATCH and 99 not in table.column("trial").to_pylist()
    assert not read.damaged and read.torn_bytes == (full - whole) // 2
    assert read.damages[0].offset == whole and "incomplete last record" in read.notes()[0]
    with runlock.acquire(tmp_path) as lock:
        assert repair_run(lock) == {path: (full - whole) // 2}
    assert path.stat().st_size == whole and read_log(tmp_path).damages == ()


def test_repair_run_needs_the_lock_held(tmp_path):
    _torn(tmp_path)
    lock = runlock.acquire(tmp_path)
    lock.release()
    with pytest.raises(ValueError, match="lock held"):
        repair_run(lock)
    with pytest.raises(ValueError, match="lock held"):
        repair_run(str(tmp_path))


def test_zeros_after_a_power_loss_are_a_torn_tail(tmp_path):
    log = _write_log(tmp_path, n_batches=3, close=False)
    size = log.path.stat().st_size
    with open(log.path, "ab") as fh:  # what a file system can show where data never reached the disk
        fh.write(bytes(4096))
    read = read_log(tmp_path)
    assert not read.damaged and read.torn_bytes == 4096 and read.table.num_rows == 1 + 3 * ROWS_PER_BATCH
    with runlock.acquire(tmp_path) as lock:
        repair_run(lock)
    assert log.path.stat().st_size == size


def test_every_prefix_of_a_live_log_reads_as_its_whole_batches(tmp_path):
    """A reader can land anywhere in the writing of a batch: it sees the whole batches
    before it, no damage, and the file is never cut."""
    log = _write_log(tmp_path, n_batches=2, close=False)
    done = log.path.read_bytes()
    for t in range(40):  # a batch large enough to reach the OS in several writes
        log.trial_created(100 + t, {"lr": t, "name": "x" * 300}, 9.0)
    log.flush()
    full = log.path.read_bytes()
    live = tmp_path / "live"
    live.mkdir()
    target = live / "events-000.arrows"
    for cut in list(range(len(done), len(full), 97)) + [len(full) - 1]:
        target.write_bytes(full[:cut])
        read = read_log(live)
        assert not read.damaged, read.notes()
        assert read.table.num_rows == 1 + 2 * ROWS_PER_BATCH
        assert read.torn_bytes == cut - len(done)
        assert target.stat().st_size == cut
    target.write_bytes(full)
    assert read_log(live).table.num_rows == 1 + 2 * ROWS_PER_BATCH + 40


_WRITER = textwrap.dedent("""
    import sys, time
    from halving.eventlog import EventLog
    log = EventLog(sys.argv[1])
    log.experiment_started({"metric": "acc"}, 0.0)
    log.flush()
    print("started", flush=True)
    for b in range(int(sys.argv[2])):
        for t in range(60):
            log.add("report", time.time(), trial=t, epoch=b + 1, value=b + t / 100,
                    metrics='{"loss": %d, "pad": "%s"}' % (b, "y" * 200))
        log.flush()
        time.sleep(0.002)
    log.close()
    print(log.seq, flush=True)
""")


def test_a_reader_racing_a_live_writer_never_cuts_or_misreads(tmp_path):
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    writer = subprocess.Popen([sys.executable, "-c", _WRITER, str(tmp_path), "300"], stdout=subprocess.PIPE,
                              text=True, env=env)
    assert writer.stdout.readline().strip() == "started"
    path = tmp_path / "events-000.arrows"
    reads, torn_seen, last_size = 0, 0, 0
    while writer.poll() is None:
        read = read_log(tmp_path)
        seq = read.table.column("seq").to_pylist()
        assert not read.damaged, read.notes()
        assert seq == list(range(len(seq)))  # whole batches, in order, none skipped
        torn_seen += read.torn_bytes > 0
        size = path.stat().st_size
        assert size >= last_size  # the reader never cut the live file
        last_size, reads = size, reads + 1
    total = int(writer.stdout.read().split()[-1])
    assert writer.wait() == 0 and reads > 5
    final = read_log(tmp_path)
    assert final.damages == () and final.table.num_rows == total == 1 + 300 * 60


@pytest.mark.parametrize("how", ["metadata", "length-past-end"])
def test_a_damaged_schema_message_still_lets_the_records_be_read(tmp_path, how):
    _write_log(tmp_path, n_batches=5)
    path = tmp_path / "events-000.arrows"
    schema_end = _messages(path)[0][1]
    _damage(path, 0, how)
    before_bytes, before_mtime = _snapshot(path)
    read = read_log(tmp_path)
    assert path.read_bytes() == before_bytes and path.stat().st_mtime_ns == before_mtime
    [damage] = read.damaged
    assert (damage.offset, damage.length, damage.records_before) == (0, schema_end, 0)
    assert "schema" in damage.why and damage.records_after == 1 + 5 * ROWS_PER_BATCH
    assert read.table.num_rows == 1 + 5 * ROWS_PER_BATCH


def test_a_file_with_nothing_readable_is_a_corrupt_log(tmp_path):
    _write_log(tmp_path, n_batches=2)
    path = tmp_path / "events-000.arrows"
    path.write_bytes(b"\x42" * 4096)
    with pytest.raises(CorruptLogError, match="events-000.arrows is not an Arrow IPC stream"):
        read_log(tmp_path)


def test_random_damage_never_changes_the_file_and_keeps_every_untouched_batch(tmp_path):
    """300 random overwrites of a real log: reading either raises CorruptLogError or returns
    rows in seq order that include every batch the damage did not touch."""
    import random

    _write_log(tmp_path / "clean")
    clean = (tmp_path / "clean" / "events-000.arrows").read_bytes()
    spans = [m for m in _messages(tmp_path / "clean" / "events-000.arrows") if m[2] == "record batch"]
    seqs_of = [list(range(0, 1))] + [list(range(1 + i * ROWS_PER_BATCH, 1 + (i + 1) * ROWS_PER_BATCH))
                                     for i in range(N_BATCHES)]
    clean_rows = {e["seq"]: e for e in iter_events(read_log(tmp_path / "clean").table)}
    rng = random.Random(16)
    run = tmp_path / "run"
    run.mkdir()
    path = run / "events-000.arrows"
    for _ in range(300):
        at, size = rng.randrange(len(clean)), rng.randrange(1, 80)
        data = bytearray(clean)
        data[at:at + size] = bytes(rng.randrange(256) for _ in range(min(size, len(clean) - at)))
        path.write_bytes(bytes(data))
        before_bytes, before_mtime = _snapshot(path)
        try:
            read = read_log(run)
        except CorruptLogError:
            assert at < spans[0][0]  # only a damaged schema with nothing after it can be unreadable
            continue
        finally:
            assert path.read_bytes() == before_bytes and path.stat().st_mtime_ns == before_mtime
        seq = read.table.column("seq").to_pylist()
        assert seq == sorted(set(seq))
        untouched = [i for i, (start, end, _) in enumerate(spans) if end <= at or start >= at + size]
        missing = [i for i in untouched if not set(seqs_of[i]) <= set(seq)]
        assert not missing, (at, size, missing, read.notes())
        rows = {e["seq"]: e for e in iter_events(read.table)}
        assert all(rows[s] == clean_rows[s] for i in untouched for s in seqs_of[i])
