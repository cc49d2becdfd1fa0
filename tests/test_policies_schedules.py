"""Schedules of every policy, computed by hand from the papers, as tables.

References: successive halving (Jamieson & Talwalkar 2016), Hyperband (Li et al.
2018, Table 1), ASHA (Li et al. 2020, Algorithm 2), ASHA as a stopping rule (Ray
Tune's ``ASHAScheduler``), the median stopping rule (Golovin et al. 2017, Vizier),
bandit and truncation selection (Azure ML HyperDrive docs).

Every expected value below was worked out by hand; the comments show the work.
"""

from __future__ import annotations

import hashlib
import math
import re
from pathlib import Path

import numpy as np
import pytest

import halving
import policies as P
from halving.synthetic import synthetic_curves
from policies import Action

CONTINUE, PAUSE, STOP, COMPLETE = Action.CONTINUE, Action.PAUSE, Action.STOP, Action.COMPLETE


# -- drivers -------------------------------------------------------------------


def serial(policy: P.Policy, curves, *, mode: str = "max") -> tuple[list[P.Assignment], list[P.Decision]]:
    """Drive ``policy`` by hand with one worker; return its assignments and decisions."""
    curves = np.asarray(curves, dtype=float)
    n, R = curves.shape
    policy.start(n_trials=n, max_epochs=R, mode=mode)
    trained: dict[int, int] = {}
    assignments: list[P.Assignment] = []
    decisions: list[P.Decision] = []
    while True:
        a = policy.next()
        if a is P.DONE:
            break
        assert a is not P.WAIT, "one worker and nothing running: the policy must not wait"
        assignments.append(a)
        trial, until = a.trial, a.until
        while True:
            out = ()
            for epoch in range(trained.get(trial, 0) + 1, until + 1):
                assert not out, "a decision came before the granted epoch"
                out = policy.report(trial, epoch, float(curves[trial, epoch - 1]))
                trained[trial] = epoch
            assert out and out[0].trial == trial and out[0].epoch == until
            decisions.extend(out)
            if out[0].action is CONTINUE:
                until = out[0].until
                continue
            break
    decisions.extend(policy.finish())
    return assignments, decisions


def lockstep(policy: P.Policy, curves, *, mode: str = "max") -> list[P.Decision]:
    """Drive a policy that never pauses: start every trial, then report epoch by
    epoch, trials in id order within an epoch (what the engine does when there
    are at least as many workers as trials and every epoch costs the same)."""
    curves = np.asarray(curves, dtype=float)
    n, R = curves.shape
    policy.start(n_trials=n, max_epochs=R, mode=mode)
    alive = []
    while isinstance(a := policy.next(), P.Assignment):
        assert a.new
        alive.append(a.trial)
    assert a is P.WAIT and alive == list(range(n))
    decisions: list[P.Decision] = []
    for epoch in range(1, R + 1):
        for trial in list(alive):
            out = policy.report(trial, epoch, float(curves[trial, epoch - 1]))
            decisions.extend(out)
            if out and out[0].action in (STOP, COMPLETE):
                alive.remove(trial)
    assert not alive and policy.next() is P.DONE
    return decisions


def stops(decisions) -> dict[int, int]:
    """trial -> the epoch it was stopped at."""
    return {d.trial: d.epoch for d in decisions if d.action is STOP}


def completed(decisions) -> set[int]:
    return {d.trial for d in decisions if d.action is COMPLETE}


def reached(result, epoch: int) -> set[int]:
    """Trials that trained epoch ``epoch`` in a simulation."""
    t = result.table()
    trials = np.asarray(t.column("trial"))
    epochs = np.asarray(t.column("epoch"))
    return set(trials[epochs == epoch].tolist())


def stopped_per_rung(decisions) -> dict[int, frozenset[int]]:
    out: dict[int, set[int]] = {}
    for d in decisions:
        if d.action is STOP:
            out.setdefault(d.reason.rung, set()).add(d.trial)
    return {k: frozenset(v) for k, v in out.items()}


def ranked_curves(quality, R: int) -> np.ndarray:
    """Increasing curves whose order at every epoch is the order of ``quality``."""
    q = np.asarray(quality, dtype=float)
    return (q[:, None] + 1.0) * np.arange(1, R + 1)[None, :] / R


# -- rung levels and Hyperband brackets ----------------------------------------


@pytest.mark.parametrize(
    "min_epochs, max_epochs, eta, expected",
    [
        (1, 81, 3, [1, 3, 9, 27, 81]),
        (1, 27, 3, [1, 3, 9, 27]),
        (3, 27, 3, [3, 9, 27]),
        (1, 10, 3, [1, 3, 9, 10]),  # R is always the last level, even off the geometric grid
        (2, 10, 3, [2, 6, 10]),
        (4, 27, 3, [4, 12, 27]),
        (1, 16, 2, [1, 2, 4, 8, 16]),
        (1, 10, 2, [1, 2, 4, 8, 10]),
        (1, 16, 4, [1, 4, 16]),
        (1, 2, 3, [1, 2]),
        (1, 1, 3, [1]),
        (5, 5, 2, [5]),
    ],
)
def test_rung_levels(min_epochs, max_epochs, eta, expected):
    assert P.rung_levels(min_epochs, max_epochs, eta) == expected


# (s, n_s, levels): n_s = ceil((s_max+1)/(s+1) * eta**s), r_s = R * eta**-s (floored).
@pytest.mark.parametrize(
    "R, eta, min_epochs, expected",
    [
        # Li et al. 2018, Table 1: 81@1, 34@3, 15@9, 8@27, 5@81.
        (81, 3, 1, [(4, 81, [1, 3, 9, 27, 81]), (3, 34, [3, 9, 27, 81]), (2, 15, [9, 27, 81]), (1, 8, [27, 81]), (0, 5, [81])]),
        # s_max = 3: ceil(4/4*27)=27, ceil(4/3*9)=12, ceil(4/2*3)=6, 4.
        (27, 3, 1, [(3, 27, [1, 3, 9, 27]), (2, 12, [3, 9, 27]), (1, 6, [9, 27]), (0, 4, [27])]),
        # s_max = 2 (9 <= 10 < 27): ceil(3/3*9)=9, ceil(3/2*3)=5, 3; r = 10//9, 10//3, 10.
        (10, 3, 1, [(2, 9, [1, 3, 10]), (1, 5, [3, 10]), (0, 3, [10])]),
        # min_epochs 3 caps s_max at 3 (3*27 = 81).
        (81, 3, 3, [(3, 27, [3, 9, 27, 81]), (2, 12, [9, 27, 81]), (1, 6, [27, 81]), (0, 4, [81])]),
        # eta 2, R 16: s_max = 4: 16, ceil(5/4*8)=10, ceil(5/3*4)=7, ceil(5/2*2)=5, 5.
        (16, 2, 1, [(4, 16, [1, 2, 4, 8, 16]), (3, 10, [2, 4, 8, 16]), (2, 7, [4, 8, 16]), (1, 5, [8, 16]), (0, 5, [16])]),
        # eta 2, R 8: s_max = 3: 8, ceil(4/3*4)=6, 4, 4.
        (8, 2, 1, [(3, 8, [1, 2, 4, 8]), (2, 6, [2, 4, 8]), (1, 4, [4, 8]), (0, 4, [8])]),
        # eta 2, R 10: s_max = 3 (8 <= 10): levels 10//8, 10//4, 10//2, 10.
        (10, 2, 1, [(3, 8, [1, 2, 5, 10]), (2, 6, [2, 5, 10]), (1, 4, [5, 10]), (0, 4, [10])]),
        (1, 3, 1, [(0, 1, [1])]),
        (2, 3, 1, [(0, 1, [2])]),
    ],
)
def test_hyperband_brackets(R, eta, min_epochs, expected):
    assert P.hyperband_brackets(R, eta, min_epochs) == expected


