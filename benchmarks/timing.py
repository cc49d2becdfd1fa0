"""Timing and medians: every benchmark times the same way."""

from __future__ import annotations

import gc
import math
import statistics
import time
from typing import Callable, Iterable, NamedTuple, TypeVar

__all__ = ["Lap", "clock", "lap", "median", "timed"]

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
