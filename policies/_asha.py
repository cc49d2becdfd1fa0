"""Asynchronous successive halving (Li et al. 2020), with promotion and as a stopping rule."""

from __future__ import annotations

from typing import Sequence

from ._base import DONE, WAIT, Action, Assignment, Decision, Reason, _EMPTY
from ._rung import BestFirst, SortedScores, TopShare
from ._rungs_base import RungPolicy

__all__ = ["ASHA", "ASHAStop"]


class ASHA(RungPolicy):
    """ASHA with promotion, Algorithm 2 of Li et al. (2020).

    A trial trains to its rung and pauses there. When a worker is free, it
    promotes the best not-yet-promoted trial among the top ``1/eta`` of the
    highest rung that has one (``floor(|rung| / eta)`` trials); when no rung
    has one, it starts a new trial at the bottom rung. A promoted trial
    resumes from its state and trains only the epochs it has not trained yet.

    Algorithm 2 assumes an endless stream of new trials. With a finite number
    of trials, once every trial has started and none is running, and still
    no trial has reached R, the best waiting trial of the highest rung is
    promoted (reason ``end-game``), so that the run ends with a trial at R.
    """

    name = "asha"

    def _setup_rungs(self) -> None:
        # rungs[k]: every trial that reached level k, and which are in its top 1/eta (what a
        # promotion checks, with no rank); waiting[k]: those not yet promoted; gone[k]: those
        # that left waiting[k] (promoted or removed), in rank order. The best waiting trial's
        # rank in the rung is 1 + how many of gone[k] are better: only trials that leave the
        # waiting set pay for an ordered insert, not every trial of the rung.
        self.rungs = [TopShare(self.eta) for _ in range(self.top)]
        self.waiting = [BestFirst() for _ in range(self.top)]
        self.gone = [SortedScores() for _ in range(self.top)]
        self.completed = 0
        # checked[k]: rung k has nothing to promote; only a new entry at k can change that.
        self.checked = [False] * self.top

    def next(self) -> Assignment | object:
        checked = self.checked
        for k in range(self.top - 1, -1, -1):
            if checked[k]:
                continue
            waiting = self.waiting[k]
            if not waiting:
                checked[k] = True
                continue
            score, trial = waiting.best()
            top = self.rungs[k]
            if not top.holds(score, trial):
                checked[k] = True
                continue
            waiting.discard(trial)
            self.target[trial] = k + 1
            self.running += 1
            reason = Reason("top-k", rung=k, cutoff=self.direction.sign * top.cutoff(), compared=len(top),
                            rank=self._leave(k, score, trial), bracket=self._bracket)
            return Assignment(trial, self.levels[k + 1], new=False, reason=self._promotion_reason(k, trial, reason))
        if self.n_started < self.n_trials:
            return self._start_new_trial()
        if self.running:
            return WAIT
        if not self.completed:
            return self._end_game()
        return DONE

    def _promotion_reason(self, k: int, trial: int, reason: Reason) -> Reason:
        """The reason of promoting ``trial`` from rung ``k``; a subclass that ranks otherwise says how."""
        return reason

    def _end_game(self) -> Assignment | object:
        for k in range(self.top - 1, -1, -1):
            if self.waiting[k]:
                score, trial = self.waiting[k].best()
                self.waiting[k].discard(trial)
                self.target[trial] = k + 1
                self.running += 1
                reason = Reason("end-game", rung=k, compared=len(self.rungs[k]), rank=self._leave(k, score, trial),
                                bracket=self._bracket, detail="every trial started and none reached R")
                return Assignment(trial, self.levels[k + 1], new=False, reason=reason)
        return DONE

    def _leave(self, k: int, score: float, trial: int) -> int:
        """The best waiting trial of rung k leaves the waiting set; returns its rank in the rung."""
        gone = self.gone[k]
        gone.add(score, trial)
        return gone.rank(score, trial)  # every better entry of the rung has left the waiting set

    def report(self, trial: int, epoch: int, value: float) -> Sequence[Decision]:
        if epoch < self.levels[self.target[trial]]:
            return _EMPTY  # most reports: between decision points
        k = self._rung_reached(trial, epoch)
        del self.target[trial]
        self.running -= 1
        if k == self.top:
            self.completed += 1
            return (Decision(trial, epoch, Action.COMPLETE, Reason("max-epochs", rung=k, bracket=self._bracket)),)
        entry = (-self.direction.score(value), trial)
        top = self.rungs[k]
        top.add(entry)
        self.waiting[k].add(entry)
        self.checked[k] = False
        reason = Reason("rung-reached", rung=k, compared=len(top), bracket=self._bracket)
        return (Decision(trial, epoch, Action.PAUSE, reason),)

    def remove(self, trial: int, epoch: int) -> Sequence[Decision]:
        if self.target.pop(trial, None) is not None:
            self.running -= 1
        for k in range(self.top):
            neg = self.waiting[k].pop(trial, None)
            if neg is not None:
                self.gone[k].add(-neg, trial)  # still an entry of the rung: it counts in ranks
        return _EMPTY

    def finish(self) -> Sequence[Decision]:
        out = []
        sign = self.direction.sign
        for k in range(self.top):
            top = self.rungs[k]
            waiting = self.waiting[k]
            if not waiting:
                continue
            cutoff = sign * top.cutoff() if len(top) >= self.eta else None
            compared = len(top)
            level = self.levels[k]
            bracket = self._bracket
            for rank, trial in top.ranked(list(waiting)):
                reason = Reason("not-promoted", k, cutoff, compared, rank, bracket)
                out.append(Decision(trial, level, Action.STOP, reason))
            self.waiting[k] = BestFirst()
        return out