# -- synchronous successive halving --------------------------------------------


# n_{k+1} = max(1, floor(n_k / eta)); epochs = sum_k n_k * (r_k - r_{k-1}).
SH_TABLE = [
    # n, eta, R, min_epochs, levels, trials per level, total epochs
    (81, 3, 27, 1, [1, 3, 9, 27], [81, 27, 9, 3], 81 + 27 * 2 + 9 * 6 + 3 * 18),  # 243
    (10, 3, 9, 1, [1, 3, 9], [10, 3, 1], 10 + 3 * 2 + 1 * 6),  # 22
    (9, 3, 10, 1, [1, 3, 9, 10], [9, 3, 1, 1], 9 + 3 * 2 + 1 * 6 + 1 * 1),  # 22
    (27, 3, 27, 3, [3, 9, 27], [27, 9, 3], 27 * 3 + 9 * 6 + 3 * 18),  # 189
    (5, 2, 8, 1, [1, 2, 4, 8], [5, 2, 1, 1], 5 + 2 * 1 + 1 * 2 + 1 * 4),  # 13
    (7, 2, 4, 1, [1, 2, 4], [7, 3, 1], 7 + 3 * 1 + 1 * 2),  # 12
    (4, 4, 16, 1, [1, 4, 16], [4, 1, 1], 4 + 1 * 3 + 1 * 12),  # 19
    # floor(n/eta) = 0: the max(1, .) rule keeps one trial.
    (2, 3, 9, 1, [1, 3, 9], [2, 1, 1], 2 + 1 * 2 + 1 * 6),  # 10
    (3, 3, 9, 1, [1, 3, 9], [3, 1, 1], 3 + 1 * 2 + 1 * 6),  # 11
    (1, 2, 8, 1, [1, 2, 4, 8], [1, 1, 1, 1], 8),
    (8, 2, 1, 1, [1], [8], 8),  # R = 1: one rung, every trial completes
]


@pytest.mark.parametrize("workers", [1, 3, 100])
@pytest.mark.parametrize("n, eta, R, min_epochs, levels, counts, epochs", SH_TABLE)
def test_sha_schedule(n, eta, R, min_epochs, levels, counts, epochs, workers):
    quality = np.random.default_rng(n * 100 + R).permutation(n)
    curves = ranked_curves(quality, R)
    result = halving.simulate(curves, policy=P.SuccessiveHalving(eta, min_epochs), workers=workers)
    assert result.epochs_used == epochs
    assert result.table().num_rows == epochs
    best_first = [int(t) for t in np.argsort(-quality, kind="stable")]
    for level, count in zip(levels, counts):
        # The curves keep their order, so rung k holds exactly the top n_k by quality.
        assert reached(result, level) == set(best_first[:count]), f"level {level}"
    assert result.best_trial == best_first[0]
    assert completed(result.decisions) == set(best_first[: counts[-1]])
    assert result.stop_reason == "done"


# 9 trials, eta 3, R 9 (levels 1, 3, 9) with curves that cross between rungs.
#   epoch 1: t3 .90 > t1 .80 > t5 .70 > t6 .60 > t0 .50 > t8 .40 > t2 .30 > t7 .20 > t4 .10
#            top floor(9/3) = 3 go on: {3, 1, 5}; cutoff .70 (the 3rd best)
#   epoch 3: t5 .95 > t1 .85 > t3 .83: top floor(3/3) = 1 goes on: {5}; cutoff .95
#   epoch 9: t5 .97 completes and is the best of all trials at R.
SH_E1 = [0.50, 0.80, 0.30, 0.90, 0.10, 0.70, 0.60, 0.20, 0.40]
SH_E3 = [0.55, 0.85, 0.35, 0.83, 0.15, 0.95, 0.65, 0.25, 0.45]
SH_E9 = [0.60, 0.90, 0.40, 0.88, 0.20, 0.97, 0.70, 0.30, 0.50]


def sh_curves() -> np.ndarray:
    return np.array([np.interp(np.arange(1, 10), [1, 3, 9], [a, b, c]) for a, b, c in zip(SH_E1, SH_E3, SH_E9)])


@pytest.mark.parametrize("workers", [1, 3, 100])
def test_sha_hand_table_same_decisions_for_any_workers(workers):
    result = halving.simulate(sh_curves(), policy="sha", eta=3, workers=workers)
    assert stopped_per_rung(result.decisions) == {0: frozenset({0, 2, 4, 6, 7, 8}), 1: frozenset({1, 3})}
    assert reached(result, 3) == {3, 1, 5}
    assert reached(result, 9) == {5}
    assert result.best_trial == 5 and result.best_value == pytest.approx(0.97)
    assert int(np.argmax(SH_E9)) == 5  # the true best at R
    assert result.epochs_used == 9 + 3 * 2 + 1 * 6


def test_sha_reasons_rung0_of_9_trials():
    _, decisions = serial(P.SuccessiveHalving(eta=3), sh_curves())
    rung0 = [d for d in decisions if d.reason.rule == "top-k" and d.reason.rung == 0]
    assert len(rung0) == 9
    # Ranks 1..9 in order of value; cutoff is the 3rd best value; all compared with all 9.
    expected_ranks = {3: 1, 1: 2, 5: 3, 6: 4, 0: 5, 8: 6, 2: 7, 7: 8, 4: 9}
    assert {d.trial: d.reason.rank for d in rung0} == expected_ranks
    for d in rung0:
        assert d.reason.cutoff == pytest.approx(0.70)
        assert d.reason.compared == 9
        assert d.epoch == 1
        assert d.action is (PAUSE if d.reason.rank <= 3 else STOP)
    # The first 8 reporters waited for the rung; the 9th closed it and its own decision comes first.
    waiting = [d for d in decisions if d.reason.rule == "waiting-for-rung"]
    assert [d.trial for d in waiting if d.reason.rung == 0] == list(range(8))
    closing = decisions.index(rung0[0])
    assert rung0[0].trial == 8 and decisions[closing - 1].trial == 7
    rung1 = {d.trial: d.reason for d in decisions if d.reason.rule == "top-k" and d.reason.rung == 1}
    assert {t: r.rank for t, r in rung1.items()} == {5: 1, 1: 2, 3: 3}
    assert all(r.cutoff == pytest.approx(0.95) and r.compared == 3 for r in rung1.values())


