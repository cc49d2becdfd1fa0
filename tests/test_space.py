"""Tests for halving.space: sampling, determinism, grids, files, validation."""

from __future__ import annotations

import hashlib
import itertools
import json
import math
import statistics
import time

import numpy as np
import pytest
import yaml

from halving import space as sp
from halving.space import Space, load_space

N = 2000


def draws(dim: sp.Dimension, n: int = N, seed: int = 0) -> list:
    rng = np.random.default_rng(seed)
    return [dim.sample(rng) for _ in range(n)]


def is_multiple(x: float, q: float) -> bool:
    return abs(x / q - round(x / q)) < 1e-9


# -- sampling, per type ------------------------------------------------------


def test_uniform_in_bounds():
    xs = draws(sp.uniform(-2, 3))
    assert all(type(x) is float and -2 <= x < 3 for x in xs)
    assert abs(statistics.mean(xs) - 0.5) < 0.15


def test_quniform_multiples_of_q():
    xs = draws(sp.quniform(0, 1, 0.1))
    assert all(type(x) is float and is_multiple(x, 0.1) for x in xs)
    assert all(-1e-12 <= x <= 1 + 1e-12 for x in xs)
    # Clean decimal multiples (no 0.30000000000000004 in configs).
    assert set(xs) <= {round(k * 0.1, 10) for k in range(11)}
    assert len(set(xs)) == 11


def test_loguniform_geometric_median():
    low, high = 1e-6, 0.1
    xs = draws(sp.loguniform(low, high))
    assert all(type(x) is float and low <= x <= high for x in xs)
    med = statistics.median(xs)
    assert abs(math.log(med) - math.log(math.sqrt(low * high))) < 0.5
    # Each decade gets roughly a fifth of the samples.
    share = sum(1e-6 <= x < 1e-5 for x in xs) / N
    assert 0.15 < share < 0.25


def test_qloguniform():
    xs = draws(sp.qloguniform(1, 1000, 5))
    assert all(type(x) is float and is_multiple(x, 5) for x in xs)
    assert all(0 <= x <= 1000 for x in xs)
    assert abs(math.log(statistics.median(xs)) - math.log(math.sqrt(1000))) < 0.5


def test_normal():
    xs = draws(sp.normal(10, 2))
    assert all(type(x) is float for x in xs)
    assert abs(statistics.mean(xs) - 10) < 0.3
    assert abs(statistics.stdev(xs) - 2) < 0.3


def test_qnormal():
    xs = draws(sp.qnormal(0, 5, 2))
    assert all(type(x) is float and is_multiple(x, 2) for x in xs)
    assert abs(statistics.mean(xs)) < 0.5


def test_lognormal():
    xs = draws(sp.lognormal(1, 0.5))
    assert all(type(x) is float and x > 0 for x in xs)
    assert abs(statistics.median(xs) - math.e) < 0.3


def test_qlognormal():
    xs = draws(sp.qlognormal(2, 1, 0.5))
    assert all(type(x) is float and x >= 0 and is_multiple(x, 0.5) for x in xs)


def test_randint_covers_low_to_high_exclusive():
    xs = draws(sp.randint(-2, 3))
    assert all(type(x) is int for x in xs)
    assert set(xs) == {-2, -1, 0, 1, 2}


@pytest.mark.parametrize("make", [sp.choice, sp.grid])
def test_choice_and_grid_sample_uniformly(make):
    values = ["relu", 3, 2.5, None, True]
    xs = draws(make(values))
    for v in values:
        count = sum(1 for x in xs if x is v or (x == v and type(x) is type(v)))
        assert 0.15 * N < count < 0.25 * N, (v, count)


def test_choice_of_lists_returns_fresh_copies():
    dim = sp.choice([[64, 64], [128]])
    rng = np.random.default_rng(0)
    a = dim.sample(rng)
    a.append(1)
    assert dim.values == ([64, 64], [128])
    assert dim.sample(rng) is not dim.sample(rng)


