"""The samplers that learn nothing: random (``Space.config``) and the grid walk."""

from __future__ import annotations

from typing import Collection, Sequence

from ..space import Space
from ._base import Proposal, Sampler

__all__ = ["GridSampler", "RandomSampler", "RowSampler"]


class RandomSampler(Sampler):
    """Trial ``i`` gets ``space.config(i, seed)``: independent of every other trial."""

    name = "random"

    def start(self, space: Space | None, *, seed: int, mode: str, n_trials: int, levels: Sequence[int] = ()) -> None:
        if space is None:
            raise ValueError("the random sampler needs a search space")
        super().start(space, seed=seed, mode=mode, n_trials=n_trials, levels=levels)

    def propose(self, trial: int, running: Collection[int]) -> Proposal:
        return Proposal(self.space.config(trial, self.seed), "random")


class GridSampler(Sampler):
    """Trial ``i`` gets point ``i`` of ``space.grid()`` (last dimension fastest)."""

    name = "grid"

    def start(self, space: Space | None, *, seed: int, mode: str, n_trials: int, levels: Sequence[int] = ()) -> None:
        if space is None:
            raise ValueError("the grid sampler needs a search space")
        super().start(space, seed=seed, mode=mode, n_trials=n_trials, levels=levels)
        self._grid = space.grid()  # a ValueError names a dimension that is not choice/grid
        if n_trials > self._grid.size:
            raise ValueError(f"the grid has {self._grid.size} points, but trials={n_trials}; pass trials=None "
                             "for the whole grid or trials <= its size")

    def propose(self, trial: int, running: Collection[int]) -> Proposal:
        return Proposal(self._grid[trial], "grid")


class RowSampler(Sampler):
    """A curve table's rows (``space=None``): trial ``i`` is ``{"row": i}``."""

    name = "rows"

    def propose(self, trial: int, running: Collection[int]) -> Proposal:
        return Proposal({"row": trial}, "row")