def test_sha_assignments_serial():
    # One worker: 9 new trials at 1 epoch, then promotions in rank order (3, 1, 5) to
    # epoch 3, then the rung-1 winner (5) to epoch 9.
    assignments, _ = serial(P.SuccessiveHalving(eta=3), sh_curves())
    assert [(a.trial, a.until, a.new) for a in assignments] == (
        [(t, 1, True) for t in range(9)] + [(3, 3, False), (1, 3, False), (5, 3, False), (5, 9, False)]
    )


# -- ASHA with promotion (Li et al. 2020, Algorithm 2) ----------------------------


def test_asha_promotion_sequence_by_hand():
    # 9 trials, eta 3, R 9 (rungs at 1 and 3; 9 completes). One worker.
    # get_job: for k from the highest rung down, promote the best not-yet-promoted
    # trial among the top floor(|rung k| / eta) of rung k; else start a new trial.
    e1 = [0.5, 0.8, 0.3, 0.9, 0.1, 0.7, 0.6, 0.2, 0.4]
    e3 = {1: 0.85, 3: 0.95, 5: 0.99}
    curves = np.zeros((9, 9))
    curves[:, 0] = e1
    curves[:, 1:3] = 0.0
    for t, v in e3.items():
        curves[t, 1:3] = v
    curves[:, 3:] = 1.0
    assignments, decisions = serial(P.ASHA(eta=3), curves)
    expected = [
        (0, 1, True),  # rung 0 = {0}: floor(1/3) = 0 promotable -> new trial
        (1, 1, True),  # |rung 0| = 2: none promotable
        (2, 1, True),  # |rung 0| = 3 after this one
        (1, 3, False),  # floor(3/3) = 1: top-1 of {.5, .8, .3} is t1, not yet promoted
        (3, 1, True),  # rung 1 = {1}: 0 promotable; rung 0 top-1 is t1 (promoted) -> new
        (3, 3, False),  # rung 0 = {.9, .8, .5, .3}: top-1 is t3
        (4, 1, True),  # rung 1 = {1, 3}: 0; rung 0 (5 entries) top-1 = {t3}: promoted -> new
        (5, 1, True),  # rung 0 has 5: top-1 {t3}
        (6, 1, True),  # rung 0 has 6: top-2 {t3, t1}, both promoted (t5 .7 is 3rd)
        (7, 1, True),  # rung 0 has 7: top-2 {t3, t1}
        (8, 1, True),  # rung 0 has 8: top-2 {t3, t1}
        (5, 3, False),  # rung 0 has 9: top-3 {t3, t1, t5}: t5 not yet promoted
        (5, 9, False),  # rung 1 = {.85, .95, .99}: top-1 is t5 -> rung 2 = R
    ]
    assert [(a.trial, a.until, a.new) for a in assignments] == expected
    # Then: rung 1 top-1 {t5} promoted; rung 0 top-3 all promoted; no trials left -> DONE.

    # Reasons of promotions: rung, cutoff (the quota-th best), compared, rank.
    promos = [a.reason for a in assignments if not a.new]
    assert [(r.rule, r.rung, r.compared, r.rank) for r in promos] == [
        ("top-k", 0, 3, 1),
        ("top-k", 0, 4, 1),
        ("top-k", 0, 9, 3),
        ("top-k", 1, 3, 1),
    ]
    assert [r.cutoff for r in promos] == pytest.approx([0.8, 0.9, 0.7, 0.99])

    assert completed(decisions) == {5}
    # finish(): every trial left waiting stops as not promoted.
    final = [d for d in decisions if d.reason.rule == "not-promoted"]
    assert {d.trial: (d.epoch, d.reason.rung) for d in final} == {
        0: (1, 0), 2: (1, 0), 4: (1, 0), 6: (1, 0), 7: (1, 0), 8: (1, 0), 1: (3, 1), 3: (3, 1)
    }
    assert all(d.action is STOP for d in final)
    # Every trial that reached a rung paused there (nothing stops before the end in ASHA).
    assert [d.trial for d in decisions if d.action is PAUSE] == [0, 1, 2, 1, 3, 3, 4, 5, 6, 7, 8, 5]


def test_asha_simulated_one_worker_matches_hand_count():
    # The same schedule through the engine: 9 + 3*2 + 6 epochs.
    e1 = [0.5, 0.8, 0.3, 0.9, 0.1, 0.7, 0.6, 0.2, 0.4]
    curves = np.tile(np.array(e1)[:, None], (1, 9))
    curves[5, 1:] = 0.99  # t5 wins rung 1
    result = halving.simulate(curves, policy="asha", eta=3, workers=1)
    assert reached(result, 3) == {1, 3, 5} and reached(result, 9) == {5}
    assert result.epochs_used == 9 + 3 * 2 + 6
    assert result.best_trial == 5


# -- ASHA as a stopping rule (Ray Tune's ASHAScheduler) ----------------------------


