"""A sorted list of floats: chunks of contiguous doubles with a Fenwick tree of their sizes.

Why not ``sortedcontainers.SortedList``: its chunks are lists of float
objects, so each comparison of a bisection reads a float object somewhere in
memory; at a million scores per rung those reads miss the cache and dominate
a simulation. Here a chunk is an ``array('d')``, so a bisection reads
consecutive doubles. Positions (ranks, quantiles) come from a Fenwick tree
over the chunk sizes, built on first use and updated in O(log m) after.
"""

from __future__ import annotations

from array import array
from bisect import bisect_left, bisect_right, insort
from typing import Iterator

__all__ = ["SortedFloats"]

_LOAD = 1000  # a chunk splits in two when it passes 2 * _LOAD doubles


class SortedFloats:
    """Floats in ascending order: O(log n) add, remove, bisect and index."""

    __slots__ = ("_chunks", "_maxes", "_n", "_tree")

    def __init__(self) -> None:
        self._chunks: list[array] = []
        self._maxes: list[float] = []  # the last (largest) double of each chunk
        self._n = 0
        self._tree: list[int] | None = None  # Fenwick tree of chunk sizes, 1-based

    def __len__(self) -> int:
        return self._n

    def add(self, x: float) -> None:
        chunks, maxes = self._chunks, self._maxes
        self._n += 1
        if not maxes:
            chunks.append(array("d", (x,)))
            maxes.append(x)
            self._tree = None
            return
        i = bisect_right(maxes, x)
        if i == len(maxes):
            i -= 1
            chunk = chunks[i]
            chunk.append(x)
            maxes[i] = x
        else:
            chunk = chunks[i]
            insort(chunk, x)
        if len(chunk) > 2 * _LOAD:
            chunks.insert(i + 1, chunk[_LOAD:])
            del chunk[_LOAD:]
            maxes.insert(i, chunk[-1])
            self._tree = None
        else:
            self._grow(i, 1)

    def remove(self, x: float) -> None:
        """Remove one occurrence of ``x``; ``ValueError`` when there is none."""
        chunks, maxes = self._chunks, self._maxes
        i = bisect_left(maxes, x)
        if i < len(maxes):
            chunk = chunks[i]
            j = bisect_left(chunk, x)
            if j < len(chunk) and chunk[j] == x:
                del chunk[j]
                self._n -= 1
                if chunk:
                    maxes[i] = chunk[-1]
                    self._grow(i, -1)
                else:
                    del chunks[i], maxes[i]
                    self._tree = None
                return
        raise ValueError(f"{x!r} is not in the list")

    def _grow(self, i: int, by: int) -> None:
        tree = self._tree
        if tree is None:
            return
        j = i + 1
        m = len(tree)
        while j < m:
            tree[j] += by
            j += j & -j

    def _fenwick(self) -> list[int]:
        tree = self._tree
        if tree is None:
            m = len(self._chunks)
            tree = [0] * (m + 1)
            for j, chunk in enumerate(self._chunks, 1):
                tree[j] += len(chunk)
                up = j + (j & -j)
                if up <= m:
                    tree[up] += tree[j]
            self._tree = tree
        return tree

    def _before(self, i: int) -> int:
        """How many doubles the chunks before chunk ``i`` hold."""
        if i == 0:
            return 0
        tree = self._fenwick()
        total = 0
        while i:
            total += tree[i]
            i -= i & -i
        return total

    def bisect_left(self, x: float) -> int:
        """How many elements are < x."""
        i = bisect_left(self._maxes, x)
        if i == len(self._maxes):
            return self._n
        return self._before(i) + bisect_left(self._chunks[i], x)

    def bisect_right(self, x: float) -> int:
        """How many elements are <= x."""
        i = bisect_right(self._maxes, x)
        if i == len(self._maxes):
            return self._n
        return self._before(i) + bisect_right(self._chunks[i], x)

    def __getitem__(self, k: int) -> float:
        n = self._n
        if k < 0:
            k += n
        if not 0 <= k < n:
            raise IndexError(f"index {k} out of range for {n} elements")
        chunks = self._chunks
        if k >= n - len(chunks[-1]):  # the largest values: the common case of a quantile near the top
            return chunks[-1][k - n]
        # Fenwick descent: the chunk holding position k, and how many come before it.
        tree = self._fenwick()
        m = len(tree) - 1
        i = 0
        step = 1 << m.bit_length()
        while step:
            nxt = i + step
            if nxt <= m and tree[nxt] <= k:
                i = nxt
                k -= tree[nxt]
            step >>= 1
        return chunks[i][k]

    def __iter__(self) -> Iterator[float]:
        for chunk in self._chunks:
            yield from chunk

    def __reversed__(self) -> Iterator[float]:
        for chunk in reversed(self._chunks):
            yield from reversed(chunk)