def test_numpy_values_become_plain():
    s = Space.from_spec({"a": sp.choice([np.int64(1), np.float32(0.5), np.str_("x")]),
                         "b": np.int32(7), "c": sp.randint(np.int64(0), np.int64(5))})
    for cfg in s.sample(50, seed=1):
        assert type(cfg["a"]) in (int, float, str)
        assert type(cfg["b"]) is int and type(cfg["c"]) is int


# -- Space sampling ---------------------------------------------------------

FULL = {
    "u": {"type": "uniform", "low": 0, "high": 1},
    "qu": {"type": "quniform", "low": 0, "high": 10, "q": 0.5},
    "lr": {"type": "loguniform", "low": 1e-6, "high": 0.1},
    "qlu": {"type": "qloguniform", "low": 1, "high": 100, "q": 1},
    "n": {"type": "normal", "mu": 0, "sigma": 1},
    "qn": {"type": "qnormal", "mu": 0, "sigma": 1, "q": 0.25},
    "ln": {"type": "lognormal", "mu": 0, "sigma": 1},
    "qln": {"type": "qlognormal", "mu": 0, "sigma": 1, "q": 0.1},
    "ri": {"type": "randint", "low": 0, "high": 10},
    "act": {"type": "choice", "values": ["relu", "tanh"]},
    "bs": {"type": "grid", "values": [32, 64]},
    "epochs": 20,
    "layers": [64, 64],
}


def test_space_configs_are_plain_and_json_serialisable():
    space = Space.from_spec(FULL)
    configs = space.sample(100, seed=0)
    assert len(configs) == 100
    for cfg in configs:
        assert list(cfg) == list(FULL)
        assert cfg["epochs"] == 20 and cfg["layers"] == [64, 64]
        for value in cfg.values():
            assert type(value) in (float, int, str, list)
        assert json.loads(json.dumps(cfg, allow_nan=False)) == cfg


def test_constants_are_fresh_each_config():
    space = Space.from_spec({"layers": [64, 64], "x": sp.uniform(0, 1)})
    a, b = space.sample(2, seed=0)
    a["layers"].append(1)
    assert b["layers"] == [64, 64] and space.constants == {"layers": [64, 64]}


def test_determinism():
    space = Space.from_spec(FULL)
    assert space.sample(20, seed=7) == space.sample(20, seed=7)
    assert space.sample(20, seed=7) != space.sample(20, seed=8)
    assert Space.from_spec(FULL).sample(5, seed=3) == space.sample(5, seed=3)
    # Configs within one run differ from each other.
    assert len({json.dumps(c) for c in space.sample(20, seed=7)}) == 20


def test_config_i_matches_sample_and_is_prefix_stable():
    space = Space.from_spec(FULL)
    configs = space.sample(30, seed=42)
    assert [space.config(i, 42) for i in range(30)] == configs
    assert space.sample(10, seed=42) == configs[:10]
    # Lazy access far out, without sampling the others.
    assert space.config(999_999, 42) == space.config(999_999, 42)
    assert space.config(999_999, 42) != space.config(999_998, 42)


@pytest.mark.parametrize("bad", [-1, 1.5, "3", True])
def test_bad_seed_or_index(bad):
    space = Space.from_spec({"x": sp.uniform(0, 1)})
    with pytest.raises((TypeError, ValueError), match="seed"):
        space.sample(3, seed=bad)
    with pytest.raises((TypeError, ValueError), match="i"):
        space.config(bad, 0)


# -- grid -------------------------------------------------------------------


def test_grid_order_and_size():
    space = Space.from_spec({
        "a": sp.grid([1, 2]),
        "fixed": "x",
        "b": sp.choice(["p", "q", "r"]),
    })
    assert space.grid_size() == 6
    assert space.grid() == [
        {"a": 1, "fixed": "x", "b": "p"},
        {"a": 1, "fixed": "x", "b": "q"},
        {"a": 1, "fixed": "x", "b": "r"},
        {"a": 2, "fixed": "x", "b": "p"},
        {"a": 2, "fixed": "x", "b": "q"},
        {"a": 2, "fixed": "x", "b": "r"},
    ]
    assert list(space.iter_grid()) == space.grid()


