"""Rows of synthetic learning curves on demand, for report streams of unknown length.

Block ``b`` of ``BLOCK`` rows is ``halving.synthetic.synthetic_curves(BLOCK, R,
seed=block_seed(seed, b))``, so row t is the same however many rows are asked for.
"""

from __future__ import annotations

import numpy as np

from halving.synthetic import synthetic_curves

__all__ = ["BLOCK", "CurveBank"]

BLOCK = 1 << 16


def block_seed(seed: int, block: int) -> int:
    """One seed per (seed, block), distinct for every block of every seed below 2**20."""
    return seed * (1 << 20) + block


class CurveBank:
    """The rows of an endless synthetic curve table, generated a block at a time."""

    def __init__(self, max_epochs: int, seed: int = 0, prefetch: int = 0) -> None:
        if max_epochs < 1:
            raise ValueError(f"max_epochs must be at least 1, but got {max_epochs=}")
        self.max_epochs = max_epochs
        self.seed = seed
        self._blocks: list[np.ndarray] = []
        if prefetch:
            self._grow((prefetch - 1) // BLOCK)

    def _grow(self, b: int) -> None:
        while len(self._blocks) <= b:
            self._blocks.append(synthetic_curves(BLOCK, self.max_epochs, block_seed(self.seed, len(self._blocks))))

    def row(self, trial: int) -> list[float]:
        b = trial // BLOCK
        if b >= len(self._blocks):
            self._grow(b)
        return self._blocks[b][trial - b * BLOCK].tolist()
