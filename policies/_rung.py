"""Sorted collections of scores: O(log n) insert, rank and quantile."""

from __future__ import annotations

import bisect
import heapq
import math
from typing import Iterator

from sortedcontainers import SortedList

__all__ = ["SortedScores", "BestFirst"]


class SortedScores:
    """Scores (higher is better) of trials, kept sorted.

    Ties rank the lower trial id as better, deterministically. The sorted list
    holds plain floats (C-speed comparisons); the trial ids of each distinct
    score sit beside it, so ties cost only when they happen.
    """

    __slots__ = ("_items", "_ids")

    def __init__(self) -> None:
        self._items = SortedList()
        self._ids: dict[float, list[int]] = {}

    def __len__(self) -> int:
        return len(self._items)

    def add(self, score: float, trial: int) -> None:
        self._items.add(score)
        ids = self._ids.get(score)
        if ids is None:
            self._ids[score] = [trial]
        else:
            bisect.insort(ids, trial)

    def discard(self, score: float, trial: int) -> None:
        ids = self._ids.get(score)
        if ids is None:
            return
        i = bisect.bisect_left(ids, trial)
        if i == len(ids) or ids[i] != trial:
            return
        del ids[i]
        if not ids:
            del self._ids[score]
        self._items.remove(score)

    def __contains__(self, entry: tuple[float, int]) -> bool:
        score, trial = entry
        return trial in self._ids.get(score, ())

    def rank(self, score: float, trial: int) -> int:
        """1-based rank of an entry that is present (1 = best)."""
        better = len(self._items) - self._items.bisect_right(score)
        return better + bisect.bisect_left(self._ids[score], trial) + 1

    def rank_of_value(self, score: float) -> int:
        """How many entries are strictly better than ``score``, plus one."""
        return len(self._items) - self._items.bisect_right(score) + 1

    def best(self) -> tuple[float, int]:
        score = self._items[-1]
        return score, self._ids[score][0]

    def kth_best(self, k: int) -> tuple[float, int]:
        """The k-th best entry, 1-based."""
        items = self._items
        n = len(items)
        score = items[n - k]
        hi = items.bisect_right(score)
        return score, self._ids[score][(k - 1) - (n - hi)]

    def entries(self) -> Iterator[tuple[float, int]]:
        """Every entry, best first."""
        ids = self._ids
        for score in sorted(ids, reverse=True):
            for trial in ids[score]:
                yield score, trial

    def quantile(self, q: float, *, exclude: tuple[float, int] | None = None) -> float:
        """The q-quantile of the scores, interpolated linearly as ``numpy.quantile``.

        ``exclude`` leaves one present entry out of the computation without
        removing it.
        """
        items = self._items
        n = len(items)
        skip = -1
        if exclude is not None:
            skip = items.bisect_left(exclude[0])
            n -= 1
        if n <= 0:
            raise ValueError("quantile of an empty set of scores")
        pos = q * (n - 1)
        lo = math.floor(pos)
        hi = min(lo + 1, n - 1)
        frac = pos - lo

        def at(j: int) -> float:
            return items[j if skip < 0 or j < skip else j + 1]

        a = at(lo)
        if frac == 0.0:
            return a
        return a + (at(hi) - a) * frac


class BestFirst:
    """The not-yet-promoted trials of a rung: a heap, best on top, with lazy removal."""

    __slots__ = ("_heap", "_live")

    def __init__(self) -> None:
        self._heap: list[tuple[float, int]] = []
        self._live: dict[int, float] = {}

    def __len__(self) -> int:
        return len(self._live)

    def add(self, score: float, trial: int) -> None:
        self._live[trial] = score
        heapq.heappush(self._heap, (-score, trial))

    def discard(self, trial: int) -> None:
        self._live.pop(trial, None)

    def holds(self, trial: int) -> bool:
        return trial in self._live

    def best(self) -> tuple[float, int]:
        heap, live = self._heap, self._live
        while True:
            neg, trial = heap[0]
            if live.get(trial) == -neg:
                return -neg, trial
            heapq.heappop(heap)

    def entries(self) -> Iterator[tuple[float, int]]:
        for trial, score in sorted(self._live.items(), key=lambda e: (-e[1], e[0])):
            yield score, trial
