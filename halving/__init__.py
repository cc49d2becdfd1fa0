"""halving: budget-constrained hyperparameter tuning by early termination."""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from . import samplers, space, testfunctions
    from .result import Result, TrialState
    from .rundir import load
    from .simulation import simulate
    from .trainable import checkpoint, cpus, gpus, report
    from .tuner import tune

# Each public name is imported where it is first used: a Ray worker imports this package
# to run a trial and needs only ``report`` and its kin, not the engine, pyarrow or the
# samplers, and every worker start pays for what is imported here.
_HOMES = {"Result": "result", "TrialState": "result", "load": "rundir", "simulate": "simulation",
          "checkpoint": "trainable", "cpus": "trainable", "gpus": "trainable", "report": "trainable",
          "tune": "tuner"}
_SUBMODULES = {"samplers", "space", "testfunctions"}


def __getattr__(name: str) -> Any:
    if name in _SUBMODULES:
        return importlib.import_module(f".{name}", __name__)
    home = _HOMES.get(name)
    if home is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f".{home}", __name__), name)
    globals()[name] = value  # looked up once
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))


def reuse_workers():  # noqa: ANN201 - a context manager
    """Within this ``with`` block, ``tune()`` calls on one Ray share their worker
    processes (each new experiment skips starting workers); leaving it ends them."""
    from .backends.ray_pool import reuse_workers as _reuse

    return _reuse()


__all__ = ["Result", "TrialState", "checkpoint", "cpus", "gpus", "report", "samplers", "simulate", "space",
           "testfunctions", "tune", "load", "reuse_workers"]
__version__ = "0.1.0"