def test_asha_stop_hand_table():
    # eta 3, R 9 (rungs at 1 and 3). One worker: trial 0 runs to the end, then trial 1 ...
    # At a rung: continue iff value >= percentile(previous values at the rung, (1 - 1/3) * 100),
    # linear interpolation; the first at a rung continues. The value is recorded either way.
    e1 = [5, 3, 7, 4, 5, 1]
    e3 = {0: 10, 2: 8, 4: 12}
    curves = np.zeros((6, 9))
    curves[:, 0] = e1
    for t, v in e3.items():
        curves[t, 1:] = v
    _, decisions = serial(P.ASHAStop(eta=3), curves)
    got = [(d.trial, d.epoch, d.action, d.reason.cutoff, d.reason.compared, d.reason.rank) for d in decisions]
    third = 1 / 3
    expected = [
        (0, 1, CONTINUE, None, 0, 1),  # first at rung 0
        (0, 3, CONTINUE, None, 0, 1),  # first at rung 1
        (0, 9, COMPLETE, None, None, None),
        (1, 1, STOP, 5.0, 1, 2),  # [5] -> 5; 3 < 5
        (2, 1, CONTINUE, 3 + 2 * (2 * third), 2, 1),  # [3, 5] at pos 2/3 -> 4.333; 7 >= 4.333
        (2, 3, STOP, 10.0, 1, 2),  # [10] -> 10; 8 < 10
        (3, 1, STOP, 5 + 2 * third, 3, 3),  # [3, 5, 7] at pos 4/3 -> 5.667; 4 < 5.667
        (4, 1, CONTINUE, 5.0, 4, 2),  # [3, 4, 5, 7] at pos 2 -> 5; 5 >= 5 (a tie continues)
        (4, 3, CONTINUE, 8 + 2 * (2 * third), 2, 1),  # [8, 10] at pos 2/3 -> 9.333; 12 continues
        (4, 9, COMPLETE, None, None, None),
        (5, 1, STOP, 5.0, 5, 6),  # [3, 4, 5, 5, 7] at pos 8/3 -> 5; 1 < 5
    ]
    assert len(got) == len(expected)
    for g, e in zip(got, expected):
        assert g[:3] == e[:3]
        assert (g[3] is None) == (e[3] is None) and (g[3] is None or g[3] == pytest.approx(e[3])), (g, e)
        if e[2] is not COMPLETE:
            assert g[4:] == e[4:], (g, e)
    # Ray Tune computes the cutoff with numpy's percentile: the same numbers.
    assert 3 + 4 / 3 == pytest.approx(np.percentile([5, 3], (1 - 1 / 3) * 100))
    assert 5 + 2 / 3 == pytest.approx(np.percentile([5, 3, 7], (1 - 1 / 3) * 100))
    assert 5.0 == pytest.approx(np.percentile([5, 3, 7, 4, 5], (1 - 1 / 3) * 100))


# -- Hyperband ------------------------------------------------------------------------


def brackets_of(result) -> dict[int, int]:
    """trial -> s of its bracket, from the reasons of its decisions."""
    out: dict[int, int] = {}
    for d in result.decisions:
        if d.reason.bracket is not None:
            assert out.setdefault(d.trial, d.reason.bracket) == d.reason.bracket
    return out


def test_hyperband_143_trials_is_one_iteration_of_the_paper():
    curves = np.random.default_rng(0).random((143, 81))
    result = halving.simulate(curves, policy=P.Hyperband(eta=3, seed=0), workers=4)
    of = brackets_of(result)
    assert len(of) == 143
    sizes = {s: sum(1 for b in of.values() if b == s) for s in range(5)}
    assert sizes == {4: 81, 3: 34, 2: 15, 1: 8, 0: 5}
    # Inside each bracket, successive halving (Li et al. 2018, Table 1):
    table = {
        4: {1: 81, 3: 27, 9: 9, 27: 3, 81: 1},
        3: {3: 34, 9: 11, 27: 3, 81: 1},
        2: {9: 15, 27: 5, 81: 1},
        1: {27: 8, 81: 2},
        0: {81: 5},
    }
    for s, rungs in table.items():
        members = {t for t, b in of.items() if b == s}
        for level, count in rungs.items():
            assert len(reached(result, level) & members) == count, (s, level)
    # 297 + 276 + 279 + 324 + 405 epochs.
    assert result.epochs_used == (81 + 27 * 2 + 9 * 6 + 3 * 18 + 54) + (34 * 3 + 11 * 6 + 3 * 18 + 54) + (
        15 * 9 + 5 * 18 + 54
    ) + (8 * 27 + 2 * 54) + 5 * 81
    assert result.n_completed == 1 + 1 + 1 + 2 + 5


def test_hyperband_two_iterations():
    # 286 = 2 * 143 trials: each block of 143 is one full iteration, so every n_s doubles.
    curves = np.random.default_rng(1).random((286, 81))
    of = brackets_of(halving.simulate(curves, policy=P.Hyperband(eta=3, seed=3), workers=8))
    assert {s: sum(1 for b in of.values() if b == s) for s in range(5)} == {4: 162, 3: 68, 2: 30, 1: 16, 0: 10}


def test_hyperband_bracket_assignment_is_seeded():
    curves = np.random.default_rng(2).random((143, 81))

    def assignment(seed):
        return brackets_of(halving.simulate(curves, policy=P.Hyperband(seed=seed), workers=2))

    a0, b0, a1 = assignment(0), assignment(0), assignment(1)
    assert a0 == b0
    assert a0 != a1
    # A different seed permutes the same bracket sizes.
    assert sorted(a0.values()) == sorted(a1.values())
    # The name form passes simulate's seed to Hyperband.
    r = halving.simulate(curves, policy="hyperband", seed=1, workers=2)
    assert brackets_of(r) == a1


@pytest.mark.parametrize("inner", ["sha", "asha"])
@pytest.mark.parametrize("workers", [1, 5])
def test_hyperband_inner_finishes(inner, workers):
    curves = np.random.default_rng(4).random((60, 27))
    result = halving.simulate(curves, policy=P.Hyperband(eta=3, inner=inner), workers=workers)
    assert result.stop_reason == "done"
    assert result.n_completed >= 1
    assert set(s.value for s in result.states.values()) <= {"stopped", "completed"}
    assert len(result.states) == 60



def test_a_bracket_is_successive_halving_over_its_own_trials_and_levels():
    # Bracket s=1 of R=9, eta=3: rungs 3 and 9, holding the experiment's trials 4, 7, 2 (in that order).
    sha = P.SuccessiveHalving(3, 3, bracket=P.Bracket(1, (3, 9), (4, 7, 2)))
    sha.start(n_trials=3, max_epochs=9)
    assert [sha.next() for _ in range(3)] == [P.Assignment(t, 3, new=True) for t in (4, 7, 2)]
    assert sha.report(4, 3, 0.5)[0].reason == P.Reason("waiting-for-rung", rung=0, bracket=1, detail="1 of 3 reported")
    sha.report(7, 3, 0.9)
    first, *_ = sha.report(2, 3, 0.1)
    assert (first.trial, first.action, first.reason.bracket) == (2, STOP, 1)
    assert sha.next() == P.Assignment(7, 9, new=False, reason=P.Reason("top-k", 0, 0.9, 3, 1, 1))
    assert sha.params() == {"eta": 3, "min_epochs": 3, "bracket": P.Bracket(1, (3, 9), (4, 7, 2))}
    asha = P.ASHA(3, 1, bracket=P.Bracket(2, (1, 3, 9), (5, 0)))
    asha.start(n_trials=2, max_epochs=9)
    assert asha.levels == [1, 3, 9] and asha.next() == P.Assignment(5, 1, new=True)


