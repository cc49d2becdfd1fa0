"""Sorted collections of scores: O(log n) insert, rank and quantile."""

from __future__ import annotations

import bisect
import heapq
import math
from typing import Sequence

from ._sorted import SortedFloats

__all__ = ["SortedScores", "BestFirst", "TopShare"]


class SortedScores:
    """Scores (higher is better) of trials, kept sorted.

    Ties rank the lower trial id as better, deterministically. The sorted list
    holds the scores as doubles (``SortedFloats``); beside it, each distinct score
    maps to its trial id, or to a sorted list of ids once a tie happens, so a
    million distinct scores cost a million ints, not a million lists.
    """

    __slots__ = ("_items", "_ids")

    def __init__(self) -> None:
        self._items = SortedFloats()
        self._ids: dict[float, int | list[int]] = {}

    def __len__(self) -> int:
        return len(self._items)

    def add(self, score: float, trial: int) -> None:
        self._items.add(score)
        ids = self._ids
        have = ids.get(score)
        if have is None:
            ids[score] = trial
        elif type(have) is int:
            ids[score] = [have, trial] if have < trial else [trial, have]
        else:
            bisect.insort(have, trial)

    def discard(self, score: float, trial: int) -> None:
        ids = self._ids
        have = ids.get(score)
        if have is None:
            return
        if type(have) is int:
            if have != trial:
                return
            del ids[score]
        else:
            i = bisect.bisect_left(have, trial)
            if i == len(have) or have[i] != trial:
                return
            del have[i]
            if len(have) == 1:
                ids[score] = have[0]
        self._items.remove(score)

    def _trials(self, score: float) -> list[int]:
        have = self._ids.get(score)
        if have is None:
            return []
        return [have] if type(have) is int else have

    def __contains__(self, entry: tuple[float, int]) -> bool:
        score, trial = entry
        return trial in self._trials(score)

    def rank(self, score: float, trial: int) -> int:
        """1-based rank of an entry that is present (1 = best)."""
        better = len(self._items) - self._items.bisect_right(score)
        have = self._ids[score]
        return better + 1 if type(have) is int else better + bisect.bisect_left(have, trial) + 1

    def rank_of_value(self, score: float) -> int:
        """How many entries are strictly better than ``score``, plus one."""
        return len(self._items) - self._items.bisect_right(score) + 1

    def best(self) -> tuple[float, int]:
        score = self._items[-1]
        have = self._ids[score]
        return score, have if type(have) is int else have[0]

    def kth_best(self, k: int) -> tuple[float, int]:
        """The k-th best entry, 1-based."""
        items = self._items
        n = len(items)
        score = items[n - k]
        have = self._ids[score]
        if type(have) is int:
            return score, have
        hi = items.bisect_right(score)
        return score, have[(k - 1) - (n - hi)]

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


class BestFirst(dict):
    """The not-yet-promoted trials of a rung: a heap of entries ``(-score, trial)``
    (the best on top) with lazy removal.

    A dict itself (trial -> -score), so that membership, size and removal are
    the dict's own C-level operations on the hot path. An entry tuple can be
    shared with ``TopShare``: a million-trial rung then holds one tuple per
    trial, not two.
    """

    __slots__ = ("_heap",)

    def __init__(self) -> None:
        super().__init__()
        self._heap: list[tuple[float, int]] = []

    def add(self, entry: tuple[float, int]) -> None:
        self[entry[1]] = entry[0]
        heapq.heappush(self._heap, entry)

    def discard(self, trial: int) -> None:
        self.pop(trial, None)

    def best(self) -> tuple[float, int]:
        """``(score, trial)`` of the best trial held."""
        heap = self._heap
        get = self.get
        while True:
            neg, trial = heap[0]
            if get(trial) == neg:
                return -neg, trial
            heapq.heappop(heap)


class TopShare:
    """Which entries of a rung are among its best ``len // share``, kept as two heaps.

    The best ``len // share`` entries sit in a min-heap of ``(score, -trial)``
    (the worst of them, the cutoff, on top), the others in a min-heap of the
    entries ``(-score, trial)`` as given (the best of them on top); each new
    entry costs a push and at most one move between them. Whether an entry
    is among the best is then one comparison with the cutoff: no rank is
    computed. Ties rank the lower trial id as better, as in ``SortedScores``.
    Entries are never removed.
    """

    __slots__ = ("share", "n", "_top", "_rest")

    def __init__(self, share: int) -> None:
        self.share = share
        self.n = 0
        self._top: list[tuple[float, int]] = []  # (score, -trial): the cutoff on top
        self._rest: list[tuple[float, int]] = []  # (-score, trial): the best of the rest on top

    def __len__(self) -> int:
        return self.n

    def add(self, entry: tuple[float, int]) -> None:
        """Add the entry ``(-score, trial)``."""
        self.n += 1
        quota = self.n // self.share
        top, rest = self._top, self._rest
        neg, trial = entry
        if top and (-neg, -trial) > top[0]:
            heapq.heappush(top, (-neg, -trial))
            if len(top) > quota:
                worst, negtrial = heapq.heappop(top)
                heapq.heappush(rest, (-worst, -negtrial))
        else:
            heapq.heappush(rest, entry)
        if len(top) < quota:
            neg, trial = heapq.heappop(rest)
            heapq.heappush(top, (-neg, -trial))

    def holds(self, score: float, trial: int) -> bool:
        """Whether the entry (present) is among the best ``len // share``."""
        top = self._top
        return bool(top) and (score, -trial) >= top[0]

    def cutoff(self) -> float:
        """The score of the worst of the best ``len // share`` (at least one must exist)."""
        return self._top[0][0]

    def ranked(self, trials: Sequence[int]) -> list[tuple[int, int]]:
        """``(rank, trial)`` of the given trials (entries present) among all entries, best first.

        For the end of a run, when every waiting trial of a million-trial rung
        needs its rank: one vectorised sort of the entries (numpy, imported
        only here) instead of a Python step per entry.
        """
        import numpy as np

        if not trials:
            return []
        top = np.array(self._top, dtype=np.float64).reshape(-1, 2)  # (score, -trial)
        rest = np.array(self._rest, dtype=np.float64).reshape(-1, 2)  # (-score, trial)
        scores = np.concatenate([top[:, 0], -rest[:, 0]])
        ids = np.concatenate([-top[:, 1], rest[:, 1]]).astype(np.int64)
        order = np.lexsort((ids, -scores))  # best first: score descending, then trial id ascending
        rank_of = np.zeros(int(ids.max()) + 1, dtype=np.int64)
        rank_of[ids[order]] = np.arange(1, len(order) + 1)
        wanted = np.asarray(trials, dtype=np.int64)
        ranks = rank_of[wanted]
        by_rank = np.argsort(ranks, kind="stable")
        return list(zip(ranks[by_rank].tolist(), wanted[by_rank].tolist()))