def test_grid_of_constants_only():
    space = Space.from_spec({"a": 1})
    assert space.grid_size() == 1 and space.grid() == [{"a": 1}]


def test_grid_refuses_continuous_dimensions():
    space = Space.from_spec({"a": sp.grid([1, 2]), "lr": sp.loguniform(1e-4, 1)})
    with pytest.raises(ValueError, match=r"space\['lr'\].*loguniform"):
        space.grid()
    with pytest.raises(ValueError, match="'lr'"):
        space.grid_size()


# -- serialisation ----------------------------------------------------------


def test_to_dict_forms():
    assert sp.loguniform(1e-6, 0.1).to_dict() == {"type": "loguniform", "low": 1e-6, "high": 0.1}
    assert sp.qnormal(0, 1, 0.5).to_dict() == {"type": "qnormal", "mu": 0.0, "sigma": 1.0, "q": 0.5}
    assert sp.choice(("a", "b")).to_dict() == {"type": "choice", "values": ["a", "b"]}
    assert sp.grid([1]).to_dict() == {"type": "grid", "values": [1]}
    assert sp.randint(0, 5).to_dict() == {"type": "randint", "low": 0, "high": 5}


def test_to_spec_round_trip():
    space = Space.from_spec(FULL)
    spec = space.to_spec()
    assert json.loads(json.dumps(spec)) == spec
    again = Space.from_spec(spec)
    assert again == space
    assert again.sample(10, seed=1) == space.sample(10, seed=1)
    # Dimension objects and dict forms build the same space.
    objs = Space.from_spec({"lr": sp.loguniform(1e-6, 0.1), "e": 3})
    dicts = Space.from_spec({"lr": {"type": "loguniform", "low": 1e-6, "high": 0.1}, "e": 3})
    assert objs == dicts


def test_json_file_round_trip(tmp_path):
    path = tmp_path / "space.json"
    path.write_text(json.dumps(FULL))
    space = Space.from_file(path)
    assert space == Space.from_spec(FULL)
    out = tmp_path / "out.json"
    out.write_text(json.dumps(space.to_spec()))
    assert Space.from_file(str(out)) == space
    assert load_space(out) == space and load_space(str(out)) == space


@pytest.mark.parametrize("suffix", [".yaml", ".yml"])
def test_yaml_file_round_trip(tmp_path, suffix):
    path = tmp_path / f"space{suffix}"
    path.write_text(yaml.safe_dump(Space.from_spec(FULL).to_spec(), sort_keys=False))
    space = Space.from_file(path)
    assert space == Space.from_spec(FULL)
    assert load_space(path) == space


def test_yaml_plain_exponent_is_a_float(tmp_path):
    # PyYAML's YAML 1.1 reads `1e-6` as a string; the space loader reads a float.
    path = tmp_path / "space.yaml"
    path.write_text(
        "lr:\n  type: loguniform\n  low: 1e-6\n  high: 1e-1\n"
        "act: {type: choice, values: [relu, tanh]}\nname: '1e3'\n"
    )
    space = Space.from_file(path)
    assert space.dimensions["lr"] == sp.loguniform(1e-6, 0.1)
    assert space.constants == {"name": "1e3"}


def test_file_errors(tmp_path):
    bad = tmp_path / "space.toml"
    bad.write_text("")
    with pytest.raises(ValueError, match=r"\.json, \.yaml or \.yml"):
        Space.from_file(bad)
    listy = tmp_path / "space.json"
    listy.write_text("[1, 2]")
    with pytest.raises(TypeError, match="space.json.*must be a dict"):
        Space.from_file(listy)
    broken = tmp_path / "b.yaml"
    broken.write_text("x: {type: uniform, low: 1, high: 0}\n")
    with pytest.raises(ValueError, match=r"b\.yaml: space\['x'\]: uniform needs low < high"):
        Space.from_file(broken)


def test_load_space_accepts_space_and_dict():
    space = Space.from_spec({"x": sp.uniform(0, 1)})
    assert load_space(space) is space
    assert load_space({"x": {"type": "uniform", "low": 0, "high": 1}}) == space
    with pytest.raises(TypeError, match="load_space"):
        load_space(3)


