"""halving: budget-constrained hyperparameter tuning by early termination."""

from __future__ import annotations

from . import space
from .result import Result, TrialState
from .simulation import simulate

__all__ = ["Result", "TrialState", "simulate", "space"]
__version__ = "0.1.0"