def test_hyperband_builds_its_brackets_through_public_arguments():
    hb = P.Hyperband(eta=3, seed=0)
    hb.start(n_trials=143, max_epochs=81)
    spec = P.hyperband_brackets(81, 3)
    assert [(b.bracket.index, len(b.bracket.trials), list(b.bracket.levels)) for b in hb.brackets] == spec
    assert sorted(t for b in hb.brackets for t in b.bracket.trials) == list(range(143))
    assert all(type(b) is P.SuccessiveHalving and b.min_epochs == b.bracket.levels[0] for b in hb.brackets)
    # No private field of another object is set: Hyperband composes, it does not reach in.
    source = (Path(P.__file__).parent / "_hyperband.py").read_text()
    assert not re.search(r"\b(?!self\b)\w+\._\w+\s*=", source)


@pytest.mark.parametrize(
    ("build", "exc", "match"),
    [
        (lambda: P.Bracket(-1, (1, 3), (0,)), ValueError, "index=-1"),
        (lambda: P.Bracket(0, [1, 3], (0,)), TypeError, "levels=[1, 3]"),
        (lambda: P.Bracket(0, (1, 3), ()), TypeError, "trials=()"),
        (lambda: P.Bracket(0, (3, 3), (0,)), ValueError, "levels=(3, 3)"),
        (lambda: P.Bracket(0, (0, 3), (0,)), ValueError, "levels=0"),
        (lambda: P.Bracket(0, (1, 3), (0, 1.5)), TypeError, "trials=1.5"),
        (lambda: P.ASHA(3, 1, bracket=(0, (1, 3), (0,))), TypeError, "bracket=(0,"),
        (lambda: P.ASHA(3, 1, bracket=P.Bracket(0, (3, 9), (0,))), ValueError, "first level 3, but got min_epochs=1"),
    ],
)
def test_bracket_validation(build, exc, match):
    with pytest.raises(exc, match=re.escape(match)):
        build()


@pytest.mark.parametrize(
    ("n_trials", "max_epochs", "match"),
    [(2, 27, "last level must be max_epochs=27"), (3, 9, "bracket's 2 trials, but got n_trials=3")],
)
def test_bracket_must_fit_the_experiment(n_trials, max_epochs, match):
    sha = P.SuccessiveHalving(3, 3, bracket=P.Bracket(1, (3, 9), (4, 7)))
    with pytest.raises(ValueError, match=re.escape(match)):
        sha.start(n_trials=n_trials, max_epochs=max_epochs)


def test_hyperband_refuses_more_trials_than_it_can_assign():
    # trials=None over a 10**24-point grid: a clear error at start, not memory exhausted.
    with pytest.raises(ValueError, match=re.escape("at most 100000000 trials, but got n_trials=" + str(10**24))):
        P.Hyperband().start(n_trials=10**24, max_epochs=9)

# Decisions of halving.simulate under Hyperband, recorded on the code before its brackets were
# built through public constructor arguments: composing them differently must not change one.
# Each row: inner, trials, R, workers, seed, eta, budget, number of decisions, sha256 of them.
HYPERBAND_RECORDED = [
    ("sha", 143, 81, 4, 0, 3, None, 392, "007acf69e6d0d5fb3a4319ffc4e4ca25ca6f5dc5e7b97ace3d01ca3b34d92383"),
    ("sha", 300, 27, 7, 5, 3, None, 790, "d608a3227764fb1be547e633e563fb67031e9b3e11eebb402a2bf82515cff4ab"),
    ("sha", 50, 10, 3, 2, 2, None, 139, "719573f569ea4519eda3c467384a573d8519b02f377f3ae315f59bc76f217b4d"),
    ("sha", 200, 27, 5, 1, 3, 400, 365, "588bc79449a766750d76390bc91674f8a16684bc557d1934b95a668b31ae5ba5"),
    ("asha", 143, 81, 4, 0, 3, None, 359, "9f8e1ec27f08c11343843143998ad40d93707dbb023383900774463f49644b41"),
    ("asha", 300, 27, 7, 5, 3, None, 689, "15d69f05be0d604d5b8ad8e615e29c40f5e38936e7061ece302448682e630a8d"),
    ("asha", 50, 10, 3, 2, 2, None, 121, "60fb46ccd94fece83741bd0ed00e2799691bd335a6d4165d2597588fb01032ad"),
    ("asha", 200, 27, 5, 1, 3, 400, 292, "9957996fc31b45e9ad5a31a5e929b41bed117ac2fefa337edeeeba25954126b5"),
]


def _decisions_digest(decisions) -> str:
    # The reason's fields as they were when the digests were recorded (later fields are appended).
    rows = [(d.trial, d.epoch, d.action.value, tuple(d.reason)[:7], d.until) for d in decisions]
    return hashlib.sha256(repr(rows).encode()).hexdigest()


@pytest.mark.parametrize(("inner", "n", "R", "workers", "seed", "eta", "budget", "count", "digest"),
                         HYPERBAND_RECORDED)
def test_hyperband_decisions_as_recorded(inner, n, R, workers, seed, eta, budget, count, digest):
    curves = synthetic_curves(n, R, seed=seed)
    result = halving.simulate(curves, policy="hyperband", workers=workers, seed=seed, eta=eta, inner=inner,
                              budget=budget)
    assert len(result.decisions) == count
    assert _decisions_digest(result.decisions) == digest

# -- interval rules: median, bandit, truncation --------------------------------------

# Median stopping (Vizier): at an evaluation epoch t, stop when the trial's best value so
# far is strictly worse than the median of the running averages (epochs 1..t) of the
# other trials that reached t; only from epoch `grace` on and with >= min_trials others.
MEDIAN_CURVES = [
    [4, 4, 4, 4, 4],  # t0: running average 4
    [1, 1, 1, 1, 1],  # t1: running average 1
    [5, 1, 1, 1, 1],  # t2: averages 5, 3, 2.33, 2; best so far 5
    [0, 2, 6, 6, 6],  # t3: averages 0, 1, 2.67; best so far 0, 2, 6
    [3, 3, 3, 0, 0],  # t4: averages 3, 3, 3; best 3
]


