"""Sorted collections of scores: O(log n) insert, rank and quantile."""

from __future__ import annotations

import math

from sortedcontainers import SortedList

__all__ = ["SortedScores"]


class SortedScores:
    """Scores (higher is better) of trials, kept sorted.

    Entries are ``(score, -trial)`` so that ties rank the lower trial id as
    better, deterministically.
    """

    __slots__ = ("_items",)

    def __init__(self) -> None:
        self._items = SortedList()

    def __len__(self) -> int:
        return len(self._items)

    def add(self, score: float, trial: int) -> None:
        self._items.add((score, -trial))

    def discard(self, score: float, trial: int) -> None:
        self._items.discard((score, -trial))

    def __contains__(self, entry: tuple[float, int]) -> bool:
        score, trial = entry
        return (score, -trial) in self._items

    def rank(self, score: float, trial: int) -> int:
        """1-based rank of an entry that is present (1 = best)."""
        return len(self._items) - self._items.index((score, -trial))

    def rank_of_value(self, score: float) -> int:
        """How many entries are strictly better than ``score``, plus one."""
        return len(self._items) - self._items.bisect_right((score, math.inf)) + 1

    def best(self) -> tuple[float, int]:
        score, neg = self._items[-1]
        return score, -neg

    def kth_best(self, k: int) -> tuple[float, int]:
        """The k-th best entry, 1-based."""
        score, neg = self._items[len(self._items) - k]
        return score, -neg

    def quantile(self, q: float, *, exclude: tuple[float, int] | None = None) -> float:
        """The q-quantile of the scores, interpolated linearly as ``numpy.quantile``.

        ``exclude`` leaves one present entry out of the computation without
        removing it.
        """
        items = self._items
        n = len(items)
        skip = -1
        if exclude is not None:
            skip = items.index((exclude[0], -exclude[1]))
            n -= 1
        if n <= 0:
            raise ValueError("quantile of an empty set of scores")
        pos = q * (n - 1)
        lo = math.floor(pos)
        hi = min(lo + 1, n - 1)
        frac = pos - lo

        def at(j: int) -> float:
            return items[j if skip < 0 or j < skip else j + 1][0]

        a = at(lo)
        if frac == 0.0:
            return a
        return a + (at(hi) - a) * frac