class ASHAStop(RungPolicy):
    """ASHA as a stopping rule (``asha-stop``), as Ray Tune and Optuna run it.

    At each rung a trial continues if its value is at least the
    ``1 - 1/eta`` quantile of the values recorded at that rung before it
    (linear interpolation, as ``numpy.percentile``); otherwise it stops. The
    first trial at a rung always continues. Nothing is ever paused.
    """

    name = "asha-stop"

    def _setup_rungs(self) -> None:
        self.rungs = [SortedScores() for _ in range(self.top)]

    def next(self) -> Assignment | object:
        if self.n_started < self.n_trials:
            return self._start_new_trial()
        return WAIT if self.running else DONE

    def report(self, trial: int, epoch: int, value: float) -> Sequence[Decision]:
        k = self._rung_reached(trial, epoch)
        if k is None:
            return _EMPTY
        if k == self.top:
            del self.target[trial]
            self.running -= 1
            return (Decision(trial, epoch, Action.COMPLETE, Reason("max-epochs", rung=k, bracket=self._bracket)),)
        score = self.direction.score(value)
        rung = self.rungs[k]
        n = len(rung)
        if n:
            cutoff = rung.quantile(1.0 - 1.0 / self.eta)
            rank = rung.rank_of_value(score)
            stop = score < cutoff
        else:
            cutoff, rank, stop = None, 1, False
        rung.add(score, trial)
        reason = Reason(
            "rung-cutoff",
            rung=k,
            cutoff=None if cutoff is None else self.direction.sign * cutoff,
            compared=n,
            rank=rank,
            bracket=self._bracket,
            detail="first at rung" if not n else "",
        )
        if stop:
            del self.target[trial]
            self.running -= 1
            return (Decision(trial, epoch, Action.STOP, reason),)
        self.target[trial] = k + 1
        return (Decision(trial, epoch, Action.CONTINUE, reason, until=self.levels[k + 1]),)

    def remove(self, trial: int, epoch: int) -> Sequence[Decision]:
        if self.target.pop(trial, None) is not None:
            self.running -= 1
        return _EMPTY