@pytest.mark.parametrize(
    "min_trials, expected_stops",
    [
        # epoch 1 is before grace 2.
        # epoch 2, averages {t0 4, t1 1, t2 3, t3 1, t4 3}:
        #   t0: 0 others; t1: 1 other; t2: others {4, 1} -> median 2.5, best 5 stays;
        #   t3: others {4, 1, 3} -> median 3, best 2 < 3 STOPS; t4: others {4, 1, 3, 1} -> 2, best 3 stays.
        # epoch 3: t0: 0 others; t1: 1 other; t2: others {4, 1}: 2.5 < 5; t4: others {4, 1, 2.33}: 2.33 <= 3.
        # epoch 4: t0: 0; t1: 1 other; t2: others {4, 1} (avg 2) -> 2.5 <= best 5; t4: others {4, 1, 2} -> 2 <= 3.
        (2, {3: 2}),
        # epoch 2: t1: others {4} -> 4 > 1 STOPS; t2: others {4, 1} -> 2.5 <= 5; t3: {4, 1, 3} -> 3 > 2 STOPS;
        #   t4: {4, 1, 3, 1} -> 2 <= 3.
        # epoch 3 (t0, t2, t4 left; t1, t3 stopped at 2 and did not reach 3):
        #   t2: others {4} -> 4 <= 5; t4: others {4, 2.33} -> 3.17 > 3 STOPS.
        # epoch 4: t2: others {4} -> 4 <= 5.
        (1, {1: 2, 3: 2, 4: 3}),
        # With 4 others required, only t4 at epoch 2 has enough (median 2 <= 3).
        (4, {}),
    ],
)
def test_median_hand_table(min_trials, expected_stops):
    decisions = lockstep(P.MedianStopping(grace=2, min_trials=min_trials), MEDIAN_CURVES)
    assert stops(decisions) == expected_stops
    assert all(d.epoch >= 2 for d in decisions)  # nothing decided before grace
    assert completed(decisions) == set(range(5)) - set(expected_stops)
    sim = halving.simulate(np.array(MEDIAN_CURVES, float), policy="median", grace=2, min_trials=min_trials, workers=5)
    assert stops(sim.decisions) == expected_stops


def test_median_reason():
    decisions = lockstep(P.MedianStopping(grace=2, min_trials=2), MEDIAN_CURVES)
    (d3,) = [d for d in decisions if d.action is STOP]
    assert d3.reason.rule == "median" and d3.reason.cutoff == 3.0 and d3.reason.compared == 3
    t2 = [d for d in decisions if d.trial == 2 and d.epoch == 2][0]
    assert t2.action is CONTINUE and t2.reason.cutoff == 2.5 and t2.reason.compared == 2
    t0 = [d for d in decisions if d.trial == 0 and d.epoch == 2][0]
    assert t0.action is CONTINUE and t0.reason.cutoff is None and t0.reason.compared == 0


BANDIT_MAX = [
    [10.0, 10.0, 10.0],
    [8.5, 9.5, 9.5],
    [8.0, 9.0, 9.0],
]
BANDIT_MIN = [
    [1.00, 1.00, 1.00],
    [1.15, 1.10, 1.10],
    [1.25, 1.20, 1.20],
]


@pytest.mark.parametrize(
    "curves, mode, slack, expected_stops, cutoff_epoch1",
    [
        # max, factor 0.2: cutoff 10 / 1.2 = 8.33: t1 8.5 stays, t2 8.0 stops; epoch 2: 9.5 >= 8.33.
        (BANDIT_MAX, "max", {"slack_factor": 0.2}, {2: 1}, 10 / 1.2),
        # max, amount 1: cutoff 10 - 1 = 9: t1 8.5 and t2 8.0 stop.
        (BANDIT_MAX, "max", {"slack_amount": 1.0}, {1: 1, 2: 1}, 9.0),
        # max, amount 1.6: cutoff 8.4: t1 stays; t2 stops; epoch 2 cutoff 8.4 < 9.5.
        (BANDIT_MAX, "max", {"slack_amount": 1.6}, {2: 1}, 8.4),
        # min, factor 0.2: cutoff 1.0 * 1.2 = 1.2: t1 1.15 stays, t2 1.25 stops; epoch 2: 1.1 <= 1.2.
        (BANDIT_MIN, "min", {"slack_factor": 0.2}, {2: 1}, 1.2),
        # min, amount 0.1: cutoff 1.1: t1 1.15 and t2 1.25 stop.
        (BANDIT_MIN, "min", {"slack_amount": 0.1}, {1: 1, 2: 1}, 1.1),
        # min, amount 0.2: cutoff 1.2: t1 stays, t2 stops.
        (BANDIT_MIN, "min", {"slack_amount": 0.2}, {2: 1}, 1.2),
        # A negative metric with mode max (e.g. negative loss): the relative slack is about
        # |best|, so the best trial is never stopped: best -1.0 -> cutoff -1.2.
        ((-np.array(BANDIT_MIN)).tolist(), "max", {"slack_factor": 0.2}, {2: 1}, -1.2),
    ],
)
def test_bandit_hand_table(curves, mode, slack, expected_stops, cutoff_epoch1):
    decisions = lockstep(P.Bandit(**slack), curves, mode=mode)
    assert stops(decisions) == expected_stops
    assert 0 in completed(decisions)  # the best trial always survives its own slack
    first = [d for d in decisions if d.epoch == 1]
    assert [d.trial for d in first] == [0, 1, 2]
    for d in first:
        assert d.reason.rule == "slack"
        assert d.reason.cutoff == pytest.approx(cutoff_epoch1)
    assert [d.reason.compared for d in first] == [1, 2, 3]
    assert [d.reason.rank for d in first] == [1, 2, 3]


def test_bandit_hyperdrive_doc_example():
    # HyperDrive docs: slack factor 0.2, best AUC 0.8 -> runs below 0.8 / 1.2 = 0.667 are cancelled.
    curves = [[0.8, 0.8], [0.67, 0.67], [0.66, 0.66]]
    decisions = lockstep(P.Bandit(slack_factor=0.2), curves)
    assert stops(decisions) == {2: 1}


# Truncation selection: at an evaluation epoch, among the n values reported at that epoch
# so far (its own included), the lowest floor(n * p / 100) stop.
TRUNC_CURVES = [
    [4, 1, 1, 1],
    [1, 9, 9, 9],
    [3, 5, 5, 5],
    [2, 9, 9, 9],
]


@pytest.mark.parametrize(
    "params, expected_stops",
    [
        # p 50, every epoch:
        # epoch 1: t0: n 1 cut 0; t1: n 2 cut 1, rank 2 > 1 STOPS; t2: n 3 cut 1, rank 2 stays;
        #   t3: n 4 cut 2, values 4 3 2 1 -> rank 3 > 2 STOPS.
        # epoch 2: t0: n 1; t2: n 2 cut 1, rank 1 (5 > 1) stays. epoch 3: t0 n 1; t2 n 2 rank 1 ... t0 never
        #   judged below another because it reports first.
        ({"truncation_percentage": 50}, {1: 1, 3: 1}),
        # p 20: floor(n/5) = 0 for n < 5: nothing stops.
        ({"truncation_percentage": 20}, {}),
        # p 50 from epoch 2 on (delay 2): epoch 2: t0 1 (n 1); t1 9 (n 2, rank 1); t2 5 (n 3, cut 1, rank 2 stays);
        #   t3 9 (n 4, cut 2: 9(t1) 9(t3) 5 1 -> rank 2 stays).
        # epoch 3: the same values: t0 n1; t1 rank 1/2; t2 5 rank 2 of 3 stays; t3 rank 2 of 4 stays.
        ({"truncation_percentage": 50, "delay_evaluation": 2}, {}),
        # p 75 from epoch 2: epoch 2: t0 n1 cut 0; t1 n2 cut 1: 9 > 1 rank 1 stays; t2 n3 cut 2: rank 2 > 1 STOPS;
        #   t3 n4 cut 3: 9 (ties with t1, later id ranks below) rank 2 > 1 STOPS.
        # epoch 3: t0 n1 stays; t1 n2 cut 1 rank 1 stays.
        ({"truncation_percentage": 75, "delay_evaluation": 2}, {2: 2, 3: 2}),
    ],
)
def test_truncation_hand_table(params, expected_stops):
    decisions = lockstep(P.TruncationSelection(**params), TRUNC_CURVES)
    assert stops(decisions) == expected_stops
    sim = halving.simulate(np.array(TRUNC_CURVES, float), policy="truncation", workers=4, **params)
    assert stops(sim.decisions) == expected_stops


