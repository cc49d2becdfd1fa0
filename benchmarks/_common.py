"""Helpers shared by the benchmarks: medians of repeated runs, synthetic
learning curves, and a description of the machine a number came from."""

from __future__ import annotations

import gc
import os
import platform
import statistics
import sys
import time
from typing import Callable, NamedTuple, TypeVar

import numpy as np

__all__ = ["CurveBank", "Lap", "clock", "lap", "machine", "machine_load", "median_of", "synthetic_curves", "timed"]

T = TypeVar("T")

#: Rows of synthetic curves generated per block; block b comes from its own
#: seed, so row t is the same whichever order (or however many) rows are asked for.
BLOCK = 1 << 16


class Lap(NamedTuple):
    """One timing: wall-clock seconds (``perf_counter``) and this process's CPU seconds
    (``process_time``, which other work on a shared machine disturbs less)."""

    wall: float
    cpu: float


def clock() -> tuple[float, float]:
    """Start a lap, after a full collection (so no earlier garbage is collected in it)."""
    gc.collect()
    return time.perf_counter(), time.process_time()


def lap(start: tuple[float, float]) -> Lap:
    c = time.process_time()
    w = time.perf_counter()
    return Lap(w - start[0], c - start[1])


def timed(fn: Callable[[], T]) -> tuple[Lap, T]:
    """``(Lap, fn())``."""
    t0 = clock()
    out = fn()
    return lap(t0), out


def median_of(values: list[float]) -> float:
    return float(statistics.median(values))


def _block(b: int, max_epochs: int, seed: int) -> np.ndarray:
    """Rows ``b * BLOCK .. (b + 1) * BLOCK - 1`` of the synthetic curve table.

    A trial's curve is ``final * (1 - exp(-epoch / tau)) + noise`` with
    ``final ~ Beta(5, 2)`` (the accuracy it converges to), ``tau`` log-normal
    around 8 epochs (how fast it gets there: curves cross) and Gaussian noise
    of standard deviation 0.01 per epoch.
    """
    rng = np.random.default_rng([seed, 7919, b])
    final = rng.beta(5.0, 2.0, size=BLOCK)
    tau = np.exp(rng.normal(np.log(8.0), 0.75, size=BLOCK))
    epochs = np.arange(1, max_epochs + 1, dtype=np.float64)
    out = -np.outer(1.0 / tau, epochs)
    np.exp(out, out=out)
    np.subtract(1.0, out, out=out)
    out *= final[:, None]
    out += rng.normal(0.0, 0.01, size=out.shape)
    return out


def synthetic_curves(n_trials: int, max_epochs: int, seed: int = 0) -> np.ndarray:
    """A float64 ``n_trials x max_epochs`` table; column j is the metric after epoch j+1."""
    out = np.empty((n_trials, max_epochs), dtype=np.float64)
    for b in range((n_trials + BLOCK - 1) // BLOCK):
        lo = b * BLOCK
        hi = min(lo + BLOCK, n_trials)
        out[lo:hi] = _block(b, max_epochs, seed)[: hi - lo]
    return out


class CurveBank:
    """The rows of ``synthetic_curves(∞, max_epochs, seed)``, generated a block at a time on demand."""

    def __init__(self, max_epochs: int, seed: int = 0, prefetch: int = 0) -> None:
        self.max_epochs = max_epochs
        self.seed = seed
        self._blocks: list[np.ndarray] = []
        if prefetch:
            self._grow((prefetch - 1) // BLOCK)

    def _grow(self, b: int) -> None:
        while len(self._blocks) <= b:
            self._blocks.append(_block(len(self._blocks), self.max_epochs, self.seed))

    def row(self, trial: int) -> list[float]:
        b = trial // BLOCK
        if b >= len(self._blocks):
            self._grow(b)
        return self._blocks[b][trial - b * BLOCK].tolist()

    @property
    def rows_generated(self) -> int:
        return len(self._blocks) * BLOCK


def machine() -> dict:
    """Where the numbers were measured."""
    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    cpu = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    return {
        "python": sys.version.split()[0],
        "numpy": np.__version__,
        "platform": platform.platform(),
        "cpu": cpu,
        "cpus": os.cpu_count(),
        "loadavg_at_start": machine_load(),
    }


def machine_load() -> list[float] | None:
    """1, 5 and 15-minute load averages: other work on the machine slows every number down."""
    try:
        return [round(x, 2) for x in os.getloadavg()]
    except (AttributeError, OSError):
        return None