# -- validation -------------------------------------------------------------

U = {"type": "uniform", "low": 0, "high": 1}

BAD_SPECS = [
    # (spec, error type, message fragment)
    ({"a": {"type": "uniform", "low": 1, "high": 1}}, ValueError,
     r"space\['a'\]: uniform needs low < high, but got low=1\.0, high=1\.0"),
    ({"a": {"type": "randint", "low": 5, "high": 2}}, ValueError,
     r"space\['a'\]: randint needs low < high, but got low=5, high=2"),
    ({"alpha": {"type": "loguniform", "low": 0, "high": 1}}, ValueError,
     r"space\['alpha'\]: loguniform needs low > 0, but got low=0\.0"),
    ({"a": {"type": "qloguniform", "low": -1, "high": 1, "q": 1}}, ValueError,
     r"space\['a'\]: qloguniform needs low > 0, but got low=-1\.0"),
    ({"a": {"type": "choice", "values": []}}, ValueError,
     r"space\['a'\]: choice needs at least one value, but got values=\[\]"),
    ({"a": {"type": "grid", "values": []}}, ValueError, r"space\['a'\]: grid needs at least one value"),
    ({"a": {"type": "choice", "values": "abc"}}, TypeError, r"space\['a'\]: choice needs a list.*'abc'"),
    ({"a": {"type": "quniform", "low": 0, "high": 1, "q": 0}}, ValueError,
     r"space\['a'\]: quniform needs q > 0, but got q=0\.0"),
    ({"a": {"type": "qnormal", "mu": 0, "sigma": 1, "q": -0.5}}, ValueError, r"qnormal needs q > 0.*q=-0\.5"),
    ({"a": {"type": "normal", "mu": 0, "sigma": 0}}, ValueError,
     r"space\['a'\]: normal needs sigma > 0, but got sigma=0\.0"),
    ({"a": {"type": "lognormal", "mu": 0, "sigma": -1}}, ValueError, r"lognormal needs sigma > 0.*sigma=-1\.0"),
    ({"a": {"type": "unifrom", "low": 0, "high": 1}}, ValueError,
     r"space\['a'\]: unknown type 'unifrom'; known types: .*'uniform'"),
    ({"a": {"type": 3}}, TypeError, r"space\['a'\]: dimension 'type' must be a string.*3"),
    ({"a": {"type": "uniform", "low": 0, "hi": 1}}, ValueError,
     r"space\['a'\]: unknown key 'hi' for uniform \(allowed keys: 'type', 'low', 'high'\)"),
    ({"a": {"type": "uniform", "low": 0}}, ValueError, r"space\['a'\]: uniform is missing key 'high'"),
    ({"a": {"low": 0, "high": 1}}, ValueError, r"space\['a'\]: dimension is missing key 'type'"),
    ({"a": {"type": "uniform", "low": "0", "high": 1}}, TypeError,
     r"space\['a'\]: uniform needs a number for low, but got low='0'"),
    ({"a": {"type": "uniform", "low": None, "high": 1}}, TypeError, r"needs a number for low.*None"),
    ({"a": {"type": "uniform", "low": 0, "high": True}}, TypeError, r"needs a number for high.*True"),
    ({"a": {"type": "uniform", "low": float("nan"), "high": 1}}, ValueError,
     r"space\['a'\]: uniform needs a finite low, but got low=nan"),
    ({"a": {"type": "loguniform", "low": 1e-3, "high": float("inf")}}, ValueError,
     r"loguniform needs a finite high, but got high=inf"),
    ({"a": {"type": "normal", "mu": float("-inf"), "sigma": 1}}, ValueError, r"finite mu.*-inf"),
    ({"a": {"type": "randint", "low": 0.0, "high": 10}}, TypeError,
     r"space\['a'\]: randint needs an integer for low, but got low=0\.0"),
    ({"a": {"type": "randint", "low": 0, "high": 2.5}}, TypeError, r"randint needs an integer for high.*2\.5"),
    ({}, ValueError, r"space is empty"),
    ({3: U}, TypeError, r"parameter names must be strings, but got 3 \(int\)"),
    ({"": U}, ValueError, r"non-empty"),
    ([("a", U)], TypeError, r"space spec must be a dict.*list"),
    ("lr: 1", TypeError, r"space spec must be a dict.*str"),
    ({"a": object()}, TypeError, r"space\['a'\]: must be a dimension.*object"),
    ({"a": sp.uniform}, TypeError, r"space\['a'\]: must be a dimension.*function"),
    ({"a": [1, {2: 3}]}, TypeError, r"space\['a'\]: constant\[1\] must have string keys"),
    ({"a": {"type": "choice", "values": [1, object()]}}, TypeError,
     r"space\['a'\]: choice values\[1\] must be JSON-serialisable"),
    ({"a": {"type": "uniform", "low": -1e308, "high": 1e308}}, ValueError, r"finite range"),
]


