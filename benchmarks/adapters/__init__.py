"""One adapter per tool: each runs a workload's trainable under that tool and answers
with the same ``Outcome``, so every benchmark compares the tools the same way.

* ``halving_tune``: ``halving.tune`` (and ``halving.sklearn.HalvingSearchCV``)
* ``halving_in_process``: ``halving.simulate`` on the workload trained in this process
* ``ray_tune``: Ray Tune's ``Tuner`` with its schedulers, and its ASHA scheduler driven directly
* ``optuna_study``: an Optuna study with its pruners
* ``sklearn_search``: scikit-learn's ``HalvingRandomSearchCV``
* ``syne_tune_bohb``: Syne Tune's BOHB scheduler, driven in this process
* ``dehb_search``: the ``dehb`` package's DEHB, through its ask/tell interface

The last two are optional: ``NotInstalled`` says how to install one that is absent.
The quality benchmark's peers sample their own configurations and train under an
``EpochBudget``: every tool gets the same total epochs.
"""

from __future__ import annotations

import contextlib
import math
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

__all__ = ["EpochBudget", "NotInstalled", "Outcome", "best_so_far", "one_thread"]


class NotInstalled(RuntimeError):
    """An optional peer that is not installed; the message says how to install it."""


@dataclass
class EpochBudget:
    """The epochs a peer may train in all: ``take()`` before each epoch, False once spent.

    Every epoch a tool trains goes through ``take()``, so ``used`` is the count of epochs
    actually trained, and no tool trains more than ``total``.
    """

    total: int
    used: int = 0

    def __post_init__(self) -> None:
        if self.total < 1:
            raise ValueError(f"an epoch budget must be at least 1, but got total={self.total}")

    def take(self) -> bool:
        if self.used >= self.total:
            return False
        self.used += 1
        return True

    @property
    def spent(self) -> bool:
        return self.used >= self.total


@dataclass
class Outcome:
    """One tool's run over the configurations ``0..n-1`` of a benchmark.

    ``finals`` holds, for each trial that trained all R epochs, its configuration index
    and its metrics at R; ``events`` holds ``(seconds since the call began, index, epoch,
    metrics)`` when the adapter was asked to keep them; ``extra`` holds further figures.
    """

    tool: str
    policy: str
    wall: float
    epochs: int
    finals: list[tuple[int | None, dict[str, float]]] = field(default_factory=list)
    events: list[tuple[float, int | None, int, dict[str, float]]] = field(default_factory=list)
    extra: dict[str, Any] = field(default_factory=dict)
    table: Any = None  # halving's report table (pyarrow), for benchmarks that read every report

    def best(self, metric: str, mode: str = "max") -> tuple[int | None, dict[str, float] | None]:
        """The trial with the best final ``metric``; ties go to the lowest configuration index."""
        if mode not in ("max", "min"):
            raise ValueError(f"mode must be 'max' or 'min', but got {mode=}")
        if not self.finals:
            return None, None
        sign = -1.0 if mode == "max" else 1.0
        i, m = min(self.finals, key=lambda f: (sign * f[1][metric], -1 if f[0] is None else f[0]))
        return i, m

    def summary(self, metric: str, test: str | None = None) -> dict[str, Any]:
        """The figures a benchmark reports: wall, epochs, best value at R (and its test value)."""
        i, m = self.best(metric)
        out = {"tool": self.tool, "policy": self.policy, "wall": self.wall, "epochs": self.epochs,
               "best_trial": i, "best_val": None if m is None else m[metric], "reached_R": len(self.finals)}
        if test is not None:
            out["test"] = None if m is None else m.get(test)
        out.update(self.extra)
        return out


def best_so_far(outcome: Outcome, metric: str) -> list[tuple[float, float]]:
    """The best ``metric`` so far (at any epoch) against seconds, from the outcome's events."""
    best, out = -math.inf, []
    for t, _, _, m in sorted(outcome.events, key=lambda e: e[0]):
        v = m.get(metric)
        if v is not None and v > best:
            best = v
            out.append((round(t, 4), v))
    return out


@contextlib.contextmanager
def one_thread(w: Any, on: bool = True) -> Iterator[None]:
    """BLAS (and torch) at one thread, like one Ray worker."""
    if not on:
        yield
        return
    from threadpoolctl import threadpool_limits

    threads = None
    if w.torch:
        import torch

        threads = torch.get_num_threads()
        torch.set_num_threads(1)
    try:
        with threadpool_limits(1):
            yield
    finally:
        if threads is not None:
            torch.set_num_threads(threads)
