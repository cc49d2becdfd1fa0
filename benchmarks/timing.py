"""Timing and medians: every benchmark times the same way."""

from __future__ import annotations

import gc
import math
import os
import statistics
import time
from typing import Callable, Iterable, NamedTuple, TypeVar

__all__ = ["Lap", "clock", "lap", "median", "timed", "processes_cpu", "cpu_between"]

T = TypeVar("T")


class Lap(NamedTuple):
    """One timing: wall-clock seconds (``perf_counter``) and this process's CPU seconds
    (``process_time``, which other work on a shared machine disturbs less)."""

    wall: float
    cpu: float


def clock() -> tuple[float, float]:
    """Start a lap after a full collection, so that no earlier garbage is collected inside it."""
    gc.collect()
    return time.perf_counter(), time.process_time()


def lap(start: tuple[float, float]) -> Lap:
    cpu = time.process_time()
    wall = time.perf_counter()
    return Lap(wall - start[0], cpu - start[1])


def timed(fn: Callable[[], T]) -> tuple[Lap, T]:
    """``(Lap, fn())``."""
    t0 = clock()
    out = fn()
    return lap(t0), out


def median(values: Iterable[float | None]) -> float:
    """The median of the values that are not None or NaN (a failed run has none); NaN if none are."""
    kept = [float(v) for v in values if v is not None and not (isinstance(v, float) and math.isnan(v))]
    return float(statistics.median(kept)) if kept else float("nan")


def _stat(pid: int | str) -> list[str]:
    """/proc/PID/stat's fields after the command name: [0] is the state, [1] the parent's pid."""
    with open(f"/proc/{pid}/stat") as fh:
        return fh.read().rsplit(")", 1)[1].split()


def processes_cpu(title: str) -> dict[int, float]:
    """CPU seconds (user + system) of each descendant of this process (a local Ray that it
    started: its raylet's workers; not another process's Ray on a shared machine) whose command
    line starts with ``title`` (Ray names its actor processes ``ray::ClassName``), from /proc;
    empty where there is none. Take it before and after a run: a process alive at both ends
    counts the difference, one started in between counts whole, one that ended is not seen."""
    out: dict[int, float] = {}
    tick = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100
    me = os.getpid()
    for pid in os.listdir("/proc") if os.path.isdir("/proc") else []:
        if not pid.isdigit():
            continue
        try:
            with open(f"/proc/{pid}/cmdline", "rb") as fh:
                if not fh.read().startswith(title.encode()):
                    continue
            fields = _stat(pid)
            parent, depth = int(fields[1]), 0
            while parent not in (me, 0, 1) and depth < 8:
                parent, depth = int(_stat(parent)[1]), depth + 1
        except (OSError, ValueError, IndexError):
            continue  # ended meanwhile, or not ours to read
        if parent == me:
            out[int(pid)] = (int(fields[11]) + int(fields[12])) / tick  # utime, stime (fields 14 and 15)
    return out


def cpu_between(before: dict[int, float], after: dict[int, float]) -> float:
    """CPU seconds the processes of ``after`` spent since ``before`` (see ``processes_cpu``)."""
    return sum(t - before.get(pid, 0.0) for pid, t in after.items())