@pytest.mark.parametrize(("spec", "error", "fragment"), BAD_SPECS,
                         ids=[f"bad{i}" for i in range(len(BAD_SPECS))])
def test_bad_specs(spec, error, fragment):
    with pytest.raises(error, match=fragment):
        Space.from_spec(spec)


@pytest.mark.parametrize(("make", "error", "fragment"), [
    (lambda: sp.uniform(1, 0), ValueError, r"uniform needs low < high, but got low=1\.0, high=0\.0"),
    (lambda: sp.loguniform(0, 1), ValueError, r"loguniform needs low > 0"),
    (lambda: sp.quniform(0, 1, 0), ValueError, r"q > 0"),
    (lambda: sp.normal(0, 0), ValueError, r"sigma > 0"),
    (lambda: sp.randint(0, 1.5), TypeError, r"integer for high"),
    (lambda: sp.choice([]), ValueError, r"at least one value"),
    (lambda: sp.grid(None), TypeError, r"grid needs a list"),
    (lambda: sp.uniform("a", 1), TypeError, r"number for low"),
])
def test_constructors_validate(make, error, fragment):
    with pytest.raises(error, match=fragment):
        make()


def test_dimensions_are_frozen_and_comparable():
    d = sp.uniform(0, 1)
    with pytest.raises(AttributeError):
        d.low = 5  # type: ignore[misc]
    assert d == sp.uniform(0.0, 1.0) and hash(d) == hash(sp.uniform(0.0, 1.0))
    assert sp.choice([1, 2]) != sp.grid([1, 2])


# -- sampling pinned to the values of the code before the space was composed ---------
# The same seed must give bit-identical configs whatever the space's inner structure:
# these were recorded with the one-class-per-type code, and checked with == on exact floats.

PINNED = [
    (0, 0, {"u": 0.6369616873214543, "qu": 2.5, "lr": 1.60275676879514e-06, "qlu": 1.0, "n": -0.535669373161111,
            "qn": 0.25, "ln": 3.684003414100973, "qln": 2.6, "ri": 6, "act": "tanh", "bs": 64, "epochs": 20,
            "layers": [64, 64]}),
    (0, 1, {"u": 0.8897387912781343, "qu": 5.5, "lr": 0.010105095784146853, "qlu": 82.0, "n": -0.574458905742871,
            "qn": 2.0, "ln": 1.4819469561586491, "qln": 1.0, "ri": 0, "act": "tanh", "bs": 64, "epochs": 20,
            "layers": [64, 64]}),
    (7, 3, {"u": 0.9750335537195014, "qu": 9.0, "lr": 1.4449478266969033e-05, "qlu": 29.0, "n": -0.41154969128643465,
            "qn": 0.5, "ln": 0.21784003832319007, "qln": 1.3, "ri": 2, "act": "tanh", "bs": 64, "epochs": 20,
            "layers": [64, 64]}),
    (123, 999_999, {"u": 0.0975886894135346, "qu": 3.5, "lr": 0.00110126308447661, "qlu": 26.0,
                    "n": -0.6432308375984971, "qn": -0.75, "ln": 0.96404619243966, "qln": 7.8, "ri": 4, "act": "relu",
                    "bs": 32, "epochs": 20, "layers": [64, 64]}),
]

