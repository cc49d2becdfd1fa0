"""Samplers: what configuration each new trial gets.

``random`` (the default: ``Space.config(trial, seed)``), ``grid`` (the grid walk, the
default with ``trials=None``), ``tpe`` (a tree-structured Parzen estimator) and ``bohb``
(a kernel density per rung level, BOHB's model), or a ``Sampler`` subclass of your own.
Pure: numpy and the standard library only, no clock and no global random state.
"""

from __future__ import annotations

from typing import Any

from ._base import Proposal, Sampler
from ._basic import GridSampler, RandomSampler, RowSampler
from ._bohb import BOHBSampler
from ._tpe import TPESampler

__all__ = ["SAMPLERS", "BOHBSampler", "GridSampler", "Proposal", "RandomSampler", "RowSampler", "Sampler",
           "TPESampler", "make"]

SAMPLERS: dict[str, type[Sampler]] = {c.name: c for c in (RandomSampler, GridSampler, TPESampler, BOHBSampler)}


def make(name: str, **params: Any) -> Sampler:
    """A fresh sampler by its registered name."""
    if name not in SAMPLERS:
        raise ValueError(f"unknown sampler {name!r}; choose one of {', '.join(SAMPLERS)}")
    return SAMPLERS[name](**params)
