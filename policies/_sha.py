"""Synchronous successive halving (Jamieson & Talwalkar 2016) as a slot table per rung."""

from __future__ import annotations

from collections import deque
from typing import Sequence

from ._base import DONE, WAIT, Action, Assignment, Decision, Reason, _EMPTY
from ._rungs_base import RungPolicy

__all__ = ["SuccessiveHalving"]


class SuccessiveHalving(RungPolicy):
    """Synchronous successive halving.

    Rung k has ``n_k`` slots: ``n_0 = n_trials`` and ``n_{k+1} =
    max(1, floor(n_k / eta))``. A trial that reaches rung k pauses; when every
    slot of rung k has reported, its best ``n_{k+1}`` trials are promoted to
    rung k+1 and the others stop. A free worker takes a promotion from the
    highest rung that has one, else a new trial, so it never idles while any
    rung has work and fewer workers than trials never deadlock.
    """

    name = "sha"

    def _setup_rungs(self) -> None:
        sizes = [self.n_trials]
        for _ in range(self.top):
            sizes.append(max(1, sizes[-1] // self.eta))
        self.sizes = sizes
        self.expected = list(sizes)  # reports still to come per rung, less removed trials
        self.results: list[list[tuple[float, int]]] = [[] for _ in self.levels]
        self.pending: list[deque[tuple[int, Reason]]] = [deque() for _ in self.levels]

    def next(self) -> Assignment | object:
        for k in range(self.top, 0, -1):
            if self.pending[k]:
                trial, reason = self.pending[k].popleft()
                self.target[trial] = k
                self.running += 1
                return Assignment(trial, self.levels[k], new=False, reason=reason)
        if self.n_started < self.n_trials:
            return self._start_new_trial()
        return WAIT if self.running else DONE

    def report(self, trial: int, epoch: int, value: float) -> Sequence[Decision]:
        k = self._rung_reached(trial, epoch)
        if k is None:
            return _EMPTY
        del self.target[trial]
        self.running -= 1
        if k == self.top:
            return (Decision(trial, epoch, Action.COMPLETE, Reason("max-epochs", rung=k, bracket=self._bracket)),)
        self.results[k].append((self.direction.score(value), trial))
        done = len(self.results[k])
        if done < self.expected[k]:
            reason = Reason(
                "waiting-for-rung",
                rung=k,
                bracket=self._bracket,
                detail=f"{done} of {self.expected[k]} reported",
            )
            return (Decision(trial, epoch, Action.PAUSE, reason),)
        return self._close_rung(k, first=trial)

    def _close_rung(self, k: int, first: int | None = None) -> list[Decision]:
        """Every slot of rung k reported: promote its top n_{k+1}, stop the rest."""
        ranked = sorted(self.results[k], key=lambda e: (-e[0], e[1]))
        keep = min(self.sizes[k + 1], len(ranked))
        self.expected[k + 1] = keep
        sign = self.direction.sign
        compared = len(ranked)
        cutoff = sign * ranked[keep - 1][0] if keep else None
        out: list[Decision] = []
        for i, (score, trial) in enumerate(ranked):
            reason = Reason("top-k", rung=k, cutoff=cutoff, compared=compared, rank=i + 1, bracket=self._bracket)
            if i < keep:
                self.pending[k + 1].append((trial, reason))
                decision = Decision(trial, self.levels[k], Action.PAUSE, reason)
            else:
                decision = Decision(trial, self.levels[k], Action.STOP, reason)
            if trial == first:
                out.insert(0, decision)
            else:
                out.append(decision)
        if keep == 0 and k + 1 < self.top:
            out.extend(self._close_rung(k + 1))
        return out

    def finish(self) -> Sequence[Decision]:
        """Trials still paused when the experiment ends early (budget, timeout): those
        waiting for a rung that never closed, and those promoted but never resumed."""
        out: list[Decision] = []
        for k in range(self.top):
            if len(self.results[k]) < self.expected[k]:  # rung k never closed
                for _, trial in self.results[k]:
                    reason = Reason("not-promoted", rung=k, bracket=self._bracket, detail="rung never closed")
                    out.append(Decision(trial, self.levels[k], Action.STOP, reason))
        for k in range(1, self.top + 1):
            for trial, _ in self.pending[k]:
                reason = Reason("not-resumed", rung=k - 1, bracket=self._bracket, detail="promoted, never resumed")
                out.append(Decision(trial, self.levels[k - 1], Action.STOP, reason))
            self.pending[k].clear()
        return out

    def remove(self, trial: int, epoch: int) -> Sequence[Decision]:
        k = self.target.pop(trial, None)
        if k is None:
            for j, queue in enumerate(self.pending):
                for entry in list(queue):
                    if entry[0] == trial:
                        queue.remove(entry)
                        k = j
            if k is None:
                return _EMPTY
        else:
            self.running -= 1
        self.expected[k] -= 1
        if k < self.top and self.expected[k] == len(self.results[k]):
            return self._close_rung(k)
        return _EMPTY