EDGE = {
    "huge": sp.lognormal(700, 10),  # overflows to inf on some draws
    "qhuge": sp.qlognormal(700, 10, 1),
    "tiny": sp.qloguniform(1e-3, 2e-3, 1),
    "narrow": sp.loguniform(1.0, 1.0000001),  # exp(log(x)) may leave the bounds: clipped
    "wide": sp.randint(-2**63, 2**63),
    "odd": sp.quniform(0.05, 0.95, 0.3),
    "nested": sp.choice([[1, 2], {"a": None}, False]),
}


def _typed_digest(space: Space, seeds: int = 3, n: int = 500) -> str:
    h = hashlib.sha256()
    for seed in range(seeds):
        for c in space.sample(n, seed):
            h.update(repr([(k, type(v).__name__, v) for k, v in c.items()]).encode())
    return h.hexdigest()


@pytest.mark.parametrize(("seed", "i", "expected"), PINNED)
def test_configs_as_recorded(seed, i, expected):
    got = Space.from_spec(FULL).config(i, seed)
    assert got == expected
    assert [type(v) for v in got.values()] == [type(v) for v in expected.values()]


def test_many_configs_as_recorded():
    assert _typed_digest(Space.from_spec(FULL)) == "670dc0811cdd4bec2f38c180cd1df4469d9796cfeeb27e31da986fb8864d74de"
    assert _typed_digest(Space.from_spec(EDGE)) == "be98e52756683bd4e1602c5807b81ad7fc01c7ffa98255a008f64e5d84ecfb4e"


def test_spec_as_recorded():
    # The dict form old spec.json files hold: exact keys, order and value types.
    spec = Space.from_spec(FULL).to_spec()
    assert json.dumps(spec) == (
        '{"u": {"type": "uniform", "low": 0.0, "high": 1.0}, "qu": {"type": "quniform", "low": 0.0, "high": 10.0, '
        '"q": 0.5}, "lr": {"type": "loguniform", "low": 1e-06, "high": 0.1}, "qlu": {"type": "qloguniform", '
        '"low": 1.0, "high": 100.0, "q": 1.0}, "n": {"type": "normal", "mu": 0.0, "sigma": 1.0}, "qn": {"type": '
        '"qnormal", "mu": 0.0, "sigma": 1.0, "q": 0.25}, "ln": {"type": "lognormal", "mu": 0.0, "sigma": 1.0}, '
        '"qln": {"type": "qlognormal", "mu": 0.0, "sigma": 1.0, "q": 0.1}, "ri": {"type": "randint", "low": 0, '
        '"high": 10}, "act": {"type": "choice", "values": ["relu", "tanh"]}, "bs": {"type": "grid", "values": '
        '[32, 64]}, "epochs": 20, "layers": [64, 64]}'
    )


def _reference_grid(space: Space) -> list[dict]:
    """The grid as the code before the lazy grid built it: itertools.product, last fastest."""
    axes = [(n, d.values if isinstance(d, sp.Dimension) else (d,)) for n, d in
            ((n, space.dimensions.get(n, space.constants.get(n))) for n in space.names)]
    return [dict(zip([n for n, _ in axes], combo)) for combo in itertools.product(*(v for _, v in axes))]


@pytest.mark.parametrize("seed", range(20))
def test_grid_equals_the_enumerated_product(seed):
    rng = np.random.default_rng(seed)
    spec = {}
    for k in range(int(rng.integers(1, 5))):
        if rng.random() < 0.25:
            spec[f"c{k}"] = int(rng.integers(100))
        else:
            maker = sp.grid if rng.random() < 0.5 else sp.choice
            spec[f"d{k}"] = maker([f"v{k}.{j}" for j in range(int(rng.integers(1, 5)))])
    space = Space.from_spec(spec)
    expected = _reference_grid(space)
    grid = space.grid()
    assert space.grid_size() == len(expected)
    assert grid == expected and list(grid) == expected
    assert [grid[i] for i in range(len(expected))] == expected