def test_truncation_reason():
    decisions = lockstep(P.TruncationSelection(truncation_percentage=50), TRUNC_CURVES)
    by = {(d.trial, d.epoch): d.reason for d in decisions}
    assert (by[1, 1].cutoff, by[1, 1].compared, by[1, 1].rank) == (4.0, 2, 2)
    assert (by[3, 1].cutoff, by[3, 1].compared, by[3, 1].rank) == (3.0, 4, 3)
    assert (by[2, 1].cutoff, by[2, 1].compared, by[2, 1].rank) == (3.0, 3, 2)
    assert by[0, 1].cutoff is None and by[0, 1].compared == 1


# HyperDrive: "the policy applies every multiple of evaluation_interval that is >=
# delay_evaluation"; grace (median only) also bounds it from below; R completes.
POINTS = [
    # interval, delay, grace, R, evaluation epochs before R
    (1, 0, 0, 5, [1, 2, 3, 4]),
    (2, 0, 0, 7, [2, 4, 6]),
    (2, 3, 0, 7, [4, 6]),
    (3, 3, 0, 10, [3, 6, 9]),
    (3, 4, 0, 10, [6, 9]),
    (1, 3, 0, 5, [3, 4]),
    (4, 0, 0, 8, [4]),  # 8 = R completes
    (5, 0, 0, 5, []),
    (1, 6, 0, 5, []),  # delay past R: trained straight to R
]
POINTS_GRACE = [
    (3, 0, 4, 10, [6, 9]),  # grace 4: multiples of 3 that are >= 4
    (1, 2, 3, 6, [3, 4, 5]),
    (2, 0, 1, 5, [2, 4]),
]


@pytest.mark.parametrize(
    "name, interval, delay, grace, R, points",
    [(name, *case) for name in ("median", "bandit", "truncation") for case in POINTS]
    + [("median", *case) for case in POINTS_GRACE],
)
def test_evaluation_points(name, interval, delay, grace, R, points):
    if name == "median":
        policy = P.MedianStopping(grace=grace, min_trials=1, evaluation_interval=interval, delay_evaluation=delay)
    elif name == "bandit":
        policy = P.Bandit(slack_amount=1.0, evaluation_interval=interval, delay_evaluation=delay)
    else:
        policy = P.TruncationSelection(truncation_percentage=10, evaluation_interval=interval, delay_evaluation=delay)
    curves = np.ones((3, R))  # equal values: nothing stops
    assignments, decisions = serial(policy, curves)
    assert [a.until for a in assignments] == [points[0] if points else R] * 3
    for t in range(3):
        mine = [d for d in decisions if d.trial == t]
        assert [d.epoch for d in mine] == points + [R]
        assert [d.action for d in mine] == [CONTINUE] * len(points) + [COMPLETE]
        assert [d.until for d in mine[:-1]] == (points + [R])[1:]


# -- no pruning -----------------------------------------------------------------------


@pytest.mark.parametrize("n, R, workers", [(1, 1, 1), (4, 3, 2), (10, 7, 3), (5, 9, 8)])
def test_no_pruning_trains_everything(n, R, workers):
    curves = np.random.default_rng(n + R).random((n, R))
    result = halving.simulate(curves, policy="none", workers=workers)
    assert result.epochs_used == n * R
    assert completed(result.decisions) == set(range(n)) and not stops(result.decisions)
    assert result.best_trial == int(np.argmax(curves[:, -1]))
    assert [d.epoch for d in result.decisions] == [R] * n


# -- direction --------------------------------------------------------------------------

ALL = ["asha", "asha-stop", "sha", "hyperband", "median", "bandit", "truncation", "none"]


def key(d: P.Decision, sign: float = 1.0):
    r = d.reason
    cutoff = None if r.cutoff is None else sign * r.cutoff
    return (d.trial, d.epoch, d.action, d.until, r.rule, r.rung, r.compared, r.rank, r.bracket, cutoff)


@pytest.mark.parametrize("name", ALL)
@pytest.mark.parametrize("kind", ["positive", "mixed-sign", "ties"])
def test_min_on_negated_curves_equals_max(name, kind):
    rng = np.random.default_rng(7)
    if kind == "positive":
        curves = rng.random((40, 9)) + 0.1
    elif kind == "mixed-sign":
        curves = rng.normal(size=(40, 9))
    else:
        curves = rng.integers(-2, 3, size=(40, 9)).astype(float)
    a = halving.simulate(curves, policy=name, mode="max", workers=3)
    b = halving.simulate(-curves, policy=name, mode="min", workers=3)
    assert [key(d) for d in a.decisions] == [key(d, -1.0) for d in b.decisions]
    assert a.best_trial == b.best_trial and a.epochs_used == b.epochs_used
    if a.best_value is not None:
        assert b.best_value == -a.best_value


# -- parameter validation -------------------------------------------------------------


def _start(policy, **kw):
    args = {"n_trials": 3, "max_epochs": 9, "mode": "max", **kw}
    policy.start(**args)


def _start_twice():
    p = P.ASHA()
    _start(p)
    _start(p)


