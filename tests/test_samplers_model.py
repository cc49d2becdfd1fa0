"""What the models learn, each on data where the right answer is known: BOHB proposes from
its highest rung level holding enough values, with its share of random proposals, and both
models learn which category is good (not only numeric coordinates)."""

from __future__ import annotations

import numpy as np
import pytest

from halving import samplers as S
from halving import space as hs
from halving.space import Space

SPACE = Space({"x": hs.uniform(0.0, 1.0), "c": hs.choice(["a", "b", "c", "d"])})


def _started(name: str, **params) -> S.Sampler:
    sampler = S.make(name, **params)
    sampler.start(SPACE, seed=3, mode="max", n_trials=1000, levels=(1, 3, 9))
    return sampler


def _created(sampler: S.Sampler, n: int) -> list[dict]:
    configs = [SPACE.config(t, 11) for t in range(n)]
    for t, config in enumerate(configs):
        sampler.created(t, config)
    return configs


def _proposed(sampler: S.Sampler, first: int, n: int) -> list:
    return [sampler.propose(t, ()) for t in range(first, first + n)]


def test_bohb_proposes_from_the_highest_level_holding_enough_values():
    # Each level prefers another x: low at epoch 1, high at epoch 3, middle at epoch 9.
    bohb = _started("bohb", random_fraction=0.0)
    configs = _created(bohb, 60)
    n_full = bohb.n_min + 2  # 5 here: two dimensions

    def at_level(epoch, trials, value):
        for t in trials:
            bohb.observe(t, epoch, value(configs[t]["x"]))

    def mean_x(first):
        proposals = _proposed(bohb, first, 30)
        return {p.model for p in proposals}, float(np.mean([p.config["x"] for p in proposals]))

    at_level(1, range(60), lambda x: 1.0 - x)
    at_level(3, range(n_full - 1), lambda x: x)  # one short of a model at epoch 3
    models, x = mean_x(100)
    assert models == {"kde@epoch 1"} and x < 0.3, x
    at_level(3, range(n_full - 1, 30), lambda x: x)
    at_level(9, range(n_full - 1), lambda x: -abs(x - 0.5))
    models, x = mean_x(200)
    assert models == {"kde@epoch 3"} and x > 0.7, x
    at_level(9, range(n_full - 1, 20), lambda x: -abs(x - 0.5))
    models, x = mean_x(300)
    assert models == {"kde@epoch 9"} and 0.3 < x < 0.7, x


@pytest.mark.parametrize("share", [0.0, 1 / 3, 1.0])
def test_bohb_makes_its_share_of_random_proposals_and_they_are_the_random_samplers(share):
    bohb = _started("bohb", random_fraction=share)
    configs = _created(bohb, 40)
    for t, config in enumerate(configs):
        bohb.observe(t, 9, config["x"])
    proposals = {t: bohb.propose(t, ()) for t in range(100, 400)}
    random = [t for t, p in proposals.items() if p.model == "random"]
    # 300 draws: a share of 1/3 gives 100 random proposals, sd 8.2.
    assert abs(len(random) - 300 * share) <= 30, len(random)
    assert all(proposals[t].config == SPACE.config(t, 3) for t in random)


@pytest.mark.parametrize(("name", "params"), [("tpe", {}), ("bohb", {"random_fraction": 0.0})])
def test_both_models_learn_which_category_is_good(name, params):
    sampler = _started(name, **params)
    configs = _created(sampler, 60)
    for t, config in enumerate(configs):  # only the category matters: "b" is good
        sampler.observe(t, 9, (1.0 if config["c"] == "b" else 0.0) + 0.01 * config["x"])
    proposals = _proposed(sampler, 100, 40)
    assert all(p.model != "random" for p in proposals)
    share = np.mean([p.config["c"] == "b" for p in proposals])
    assert share >= 0.7, share  # a model blind to categories proposes "b" a quarter of the time