# -- the lazy grid ------------------------------------------------------------------


def _huge_space() -> Space:
    # 24 axes of 10 values: 10**24 points, far beyond any memory.
    return Space.from_spec({f"d{k:02d}": sp.grid(list(range(10))) for k in range(24)} | {"fixed": "x"})


def test_huge_grid_is_lazy():
    space = _huge_space()
    start = time.perf_counter()
    assert space.grid_size() == 10**24
    grid = space.grid()
    assert grid.size == 10**24
    point = grid[10**23]  # digits 1, 0, 0, ...: the first axis is the slowest
    assert point == {"d00": 1} | {f"d{k:02d}": 0 for k in range(1, 24)} | {"fixed": "x"}
    assert tuple(point) == space.names
    assert grid[-1] == {f"d{k:02d}": 9 for k in range(24)} | {"fixed": "x"}
    assert grid[123_456_789] == {f"d{k:02d}": int(c) for k, c in enumerate(f"{123_456_789:024d}")} | {"fixed": "x"}
    assert time.perf_counter() - start < 1.0
    with pytest.raises(OverflowError, match=r"10{24} points.*grid_size"):
        len(grid)


def test_grid_indexing():
    space = Space.from_spec({"a": sp.grid([1, 2]), "b": sp.choice([[0], [1], [2]])})
    grid = space.grid()
    assert len(grid) == 6 and grid[-1] == {"a": 2, "b": [2]} and grid[-6] == grid[0]
    assert grid[1:5:2] == [grid[1], grid[3]]
    grid[0]["b"].append(9)  # each point is a fresh copy
    assert grid[0] == {"a": 1, "b": [0]}
    assert grid[np.int64(4)] == {"a": 2, "b": [1]}
    with pytest.raises(IndexError, match=r"6 points, but got i=6"):
        grid[6]
    with pytest.raises(IndexError, match=r"i=-7"):
        grid[-7]
    with pytest.raises(TypeError, match=r"i='0'"):
        grid["0"]
    assert grid == space.grid() and grid != [] and grid != space.grid()[:5]
    assert {"a": 2, "b": [0]} in grid and grid.index({"a": 2, "b": [0]}) == 3
    assert "grid of 6 configs over a, b" in repr(grid)


# -- composition ----------------------------------------------------------------------


def test_constructors_compose_a_domain_a_prior_and_q():
    assert sp.qloguniform(1, 100, 5) == sp.Float(sp.Uniform(1, 100, log=True), q=5)
    assert sp.lognormal(0, 1) == sp.Float(sp.Normal(0.0, 1.0, log=True))
    assert sp.randint(0, 3) == sp.Integer(0, 3)
    assert sp.grid([1]) == sp.Categorical((1,), enumerated=True)
    for name in ("uniform", "quniform", "loguniform", "qloguniform", "normal", "qnormal", "lognormal",
                 "qlognormal", "randint", "choice", "grid"):
        spec = FULL[{"uniform": "u", "quniform": "qu", "loguniform": "lr", "qloguniform": "qlu", "normal": "n",
                     "qnormal": "qn", "lognormal": "ln", "qlognormal": "qln", "randint": "ri", "choice": "act",
                     "grid": "bs"}[name]]
        dim = getattr(sp, name)(**{k: v for k, v in spec.items() if k != "type"})
        assert dim.type == name and dim.to_dict() == Space.from_spec({"x": spec}).dimensions["x"].to_dict()
    assert repr(sp.qnormal(0, 1, 0.5)) == "qnormal(mu=0.0, sigma=1.0, q=0.5)"


@pytest.mark.parametrize("make", [sp.quniform, sp.qloguniform, sp.qnormal, sp.qlognormal])
def test_q_variants_need_a_q(make):
    with pytest.raises(TypeError, match=rf"{make.__name__} needs a number for q, but got q=None"):
        make(1, 2, None)


def test_float_needs_a_prior():
    with pytest.raises(TypeError, match=r"Float needs a Uniform or Normal prior, but got prior=3"):
        sp.Float(3)  # type: ignore[arg-type]
