"""Hyperband (Li et al. 2018): successive halving over brackets of aggressiveness."""

from __future__ import annotations

import random
from typing import Sequence

from ._asha import ASHA
from ._base import DONE, WAIT, Assignment, Decision, check_int
from ._rungs_base import Bracket, RungPolicy
from ._sha import SuccessiveHalving

__all__ = ["Hyperband", "hyperband_brackets"]


def hyperband_brackets(max_epochs: int, eta: int, min_epochs: int = 1) -> list[tuple[int, int, list[int]]]:
    """The brackets of one Hyperband iteration, ``s = s_max .. 0``.

    Each is ``(s, n_s, levels)``: ``n_s = ceil((s_max + 1) / (s + 1) * eta**s)``
    trials starting at ``r_s = R * eta**-s`` epochs (rounded down to whole
    epochs), with rungs ``r_s * eta**i`` up to R. For R=81, eta=3 the first
    rungs are 81@1, 34@3, 15@9, 8@27, 5@81.
    """
    s_max = 0
    while min_epochs * eta ** (s_max + 1) <= max_epochs:
        s_max += 1
    out = []
    for s in range(s_max, -1, -1):
        n = -(-((s_max + 1) * eta**s) // (s + 1))  # exact integer ceil
        levels = [max_epochs // eta ** (s - i) for i in range(s + 1)]
        out.append((s, n, levels))
    return out


class Hyperband(RungPolicy):
    """Hyperband: trials are spread over brackets ``s = s_max .. 0`` in the
    proportions ``n_s`` of the paper, and each bracket runs successive halving
    (``inner="sha"``, as in the paper) or ASHA (``inner="asha"``) from its own
    first rung ``r_s``. A trial's bracket is fixed by ``seed``: each block of
    ``sum(n_s)`` trials is a seeded permutation of one full Hyperband
    iteration, so ``n_trials = sum(n_s)`` gives exactly the paper's brackets.
    A free worker takes work from the most aggressive bracket that has some.
    """

    name = "hyperband"
    #: Every trial's bracket is drawn when the policy starts (block by block from one
    #: seeded generator, so it cannot be computed for a trial alone): about 110 bytes
    #: and 2 us per trial. Past this, a run (e.g. trials=None over a huge grid) is refused.
    max_trials = 10**8

    def __init__(
        self,
        eta: int = 3,
        min_epochs: int = 1,
        *,
        inner: str = "sha",
        seed: int = 0,
        max_epochs: int | None = None,
    ) -> None:
        super().__init__(eta, min_epochs, max_epochs=max_epochs)
        if inner not in ("sha", "asha"):
            raise ValueError(f"inner must be 'sha' or 'asha', but got inner={inner!r}")
        check_int("seed", seed)
        self.inner = inner
        self.seed = seed

    def params(self) -> dict:
        return {**super().params(), "inner": self.inner, "seed": self.seed}

    def _setup_rungs(self) -> None:
        if self.n_trials > self.max_trials:
            raise ValueError(
                f"hyperband draws every trial's bracket up front and takes at most {self.max_trials} trials, "
                f"but got n_trials={self.n_trials!r}; pass fewer trials"
            )
        spec = hyperband_brackets(self.max_epochs, self.eta, self.min_epochs)
        kind = SuccessiveHalving if self.inner == "sha" else ASHA
        self.brackets: list[RungPolicy] = []
        self.bracket_of: dict[int, RungPolicy] = {}
        for (s, _, levels), ids in zip(spec, self._members([n for _, n, _ in spec])):
            if not ids:
                continue
            inner = kind(self.eta, levels[0], bracket=Bracket(s, tuple(levels), tuple(ids)))
            inner.start(n_trials=len(ids), max_epochs=self.max_epochs, mode=self.direction.mode)
            self.brackets.append(inner)
            for t in ids:
                self.bracket_of[t] = inner
        self.spec = spec

    def _members(self, sizes: list[int]) -> list[list[int]]:
        """The trial ids of each bracket: every block of ``sum(sizes)`` trials is a seeded
        permutation of one Hyperband iteration, ``sizes[b]`` of them in bracket b."""
        slots = [b for b, n in enumerate(sizes) for _ in range(n)]
        rng = random.Random(self.seed)  # a private generator: no global random state
        members: list[list[int]] = [[] for _ in sizes]
        for start in range(0, self.n_trials, len(slots)):
            block = slots[:]
            rng.shuffle(block)
            for i, b in enumerate(block[: self.n_trials - start]):
                members[b].append(start + i)
        return members

    def next(self) -> Assignment | object:
        waiting = False
        for bracket in self.brackets:
            a = bracket.next()
            if a is WAIT:
                waiting = True
            elif a is not DONE:
                return a
        return WAIT if waiting else DONE

    def report(self, trial: int, epoch: int, value: float) -> Sequence[Decision]:
        return self.bracket_of[trial].report(trial, epoch, value)

    def remove(self, trial: int, epoch: int) -> Sequence[Decision]:
        return self.bracket_of[trial].remove(trial, epoch)

    def finish(self) -> Sequence[Decision]:
        return [d for b in self.brackets for d in b.finish()]
