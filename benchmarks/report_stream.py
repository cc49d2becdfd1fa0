"""A report stream recorded from a policy, and its timed replays through halving's policies.

``concurrency`` trials run at once; at every step one of them, picked at random,
reports its next epoch (its value read from its synthetic curve); when the
policy ends a trial (stop, or R reached) a new one takes its place. The stream
depends on the decisions, so it is recorded once by driving a policy through that
loop, as flat lists; then it is replayed with the clock running. A replay must take
the recording's decisions (the indices of the reports that ended a trial are
compared) for its rate to be that of the same stream.
"""

from __future__ import annotations

from typing import Callable, Iterator

import numpy as np

import policies
from policies import DONE, WAIT, Action

from .curve_bank import CurveBank
from .timing import Lap, clock, lap

__all__ = ["Stream", "record", "replay_halving", "replay_nothing"]


class Stream:
    """A recorded report stream, as flat Python lists (what the timed loops iterate)."""

    def __init__(self, n: int) -> None:
        self.trial = [0] * n
        self.epoch = [0] * n
        self.value = [0.0] * n
        self.admit = [0] * n  # policy.next() calls made just before this report
        self.ends: list[int] = []  # indices of the reports that ended a trial (not CONTINUE)
        self.n_trials = 0
        self.n_next = 0
        self.n_wait = 0
        self.n_decisions = 0

    def __len__(self) -> int:
        return len(self.trial)

    def rows(self) -> Iterator[tuple[int, int, int, float, int]]:
        return zip(range(len(self.trial)), self.trial, self.epoch, self.value, self.admit)


class _Loop:
    """The asynchronous loop a stream is recorded from: running slots, and refilling them."""

    def __init__(self, policy: policies.Policy, concurrency: int, bank: CurveBank, s: Stream) -> None:
        self.policy, self.bank, self.s = policy, bank, s
        self.trained: dict[int, int] = {}
        self.active: list[list] = []  # [trial, next epoch, granted epoch, curve row]
        self.idle, self.pending = concurrency, 0

    def refill(self) -> None:
        while self.idle:
            a = self.policy.next()
            self.pending += 1
            self.s.n_next += 1
            if a is WAIT or a is DONE:
                self.s.n_wait += 1
                return
            if a.new:
                self.s.n_trials += 1
            self.active.append([a.trial, self.trained.get(a.trial, 0) + 1, a.until, self.bank.row(a.trial)])
            self.idle -= 1

    def step(self, i: int, pick: float) -> None:
        if not self.active:
            raise RuntimeError(f"{self.policy!r} ran out of work after {i} reports")
        j = int(pick * len(self.active))
        slot = self.active[j]
        trial, epoch, _, row = slot
        s = self.s
        s.trial[i], s.epoch[i], s.value[i], s.admit[i] = trial, epoch, row[epoch - 1], self.pending
        self.pending = 0
        out = self.policy.report(trial, epoch, row[epoch - 1])
        self.trained[trial] = epoch
        slot[1] = epoch + 1
        if not out:
            return
        s.n_decisions += len(out)
        if out[0].action is Action.CONTINUE:
            slot[2] = out[0].until
        else:
            s.ends.append(i)
            self.active[j] = self.active[-1]
            self.active.pop()
            self.idle += 1
        if self.idle:
            self.refill()


def record(policy: policies.Policy, n_reports: int, concurrency: int, bank: CurveBank, seed: int) -> Stream:
    """Drive ``policy`` through the loop above for ``n_reports`` reports and record what it was fed."""
    policy.start(n_trials=n_reports + concurrency, max_epochs=bank.max_epochs, mode="max")
    picks = np.random.default_rng([seed, 1]).random(n_reports).tolist()
    s = Stream(n_reports)
    loop = _Loop(policy, concurrency, bank, s)
    loop.refill()
    for i in range(n_reports):
        loop.step(i, picks[i])
    return s


def replay_halving(make_policy: Callable[[], policies.Policy], s: Stream, n_trials: int,
                   max_epochs: int) -> tuple[Lap, list[int]]:
    """Feed ``s`` to a fresh policy: the time of the loop of ``next``/``report`` calls, and the ends."""
    policy = make_policy()
    policy.start(n_trials=n_trials, max_epochs=max_epochs, mode="max")
    nxt, report, CONTINUE = policy.next, policy.report, Action.CONTINUE
    ends: list[int] = []
    push = ends.append
    rows = s.rows()
    t0 = clock()
    for i, trial, epoch, value, admit in rows:
        while admit:
            nxt()
            admit -= 1
        out = report(trial, epoch, value)
        if out and out[0].action is not CONTINUE:
            push(i)
    return lap(t0), ends


def replay_nothing(s: Stream) -> Lap:
    """The replay loop with calls that do nothing: the share of the loop itself in the rates."""

    def nxt() -> None:
        return None

    def report(trial: int, epoch: int, value: float) -> tuple:
        return ()

    ends: list[int] = []
    push = ends.append
    rows = s.rows()
    t0 = clock()
    for i, trial, epoch, value, admit in rows:
        while admit:
            nxt()
            admit -= 1
        out = report(trial, epoch, value)
        if out and out[0] is not None:
            push(i)
    return lap(t0)
