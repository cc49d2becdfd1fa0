"""What the model-based samplers share: the configs of the trials as unit-space rows,
argument checks, the random fallback and the l(x)/g(x) candidate search."""

from __future__ import annotations

import numbers
from typing import Any, Sequence

import numpy as np

from ..space import Space
from ._base import Proposal, Sampler
from ._encoding import Encoding
from ._parzen import Parzen

__all__ = ["ModelSampler", "count", "fraction", "positive"]


def count(name: str, value: Any, low: int = 1) -> int:
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise TypeError(f"{name} must be an integer, but got {name}={value!r}")
    if value < low:
        raise ValueError(f"{name} must be >= {low}, but got {name}={value!r}")
    return int(value)


def _real(name: str, value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or value != value:
        raise TypeError(f"{name} must be a number, but got {name}={value!r}")
    return float(value)


def fraction(name: str, value: Any, *, open_low: bool = False) -> float:
    x = _real(name, value)
    if not (0.0 < x <= 1.0 if open_low else 0.0 <= x <= 1.0):
        raise ValueError(f"{name} must be in {'(0' if open_low else '[0'}, 1], but got {name}={value!r}")
    return x


def positive(name: str, value: Any, *, zero: bool = False) -> float:
    x = _real(name, value)
    if not (x >= 0 if zero else x > 0) or x == float("inf"):
        raise ValueError(f"{name} must be a finite number {'>= 0' if zero else '> 0'}, but got {name}={value!r}")
    return x


class ModelSampler(Sampler):
    """A sampler that fits densities to what trials reported. Each trial's config is a row
    of ``_num``/``_cat`` (in creation order); losses are values signed so that lower is better."""

    observes = True

    def start(self, space: Space | None, *, seed: int, mode: str, n_trials: int, levels: Sequence[int] = ()) -> None:
        if space is None or not space.dimensions:
            raise ValueError(f"the {self.name} sampler needs a search space with at least one dimension")
        super().start(space, seed=seed, mode=mode, n_trials=n_trials, levels=levels)
        self.enc = Encoding(space)
        self.sign = -1.0 if mode == "max" else 1.0
        self.rows: dict[int, int] = {}
        self._num = np.empty((16, len(self.enc.numeric)))
        self._cat = np.empty((16, len(self.enc.categorical)), dtype=np.int64)

    def created(self, trial: int, config: dict) -> None:
        row = len(self.rows)
        if row == len(self._num):  # grow by doubling: amortised O(1) per trial
            self._num = np.concatenate([self._num, np.empty_like(self._num)])
            self._cat = np.concatenate([self._cat, np.empty_like(self._cat)])
        self._num[row], self._cat[row] = self.enc.encode(config)
        self.rows[trial] = row

    def random(self, trial: int, **detail: Any) -> Proposal:
        """What the random sampler proposes for this trial: ``space.config(trial, seed)``."""
        return Proposal(self.space.config(trial, self.seed), "random", detail=detail)

    def rng(self, trial: int) -> np.random.Generator:
        # Another stream than space.config's ([seed, trial]): a model's draws are not the random ones.
        return np.random.default_rng([self.seed, trial, 1])

    def pending(self, running: Any, known: Any) -> np.ndarray:
        """Rows of running trials whose value the model does not have yet: its lies."""
        rows = self.rows
        return np.array(sorted(rows[t] for t in running if t in rows and rows[t] not in known), dtype=np.int64)

    def search(self, rng: np.random.Generator, good: np.ndarray, bad: np.ndarray, *, candidates: int,
               prior_weight: float, floor: float, widen: float = 1.0) -> dict:
        """The candidate drawn from l (fitted to ``good`` rows) with the largest l(x)/g(x)
        (g fitted to ``bad`` rows), among ``candidates`` draws."""
        num, cat = self._num, self._cat
        l = Parzen(self.enc, num[good], cat[good], prior_weight=prior_weight, floor=floor)
        g = Parzen(self.enc, num[bad], cat[bad], prior_weight=prior_weight, floor=floor)
        xn, xc = l.sample(rng, candidates, widen)
        score = l.log_pdf(xn, xc) - g.log_pdf(xn, xc)
        best = int(np.argmax(score))
        return self.enc.decode(xn[best], xc[best])