@pytest.mark.parametrize(
    "build, exc, match",
    [
        (lambda: P.ASHA(eta=1), ValueError, "eta=1"),
        (lambda: P.SuccessiveHalving(eta=0), ValueError, "eta=0"),
        (lambda: P.Hyperband(eta=-3), ValueError, "eta=-3"),
        (lambda: P.ASHAStop(eta=2.5), TypeError, "eta=2.5"),
        (lambda: P.ASHA(eta=3.0), TypeError, "eta=3.0"),
        (lambda: P.ASHA(eta="3"), TypeError, "eta='3'"),
        (lambda: P.ASHA(eta=True), TypeError, "eta=True"),
        (lambda: P.ASHA(min_epochs=0), ValueError, "min_epochs=0"),
        (lambda: P.SuccessiveHalving(min_epochs=-1), ValueError, "min_epochs=-1"),
        (lambda: P.ASHA(min_epochs=1.0), TypeError, "min_epochs=1.0"),
        (lambda: P.ASHA(min_epochs=10, max_epochs=9), ValueError, "min_epochs=10"),
        (lambda: P.Hyperband(min_epochs=4, max_epochs=3), ValueError, "min_epochs=4"),
        (lambda: _start(P.SuccessiveHalving(min_epochs=10)), ValueError, "min_epochs=10"),
        (lambda: _start(P.ASHA(max_epochs=27)), ValueError, "max_epochs=27"),
        (lambda: P.ASHA(max_epochs=0), ValueError, "max_epochs=0"),
        (lambda: P.TruncationSelection(truncation_percentage=0), ValueError, "truncation_percentage=0"),
        (lambda: P.TruncationSelection(truncation_percentage=100), ValueError, "truncation_percentage=100"),
        (lambda: P.TruncationSelection(truncation_percentage=-1), ValueError, "truncation_percentage=-1"),
        (lambda: P.TruncationSelection(truncation_percentage="20"), TypeError, "truncation_percentage='20'"),
        (lambda: P.Bandit(), ValueError, "slack_factor=None, slack_amount=None"),
        (lambda: P.Bandit(slack_factor=0.1, slack_amount=0.2), ValueError, "slack_factor=0.1, slack_amount=0.2"),
        (lambda: P.make("bandit", slack_factor=0.1, slack_amount=0.2), ValueError, "slack_amount=0.2"),
        (lambda: P.Bandit(slack_factor=0), ValueError, "slack_factor=0"),
        (lambda: P.Bandit(slack_factor=-0.1), ValueError, "slack_factor=-0.1"),
        (lambda: P.Bandit(slack_amount=0.0), ValueError, "slack_amount=0.0"),
        (lambda: P.Bandit(slack_amount=-1), ValueError, "slack_amount=-1"),
        (lambda: P.Bandit(slack_amount=math.inf), ValueError, "slack_amount=inf"),
        (lambda: P.Bandit(slack_factor=math.nan), ValueError, "slack_factor=nan"),
        (lambda: P.Bandit(slack_factor="0.1"), TypeError, "slack_factor='0.1'"),
        (lambda: P.MedianStopping(evaluation_interval=0), ValueError, "evaluation_interval=0"),
        (lambda: P.Bandit(slack_factor=0.1, evaluation_interval=0), ValueError, "evaluation_interval=0"),
        (lambda: P.TruncationSelection(evaluation_interval=1.5), TypeError, "evaluation_interval=1.5"),
        (lambda: P.TruncationSelection(delay_evaluation=-1), ValueError, "delay_evaluation=-1"),
        (lambda: P.MedianStopping(delay_evaluation=-1), ValueError, "delay_evaluation=-1"),
        (lambda: P.MedianStopping(min_trials=0), ValueError, "min_trials=0"),
        (lambda: P.MedianStopping(grace=-1), ValueError, "grace=-1"),
        (lambda: P.make("asha2"), ValueError, "'asha2'"),
        (lambda: P.make("ASHA"), ValueError, "'ASHA'"),
        (lambda: P.make("asha", gamma=3), TypeError, "'gamma'"),
        (lambda: P.make("none", eta=3), TypeError, "'eta'"),
        (lambda: P.make("median", slack_factor=0.1), TypeError, "'slack_factor'"),
        (lambda: P.Hyperband(inner="x"), ValueError, "inner='x'"),
        (lambda: P.Hyperband(seed=1.5), TypeError, "seed=1.5"),
        (lambda: _start(P.ASHA(), mode="maximize"), ValueError, "mode='maximize'"),
        (lambda: _start(P.MedianStopping(), mode="MAX"), ValueError, "mode='MAX'"),
        (lambda: _start(P.ASHA(), n_trials=0), ValueError, "n_trials=0"),
        (lambda: _start(P.NoPruning(), max_epochs=0), ValueError, "max_epochs=0"),
        (lambda: _start(P.ASHA(), max_epochs=2.0), TypeError, "max_epochs=2.0"),
        (_start_twice, RuntimeError, "already started"),
    ],
)
def test_parameter_validation(build, exc, match):
    with pytest.raises(exc, match=re.escape(match)):
        build()


def test_policy_object_cannot_run_twice():
    policy = P.ASHA()
    curves = np.ones((3, 3))
    halving.simulate(curves, policy=policy)
    with pytest.raises(RuntimeError, match="already started"):
        halving.simulate(curves, policy=policy)


@pytest.mark.parametrize("name", ALL)
def test_make_every_name_with_its_parameters(name):
    params = P.parameters(name)
    policy = P.make(name, **{k: v for k, v in params.items() if v is not None})
    assert isinstance(policy, P.POLICIES[name]) and policy.name == name
    for k, v in policy.params().items():
        if k in params and params[k] is not None:
            assert v == params[k]


def test_make_bandit_defaults():
    assert P.make("bandit").slack_factor == 0.1
    b = P.make("bandit", slack_amount=0.2)
    assert (b.slack_factor, b.slack_amount) == (None, 0.2)


def test_asha_rank_counts_a_removed_trial_that_was_better():
    # eta 3, R 9: a trial removed while waiting (a failure) is still an entry of its rung:
    # it fills the top 1/eta and ranks above the trial promoted after it.
    p = P.ASHA(eta=3)
    p.start(n_trials=6, max_epochs=9)
    values = [0.9, 0.5, 0.1]
    for trial, value in enumerate(values):
        assert p.next() == P.Assignment(trial, 1, new=True)
        assert p.report(trial, 1, value)[0].action is P.Action.PAUSE
    p.remove(0, 1)  # the best waiting trial leaves: its entry stays in rung 0
    # Rung 0 holds 3 entries, quota 1, taken by trial 0: nothing to promote, so new trials start.
    for trial, value in [(3, 0.3), (4, 0.2)]:
        assert p.next() == P.Assignment(trial, 1, new=True)
        p.report(trial, 1, value)
    assert p.next() == P.Assignment(5, 1, new=True)
    p.report(5, 1, 0.05)
    promotion = p.next()  # 6 entries, quota 2: trials 0 and 1; trial 1 is the best waiting
    assert (promotion.trial, promotion.until, promotion.new) == (1, 3, False)
    r = promotion.reason
    assert (r.rule, r.rung, r.compared, r.rank, r.cutoff) == ("top-k", 0, 6, 2, 0.5)
    assert p.next() == P.WAIT  # trials 3, 4 and 5 are not in the top 2
    stops = p.finish()
    assert [(d.trial, d.reason.rank) for d in stops] == [(3, 3), (4, 4), (2, 5), (5, 6)]
