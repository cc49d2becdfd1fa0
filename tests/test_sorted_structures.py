"""The rung structures against brute force: SortedFloats, SortedScores, TopShare."""

from __future__ import annotations

import bisect

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import policies._sorted as sorted_module
from policies._rung import SortedScores, TopShare
from policies._sorted import SortedFloats

# Few distinct values: ties, including ties across chunk boundaries.
values = st.integers(-6, 6).map(float)
ops = st.lists(st.tuples(st.sampled_from(["add", "add", "remove", "query"]), values, st.integers(-50, 50)),
               max_size=300)


@pytest.fixture(scope="module", autouse=True)
def tiny_chunks():
    """Chunks of at most 4 doubles, so a few hundred operations split and empty many of them."""
    saved = sorted_module._LOAD
    sorted_module._LOAD = 2
    yield
    sorted_module._LOAD = saved


@settings(max_examples=150, deadline=None)
@given(ops)
def test_sorted_floats_match_a_sorted_list(operations):
    s, model = SortedFloats(), []
    for op, x, k in operations:
        if op == "add":
            s.add(x)
            bisect.insort(model, x)
        elif op == "remove":
            if x in model:
                s.remove(x)
                model.remove(x)
            else:
                with pytest.raises(ValueError):
                    s.remove(x)
        else:
            assert s.bisect_left(x) == bisect.bisect_left(model, x)
            assert s.bisect_right(x) == bisect.bisect_right(model, x)
            if model:
                k = k % (2 * len(model)) - len(model)  # negative and positive positions
                assert s[k] == model[k]
            with pytest.raises(IndexError):
                s[len(model)]
        assert len(s) == len(model)
    assert list(s) == model
    assert list(reversed(s)) == model[::-1]


def brute_rank(entries: list[tuple[float, int]], score: float, trial: int) -> int:
    order = sorted(entries, key=lambda e: (-e[0], e[1]))
    return order.index((score, trial)) + 1


@settings(max_examples=150, deadline=None)
@given(st.lists(values, min_size=1, max_size=120), st.integers(2, 4))
def test_sorted_scores_and_top_share_match_brute_force(scores, eta):
    ranks, top = SortedScores(), TopShare(eta)
    entries: list[tuple[float, int]] = []
    for trial, score in enumerate(scores):
        ranks.add(score, trial)
        top.add((-score, trial))
        entries.append((score, trial))
        order = sorted(entries, key=lambda e: (-e[0], e[1]))
        quota = len(entries) // eta
        for s, t in entries:
            assert ranks.rank(s, t) == brute_rank(entries, s, t)
            assert top.holds(s, t) == (brute_rank(entries, s, t) <= quota)
        if quota:
            assert top.cutoff() == order[quota - 1][0]
            assert ranks.kth_best(quota) == order[quota - 1]
        assert ranks.best() == order[0]
    among = [t for t in range(len(scores)) if t % 3][::-1]  # any order in, best first out
    expected = [(i + 1, t) for i, (s, t) in enumerate(order) if t in among]
    assert top.ranked(among) == expected


@settings(max_examples=100, deadline=None)
@given(st.lists(st.tuples(values, st.booleans()), min_size=1, max_size=80))
def test_sorted_scores_discard_keeps_ranks(plan):
    ranks = SortedScores()
    live: list[tuple[float, int]] = []
    for trial, (score, drop) in enumerate(plan):
        ranks.add(score, trial)
        live.append((score, trial))
        if drop:
            gone = live.pop(len(live) // 2)
            ranks.discard(*gone)
            assert gone not in ranks
        for s, t in live:
            assert (s, t) in ranks
            assert ranks.rank(s, t) == brute_rank(live, s, t)
    assert len(ranks) == len(live)
