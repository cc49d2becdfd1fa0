"""Rules applied at evaluation intervals: median stopping, bandit slack,
truncation selection (Golovin et al. 2017; Azure ML HyperDrive), and the
no-pruning baseline."""

from __future__ import annotations

import math
from typing import Sequence

from ._base import DONE, WAIT, Action, Assignment, Decision, Policy, Reason, _EMPTY, check_int, check_interval
from ._rung import SortedScores

__all__ = ["Bandit", "MedianStopping", "NoPruning", "TruncationSelection"]


class IntervalPolicy(Policy):
    """Start every trial, train it to R, and apply ``_judge`` at evaluation epochs.

    An epoch t is an evaluation point when ``t % evaluation_interval == 0``,
    ``t >= delay_evaluation`` and ``t >= grace`` (HyperDrive: "the policy applies
    every multiple of evaluation_interval that is greater than or equal to
    delay_evaluation"), and t < R. The engine trains a trial from one
    evaluation point to the next in one go.
    """

    per_epoch = True

    def __init__(self, *, evaluation_interval: int = 1, delay_evaluation: int = 0, grace: int = 0) -> None:
        super().__init__()
        check_interval(evaluation_interval, delay_evaluation, grace)
        self.evaluation_interval = evaluation_interval
        self.delay_evaluation = delay_evaluation
        self.grace = grace

    def params(self) -> dict:
        return {"evaluation_interval": self.evaluation_interval, "delay_evaluation": self.delay_evaluation}

    def _setup(self) -> None:
        self.n_started = 0
        self.running = 0
        self.until: dict[int, int] = {}
        first = max(self.delay_evaluation, self.grace, 1)
        iv = self.evaluation_interval
        self.first_point = -(-first // iv) * iv
        self._setup_rule()

    def _setup_rule(self) -> None:
        pass

    def _point_after(self, epoch: int) -> int:
        """The next decision point after ``epoch``: an evaluation epoch, or R."""
        if epoch < self.first_point:
            nxt = self.first_point
        else:
            iv = self.evaluation_interval
            nxt = (epoch // iv + 1) * iv
        return min(nxt, self.max_epochs)

    def next(self) -> Assignment | object:
        if self.n_started < self.n_trials:
            trial = self.n_started
            self.n_started += 1
            self.running += 1
            until = self._point_after(0)
            self.until[trial] = until
            return Assignment(trial, until, new=True)
        return WAIT if self.running else DONE

    def report(self, trial: int, epoch: int, value: float) -> Sequence[Decision]:
        self._observe(trial, epoch, value)
        until = self.until[trial]
        if epoch < until:
            return _EMPTY
        if epoch > until:
            raise ValueError(f"trial {trial} reported epoch {epoch} past its granted epoch {until}")
        if epoch >= self.max_epochs:
            self._leave(trial)
            return (Decision(trial, epoch, Action.COMPLETE, Reason("max-epochs")),)
        stop, reason = self._judge(trial, epoch, value)
        if stop:
            self._leave(trial)
            return (Decision(trial, epoch, Action.STOP, reason),)
        nxt = self._point_after(epoch)
        self.until[trial] = nxt
        return (Decision(trial, epoch, Action.CONTINUE, reason, until=nxt),)

    def _leave(self, trial: int) -> None:
        del self.until[trial]
        self.running -= 1

    def remove(self, trial: int, epoch: int) -> Sequence[Decision]:
        if trial in self.until:
            self._leave(trial)
        return _EMPTY

    def _observe(self, trial: int, epoch: int, value: float) -> None:
        pass

    def _judge(self, trial: int, epoch: int, value: float) -> tuple[bool, Reason]:  # pragma: no cover
        raise NotImplementedError


class NoPruning(IntervalPolicy):
    """The baseline: every trial trains to R; nothing is ever stopped."""

    name = "none"
    per_epoch = False

    def __init__(self) -> None:
        super().__init__()

    def params(self) -> dict:
        return {}

    def _point_after(self, epoch: int) -> int:
        return self.max_epochs


class _PerEpochScores(IntervalPolicy):
    """Keeps, for every epoch t, the sorted values all trials reported at t."""

    def _setup_rule(self) -> None:
        self.at: list[SortedScores] = [SortedScores() for _ in range(self.max_epochs + 1)]

    def _observe(self, trial: int, epoch: int, value: float) -> None:
        self.at[epoch].add(self.direction.score(value), trial)


class MedianStopping(IntervalPolicy):
    """The median stopping rule of Google Vizier (Golovin et al. 2017).

    At an evaluation epoch t, stop the trial if its best value so far is
    worse than the median of the running averages (mean over epochs 1..t) of
    the other trials that reached t. Not applied before ``grace`` epochs, nor
    while fewer than ``min_trials`` other trials reached t.
    """

    name = "median"

    def __init__(
        self,
        *,
        grace: int = 1,
        min_trials: int = 3,
        evaluation_interval: int = 1,
        delay_evaluation: int = 0,
    ) -> None:
        super().__init__(evaluation_interval=evaluation_interval, delay_evaluation=delay_evaluation, grace=grace)
        check_int("min_trials", min_trials, low=1)
        self.min_trials = min_trials

    def params(self) -> dict:
        return {**super().params(), "grace": self.grace, "min_trials": self.min_trials}

    def _setup_rule(self) -> None:
        self.avg: list[SortedScores] = [SortedScores() for _ in range(self.max_epochs + 1)]
        self.sum: dict[int, float] = {}
        self.best: dict[int, float] = {}
        self.last_avg: dict[int, float] = {}

    def _observe(self, trial: int, epoch: int, value: float) -> None:
        score = self.direction.score(value)
        total = self.sum.get(trial, 0.0) + score
        self.sum[trial] = total
        prev = self.best.get(trial)
        self.best[trial] = score if prev is None or score > prev else prev
        avg = total / epoch
        self.last_avg[trial] = avg
        self.avg[epoch].add(avg, trial)

    def _judge(self, trial: int, epoch: int, value: float) -> tuple[bool, Reason]:
        others = len(self.avg[epoch]) - 1
        if others < self.min_trials:
            return False, Reason("median", compared=others, detail=f"fewer than min_trials={self.min_trials}")
        median = self.avg[epoch].quantile(0.5, exclude=(self.last_avg[trial], trial))
        sign = self.direction.sign
        reason = Reason("median", cutoff=sign * median, compared=others, detail=f"best so far {sign * self.best[trial]:.6g}")
        return self.best[trial] < median, reason


class Bandit(_PerEpochScores):
    """HyperDrive's bandit policy.

    At an evaluation epoch t, stop the trial if its value is not within the
    slack of the best value any trial reported at t: with ``slack_factor``
    f, for mode max stop when ``value * (1 + f) < best``, for mode min when
    ``value / (1 + f) > best`` (for a negative best, the slack is taken about
    ``|best|``: max stops below ``best * (1 + f)``, min above ``best / (1 + f)``);
    with ``slack_amount`` a, when ``value + a < best`` (max) or
    ``value - a > best`` (min).
    """

    name = "bandit"

    def __init__(
        self,
        *,
        slack_factor: float | None = None,
        slack_amount: float | None = None,
        evaluation_interval: int = 1,
        delay_evaluation: int = 0,
    ) -> None:
        super().__init__(evaluation_interval=evaluation_interval, delay_evaluation=delay_evaluation)
        if (slack_factor is None) == (slack_amount is None):
            raise ValueError(
                f"give exactly one of slack_factor and slack_amount, but got "
                f"slack_factor={slack_factor!r}, slack_amount={slack_amount!r}"
            )
        for key, v in (("slack_factor", slack_factor), ("slack_amount", slack_amount)):
            if v is None:
                continue
            if isinstance(v, bool) or not isinstance(v, (int, float)):
                raise TypeError(f"{key} must be a number, but got {key}={v!r}")
            if not math.isfinite(v) or v <= 0:
                raise ValueError(f"{key} must be a finite number > 0, but got {key}={v!r}")
        self.slack_factor = slack_factor
        self.slack_amount = slack_amount

    def params(self) -> dict:
        return {**super().params(), "slack_factor": self.slack_factor, "slack_amount": self.slack_amount}

    def _judge(self, trial: int, epoch: int, value: float) -> tuple[bool, Reason]:
        scores = self.at[epoch]
        sign = self.direction.sign
        best = sign * scores.best()[0]
        maximize = self.direction.mode == "max"
        if self.slack_factor is not None:
            # The slack is relative to |best|, toward worse values whatever best's sign
            # (best / f for a negative best in mode max would stop even the best trial).
            f = 1.0 + self.slack_factor
            cutoff = best / f if maximize == (best >= 0) else best * f
        else:
            a = self.slack_amount
            cutoff = best - a if maximize else best + a
        stop = value < cutoff if maximize else value > cutoff
        rank = scores.rank(self.direction.score(value), trial)
        return stop, Reason("slack", cutoff=cutoff, compared=len(scores), rank=rank, detail=f"best {best:.6g}")


class TruncationSelection(_PerEpochScores):
    """HyperDrive's truncation selection: at each evaluation epoch t, stop the
    trial if it is among the lowest ``truncation_percentage`` percent of the
    values reported at t so far (``floor(n * p / 100)`` trials)."""

    name = "truncation"

    def __init__(
        self,
        *,
        truncation_percentage: float = 20.0,
        evaluation_interval: int = 1,
        delay_evaluation: int = 0,
    ) -> None:
        super().__init__(evaluation_interval=evaluation_interval, delay_evaluation=delay_evaluation)
        p = truncation_percentage
        if isinstance(p, bool) or not isinstance(p, (int, float)):
            raise TypeError(f"truncation_percentage must be a number, but got truncation_percentage={p!r}")
        if not (0 < p < 100):
            raise ValueError(f"truncation_percentage must be in (0, 100), but got truncation_percentage={p!r}")
        self.truncation_percentage = p

    def params(self) -> dict:
        return {**super().params(), "truncation_percentage": self.truncation_percentage}

    def _judge(self, trial: int, epoch: int, value: float) -> tuple[bool, Reason]:
        scores = self.at[epoch]
        n = len(scores)
        cut = math.floor(n * self.truncation_percentage / 100.0)
        rank = scores.rank(self.direction.score(value), trial)
        stop = rank > n - cut
        cutoff = self.direction.sign * scores.kth_best(n - cut)[0] if cut else None
        return stop, Reason("truncation", cutoff=cutoff, compared=n, rank=rank, detail=f"lowest {cut} of {n} stop")
