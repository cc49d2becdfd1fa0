"""halving: budget-constrained hyperparameter tuning by early termination."""

from __future__ import annotations

from . import samplers, space
from .result import Result, TrialState
from .rundir import load
from .simulation import simulate
from .trainable import checkpoint, cpus, report
from .tuner import tune


def reuse_workers():  # noqa: ANN201 - a context manager
    """Within this ``with`` block, ``tune()`` calls on one Ray share their worker
    processes (each new experiment skips starting workers); leaving it ends them."""
    from .backends.ray_pool import reuse_workers as _reuse

    return _reuse()


__all__ = ["Result", "TrialState", "checkpoint", "cpus", "report", "samplers", "simulate", "space", "tune", "load", "reuse_workers"]
__version__ = "0.1.0"
