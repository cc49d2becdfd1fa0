"""halving: budget-constrained hyperparameter tuning by early termination."""

from __future__ import annotations

from . import space
from .result import Result, TrialState
from .simulation import simulate
from .trainable import checkpoint, cpus, report
from .tuner import load, tune

__all__ = ["Result", "TrialState", "checkpoint", "cpus", "report", "simulate", "space", "tune", "load"]
__version__ = "0.1.0"
