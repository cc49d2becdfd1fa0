"""A search space's configurations as points of a unit space, where kernels live.

Each numeric dimension gets one coordinate: a ``uniform``/``loguniform`` (quantised or
not) maps its bounds, in log space when it is a log one, onto [0, 1]; a ``randint`` maps
its integers onto the centres of equal cells of [0, 1]; a ``normal``/``lognormal`` is
measured in its own standard deviations from its mean (unbounded). A categorical
dimension is the index of its value. Decoding maps back and rounds as the dimension
does (``q``, integers), so a proposal is always a value the dimension could draw.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from ..space import Categorical, Integer, Space, Uniform, _copy

__all__ = ["Encoding"]

_FAR = 8.0  # an unbounded coordinate is clipped this many standard deviations out (a q-rounded 0 of a lognormal)


class Encoding:
    """How one space's configs map to ``(numeric vector, category indices)`` and back."""

    def __init__(self, space: Space) -> None:
        self.space = space
        self.numeric: list[tuple[str, Any]] = []
        self.categorical: list[tuple[str, Categorical]] = []
        bounded, floor, centre = [], [], []
        for name, dim in space.dimensions.items():
            if isinstance(dim, Categorical):
                self.categorical.append((name, dim))
                continue
            self.numeric.append((name, dim))
            if isinstance(dim, Integer):
                bounded.append(True)
                floor.append(1.0 / (dim.high - dim.low))  # a kernel reaches the next integer
                centre.append(0.5)
            elif isinstance(dim.prior, Uniform):
                bounded.append(True)
                lo, hi = self._ends(dim.prior)
                floor.append(dim.q / (hi - lo) if dim.q is not None and not dim.prior.log else 0.0)
                centre.append(0.5)
            else:
                bounded.append(False)
                floor.append(dim.q / dim.prior.sigma if dim.q is not None and not dim.prior.log else 0.0)
                centre.append(0.0)
        self.bounded = np.array(bounded, dtype=bool)
        self.floor = np.array(floor, dtype=float)  # the smallest bandwidth that still tells values apart
        self.centre = np.array(centre, dtype=float)  # the prior's centre; its width is 1
        self.sizes = np.array([len(d.values) for _, d in self.categorical], dtype=np.int64)

    @staticmethod
    def _ends(prior: Uniform) -> tuple[float, float]:
        return (math.log(prior.low), math.log(prior.high)) if prior.log else (prior.low, prior.high)

    @property
    def dims(self) -> int:
        return len(self.numeric) + len(self.categorical)

    def encode(self, config: dict) -> tuple[np.ndarray, np.ndarray]:
        num = np.empty(len(self.numeric))
        for j, (name, dim) in enumerate(self.numeric):
            num[j] = self._to_unit(dim, float(config[name]))
        cat = np.empty(len(self.categorical), dtype=np.int64)
        for j, (name, dim) in enumerate(self.categorical):
            cat[j] = _index(dim.values, config[name], name)
        return num, cat

    def decode(self, num: np.ndarray, cat: np.ndarray) -> dict:
        values: dict[str, Any] = {}
        for j, (name, dim) in enumerate(self.numeric):
            values[name] = self._from_unit(dim, float(num[j]))
        for j, (name, dim) in enumerate(self.categorical):
            values[name] = _copy(dim.values[int(cat[j])])
        constants = self.space.constants
        return {name: values[name] if name in values else constants[name] for name in self.space.names}

    def _to_unit(self, dim: Any, x: float) -> float:
        if isinstance(dim, Integer):
            return (x - dim.low + 0.5) / (dim.high - dim.low)
        prior = dim.prior
        t = math.log(max(x, 1e-300)) if prior.log else x
        if isinstance(prior, Uniform):
            lo, hi = self._ends(prior)
            return min(max((t - lo) / (hi - lo), 0.0), 1.0)
        return min(max((t - prior.mu) / prior.sigma, -_FAR), _FAR)

    def _from_unit(self, dim: Any, u: float) -> Any:
        if isinstance(dim, Integer):
            return int(min(max(dim.low + math.floor(u * (dim.high - dim.low)), dim.low), dim.high - 1))
        prior = dim.prior
        if isinstance(prior, Uniform):
            lo, hi = self._ends(prior)
            t = lo + min(max(u, 0.0), 1.0) * (hi - lo)
            x = math.exp(t) if prior.log else t
            x = min(max(x, prior.low), prior.high)
        else:
            t = prior.mu + u * prior.sigma
            x = math.exp(min(t, 709.0)) if prior.log else t
        return dim.rounded(float(x))


def _index(values: tuple, value: Any, name: str) -> int:
    for i, v in enumerate(values):
        if v == value and type(v) is type(value):
            return i
    for i, v in enumerate(values):  # 1 and 1.0 from a JSON round trip
        if v == value:
            return i
    raise ValueError(f"config value {name}={value!r} is not one of the space's values {list(values)!r}")

