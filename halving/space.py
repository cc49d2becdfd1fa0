"""Search spaces: dimensions, parsing, validation, sampling and grids.

A search space maps parameter names to *dimensions* (``uniform(0, 1)``,
``choice(["relu", "tanh"])``, ...) or to plain constants, which are kept fixed
in every config. The semantics follow Azure ML HyperDrive / hyperopt:

* ``q``-variants return ``round(x / q) * q`` (so a value may fall just outside
  ``[low, high]`` when the bounds are not multiples of ``q``);
* ``loguniform`` / ``qloguniform`` take the actual bounds (not their logs) and
  sample ``exp(uniform(log(low), log(high)))``;
* ``lognormal`` samples ``exp(normal(mu, sigma))``;
* ``randint(low, high)`` gives integers in ``[low, high)``, like numpy;
* ``grid`` is enumerated by grid search and sampled like ``choice`` otherwise.

Those ten names (and ``grid``) are thin constructors over three domains: a
``Float`` drawn from a prior (``Uniform`` or ``Normal``, each optionally in
log space) and optionally quantised by ``q``; an ``Integer``; and a
``Categorical``. Each concept is checked once, in the part that owns it.

A space is written as a dict, in Python or in a JSON / YAML file::

    {"lr": {"type": "loguniform", "low": 1e-6, "high": 0.1},
     "batch_size": {"type": "choice", "values": [32, 64, 128]},
     "epochs": 20}

``Space.from_spec`` validates everything up front and raises a ``ValueError``
(or ``TypeError`` for a value of the wrong type) naming the parameter and the
offending value. Config ``i`` of ``Space.sample(n, seed)`` depends only on
``(seed, i)``, so ``Space.config(i, seed)`` gives it without sampling the
others. Sampled values are plain Python ``float`` / ``int`` / ``str`` / ...,
never numpy scalars, so configs serialise to JSON. ``Space.grid()`` is lazy:
point ``i`` is decoded on demand, so a grid's size never costs memory.
"""

from __future__ import annotations

import inspect
import itertools
import json
import math
import numbers
import os
import re
import sys
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from types import MappingProxyType
from typing import Any, overload

import numpy as np
import yaml

__all__ = [
    "Categorical",
    "Dimension",
    "Float",
    "GridPoints",
    "Integer",
    "Normal",
    "Space",
    "Uniform",
    "choice",
    "grid",
    "load_space",
    "lognormal",
    "loguniform",
    "normal",
    "qlognormal",
    "qloguniform",
    "qnormal",
    "quniform",
    "randint",
    "uniform",
]

_INT64_MIN = -(2**63)
_INT64_MAX = 2**63


# --------------------------------------------------------------------------
# value helpers
# --------------------------------------------------------------------------


def _real(kind: str, key: str, value: Any) -> float:
    """``value`` as a finite float, or a TypeError / ValueError naming it."""
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Real):
        raise TypeError(f"{kind} needs a number for {key}, but got {key}={value!r}")
    result = float(value)
    if not math.isfinite(result):
        raise ValueError(f"{kind} needs a finite {key}, but got {key}={value!r}")
    return result


def _integer(kind: str, key: str, value: Any) -> int:
    """``value`` as an int (numpy ints accepted, bools and floats refused)."""
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Integral):
        raise TypeError(f"{kind} needs an integer for {key}, but got {key}={value!r}")
    return int(value)


def _positive(kind: str, key: str, value: Any) -> float:
    result = _real(kind, key, value)
    if result <= 0:
        raise ValueError(f"{kind} needs {key} > 0, but got {key}={result!r}")
    return result


def _plain(value: Any, where: str) -> Any:
    """A JSON-able copy of ``value`` made of plain Python types.

    numpy scalars become ``int`` / ``float`` / ``bool``, tuples become lists,
    containers are copied. Anything else is a TypeError naming ``where``.
    """
    if value is None or isinstance(value, bool):
        return value
    if isinstance(value, str):
        return str(value)  # also turns numpy.str_ into str
    if isinstance(value, np.bool_):
        return bool(value)
    if isinstance(value, numbers.Integral):
        return int(value)
    if isinstance(value, numbers.Real):
        return float(value)
    if isinstance(value, (list, tuple)):
        return [_plain(v, f"{where}[{i}]") for i, v in enumerate(value)]
    if isinstance(value, np.ndarray):
        return _plain(value.tolist(), where)
    if isinstance(value, Mapping):
        out = {}
        for k, v in value.items():
            if not isinstance(k, str):
                raise TypeError(f"{where} must have string keys, but got key {k!r}")
            out[k] = _plain(v, f"{where}[{k!r}]")
        return out
    raise TypeError(
        f"{where} must be JSON-serialisable (str, int, float, bool, None, "
        f"list or dict), but got {value!r} ({type(value).__name__})"
    )


def _copy(value: Any) -> Any:
    """A fresh copy of an already-plain value (scalars are returned as is)."""
    if isinstance(value, list):
        return [_copy(v) for v in value]
    if isinstance(value, dict):
        return {k: _copy(v) for k, v in value.items()}
    return value


def _quantize(x: float, q: float) -> float:
    """``round(x / q) * q``, computed so that e.g. 3 * 0.1 gives 0.3."""
    ratio = x / q
    if not math.isfinite(ratio):
        return float(x)
    k = round(ratio)
    # Multiply in decimal by q as written (its shortest repr), then round once
    # to float: avoids artefacts like 0.30000000000000004 in configs.
    return float(Decimal(k) * Decimal(repr(q)))


def _exp(x: float) -> float:
    try:
        return math.exp(x)
    except OverflowError:
        return math.inf


# --------------------------------------------------------------------------
# priors: how a float is drawn, before any quantisation
# --------------------------------------------------------------------------
# A prior is checked by the Float that holds it, so that an error names the
# dimension's type as the user wrote it (``qloguniform needs low > 0``).
# No slots on these frozen dataclasses: with slots, Python 3.11 raises a
# TypeError instead of FrozenInstanceError when a non-field is assigned.


@dataclass(frozen=True)
class Uniform:
    """Uniform in ``[low, high)``; with ``log``, uniform in log space between the actual bounds."""

    low: float
    high: float
    log: bool = False

    @property
    def name(self) -> str:
        return "loguniform" if self.log else "uniform"

    def checked(self, kind: str) -> Uniform:
        """A copy with float bounds, or a TypeError / ValueError naming ``kind``."""
        low = _real(kind, "low", self.low)
        high = _real(kind, "high", self.high)
        if self.log and low <= 0:
            raise ValueError(f"{kind} needs low > 0, but got low={low!r}")
        _check_bounds(kind, low, high)
        if not math.isfinite(high - low):  # numpy's uniform would return inf or nan
            raise ValueError(
                f"{kind} needs a finite range high - low, but got low={low!r}, high={high!r}"
            )
        return Uniform(low, high, self.log)

    def draw(self, rng: np.random.Generator) -> float:
        if not self.log:
            return float(rng.uniform(self.low, self.high))
        x = _exp(float(rng.uniform(math.log(self.low), math.log(self.high))))
        return min(max(x, self.low), self.high)  # exp(log(b)) may miss b by an ulp

    def params(self) -> dict[str, float]:
        return {"low": self.low, "high": self.high}


@dataclass(frozen=True)
class Normal:
    """``normal(mu, sigma)``; with ``log``, its exponential (a log-normal)."""

    mu: float
    sigma: float
    log: bool = False

    @property
    def name(self) -> str:
        return "lognormal" if self.log else "normal"

    def checked(self, kind: str) -> Normal:
        """A copy with float parameters, or a TypeError / ValueError naming ``kind``."""
        return Normal(_real(kind, "mu", self.mu), _positive(kind, "sigma", self.sigma), self.log)

    def draw(self, rng: np.random.Generator) -> float:
        x = float(rng.normal(self.mu, self.sigma))
        return _exp(x) if self.log else x

    def params(self) -> dict[str, float]:
        return {"mu": self.mu, "sigma": self.sigma}


def _check_bounds(kind: str, low: float, high: float) -> None:
    if low >= high:
        raise ValueError(f"{kind} needs low < high, but got low={low!r}, high={high!r}")


# --------------------------------------------------------------------------
# domains: float, int, categorical
# --------------------------------------------------------------------------


class Dimension:
    """Base class of the domains: one distribution over a parameter's values."""

    __slots__ = ()

    @property
    def type(self) -> str:
        """The name of the dict form, e.g. ``"qloguniform"``."""
        raise NotImplementedError

    def sample(self, rng: np.random.Generator) -> Any:
        """One value drawn with ``rng``, as a plain Python value."""
        raise NotImplementedError

    def to_dict(self) -> dict[str, Any]:
        """The JSON form, e.g. ``{"type": "uniform", "low": 0.0, "high": 1.0}``."""
        raise NotImplementedError

    def __repr__(self) -> str:
        form = self.to_dict()
        kind = form.pop("type")
        return f"{kind}({', '.join(f'{k}={v!r}' for k, v in form.items())})"


@dataclass(frozen=True, repr=False)
class Float(Dimension):
    """A float drawn from ``prior``, then, if ``q`` is set, rounded to ``round(x / q) * q``."""

    prior: Uniform | Normal
    q: float | None = None

    def __post_init__(self) -> None:
        if not isinstance(self.prior, (Uniform, Normal)):
            raise TypeError(f"Float needs a Uniform or Normal prior, but got prior={self.prior!r}")
        kind = self.type
        object.__setattr__(self, "prior", self.prior.checked(kind))
        if self.q is not None:
            object.__setattr__(self, "q", _positive(kind, "q", self.q))

    @property
    def type(self) -> str:
        return ("" if self.q is None else "q") + self.prior.name

    def sample(self, rng: np.random.Generator) -> float:
        return self.rounded(self.prior.draw(rng))

    def rounded(self, x: float) -> float:
        """``x`` as a draw of this dimension ends: quantised by ``q`` when it is set."""
        return x if self.q is None else _quantize(x, self.q)

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"type": self.type, **self.prior.params()}
        if self.q is not None:
            out["q"] = self.q
        return out


@dataclass(frozen=True, repr=False)
class Integer(Dimension):
    """An int uniform in ``[low, high)`` (``high`` excluded, like numpy)."""

    low: int
    high: int

    def __post_init__(self) -> None:
        kind = self.type
        low = _integer(kind, "low", self.low)
        high = _integer(kind, "high", self.high)
        _check_bounds(kind, low, high)
        if low < _INT64_MIN or high > _INT64_MAX:  # what numpy's integers() can draw
            raise ValueError(
                f"{kind} needs bounds within the int64 range, but got low={low!r}, high={high!r}"
            )
        object.__setattr__(self, "low", low)
        object.__setattr__(self, "high", high)

    @property
    def type(self) -> str:
        return "randint"

    def sample(self, rng: np.random.Generator) -> int:
        return int(rng.integers(self.low, self.high))

    def to_dict(self) -> dict[str, Any]:
        return {"type": self.type, "low": self.low, "high": self.high}


@dataclass(frozen=True, repr=False)
class Categorical(Dimension):
    """One of ``values``, each equally likely; ``enumerated`` ones are a grid search's axes."""

    values: tuple[Any, ...]
    enumerated: bool = False

    def __post_init__(self) -> None:
        values = self.values
        kind = self.type
        if not isinstance(values, (list, tuple)):
            raise TypeError(f"{kind} needs a list of values, but got values={values!r}")
        if not values:
            raise ValueError(f"{kind} needs at least one value, but got values={values!r}")
        plain = tuple(_plain(v, f"{kind} values[{i}]") for i, v in enumerate(values))
        object.__setattr__(self, "values", plain)

    @property
    def type(self) -> str:
        return "grid" if self.enumerated else "choice"

    def sample(self, rng: np.random.Generator) -> Any:
        return _copy(self.values[int(rng.integers(len(self.values)))])

    def to_dict(self) -> dict[str, Any]:
        return {"type": self.type, "values": [_copy(v) for v in self.values]}


# --------------------------------------------------------------------------
# HyperDrive's names, as thin constructors
# --------------------------------------------------------------------------


def uniform(low: float, high: float) -> Float:
    """A float uniform in ``[low, high)``."""
    return Float(Uniform(low, high))


def quniform(low: float, high: float, q: float) -> Float:
    """``round(uniform(low, high) / q) * q``."""
    return _quantised(Uniform(low, high), q)


def loguniform(low: float, high: float) -> Float:
    """``exp(uniform(log(low), log(high)))``, with ``0 < low < high``."""
    return Float(Uniform(low, high, log=True))


def qloguniform(low: float, high: float, q: float) -> Float:
    """``round(exp(uniform(log(low), log(high))) / q) * q``."""
    return _quantised(Uniform(low, high, log=True), q)


def normal(mu: float, sigma: float) -> Float:
    """A float from ``normal(mu, sigma)``."""
    return Float(Normal(mu, sigma))


def qnormal(mu: float, sigma: float, q: float) -> Float:
    """``round(normal(mu, sigma) / q) * q``."""
    return _quantised(Normal(mu, sigma), q)


def lognormal(mu: float, sigma: float) -> Float:
    """``exp(normal(mu, sigma))``."""
    return Float(Normal(mu, sigma, log=True))


def qlognormal(mu: float, sigma: float, q: float) -> Float:
    """``round(exp(normal(mu, sigma)) / q) * q``."""
    return _quantised(Normal(mu, sigma, log=True), q)


def randint(low: int, high: int) -> Integer:
    """An int in ``[low, high)``."""
    return Integer(low, high)


def choice(values: list[Any] | tuple[Any, ...]) -> Categorical:
    """One of ``values``, uniformly."""
    return Categorical(values)  # type: ignore[arg-type]


def grid(values: list[Any] | tuple[Any, ...]) -> Categorical:
    """One of ``values``: enumerated by grid search, uniform when sampled."""
    return Categorical(values, enumerated=True)  # type: ignore[arg-type]


def _quantised(prior: Uniform | Normal, q: float) -> Float:
    # Float reads q=None as "not quantised"; a q-variant must not silently become one.
    if q is None:
        raise TypeError(f"q{prior.name} needs a number for q, but got q=None")
    return Float(prior, q)


_CONSTRUCTORS = {
    f.__name__: (f, ("type", *inspect.signature(f).parameters))
    for f in (uniform, quniform, loguniform, qloguniform, normal, qnormal,
              lognormal, qlognormal, randint, choice, grid)
}


def _quoted(keys: Any) -> str:
    return ", ".join(repr(k) for k in keys)


def _dimension_from_dict(spec: Mapping[str, Any]) -> Dimension:
    """Parse a dimension's dict form, e.g. ``{"type": "uniform", "low": 0, "high": 1}``."""
    if "type" not in spec:
        raise ValueError(
            f"dimension is missing key 'type' (one of {_quoted(_CONSTRUCTORS)}), got {dict(spec)!r}"
        )
    kind = spec["type"]
    if not isinstance(kind, str):
        raise TypeError(f"dimension 'type' must be a string, but got type={kind!r}")
    if kind not in _CONSTRUCTORS:
        raise ValueError(f"unknown type {kind!r}; known types: {_quoted(_CONSTRUCTORS)}")
    make, allowed = _CONSTRUCTORS[kind]
    for key in spec:
        if key not in allowed:
            raise ValueError(
                f"unknown key {key!r} for {kind} (allowed keys: {_quoted(allowed)})"
            )
    missing = [key for key in allowed if key not in spec]
    if missing:
        raise ValueError(
            f"{kind} is missing key {missing[0]!r} (required keys: {_quoted(allowed)}), "
            f"got {dict(spec)!r}"
        )
    return make(**{key: spec[key] for key in allowed[1:]})


# --------------------------------------------------------------------------
# YAML: a safe loader that also reads 1e-6 as a float
# --------------------------------------------------------------------------


class _YamlLoader(yaml.SafeLoader):
    """``yaml.SafeLoader`` that reads ``1e-6`` / ``1e3`` as floats, not strings.

    YAML 1.1 (PyYAML) needs a dot and a signed exponent (``1.0e-6``) for a
    float; without this, ``low: 1e-6`` would be the string ``"1e-6"``.
    """


_YamlLoader.add_implicit_resolver(
    "tag:yaml.org,2002:float",
    re.compile(r"^[-+]?(?:[0-9][0-9_]*(?:\.[0-9_]*)?|\.[0-9_]+)[eE][-+]?[0-9]+$"),
    list("-+0123456789."),
)


def _read_file(path: Path) -> Any:
    suffix = path.suffix.lower()
    if suffix not in (".json", ".yaml", ".yml"):
        raise ValueError(f"space file must end in .json, .yaml or .yml, but got {str(path)!r}")
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ValueError(f"cannot read space file {str(path)!r}: {exc}") from None
    try:
        if suffix == ".json":
            return json.loads(text)
        return yaml.load(text, Loader=_YamlLoader)  # noqa: S506 - a SafeLoader subclass
    except (json.JSONDecodeError, yaml.YAMLError) as exc:
        detail = str(exc).replace("\n", " ")
        raise ValueError(f"space file {str(path)!r} is not valid {suffix[1:].upper()}: {detail}") from None


# --------------------------------------------------------------------------
# Space
# --------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Constant:
    """A parameter fixed to ``value`` (already plain) in every config."""

    value: Any


def _parameter(value: Any) -> Dimension | _Constant:
    """One parameter of a spec: a dimension, a dimension's dict form, or a constant."""
    if isinstance(value, Dimension):
        return value
    if isinstance(value, Mapping):
        return _dimension_from_dict(value)
    if value is None or isinstance(value, (bool, str, numbers.Real, list, tuple, np.ndarray, np.bool_)):
        return _Constant(_plain(value, "constant"))
    raise TypeError(
        "must be a dimension (e.g. uniform(0, 1)), a dimension dict "
        "(e.g. {'type': 'uniform', 'low': 0, 'high': 1}) or a JSON-able "
        f"constant, but got {value!r} ({type(value).__name__})"
    )


class Space:
    """A parsed, validated search space: parameter name -> dimension or constant.

    Build one with ``Space.from_spec``, ``Space.from_file`` or ``load_space``.
    """

    __slots__ = ("_params",)

    def __init__(self, params: Mapping[str, Any]) -> None:
        """Validate ``params`` (as in ``from_spec``) and build the space."""
        if not isinstance(params, Mapping):
            raise TypeError(
                "space spec must be a dict mapping parameter names to dimensions, "
                f"but got {type(params).__name__}: {params!r}"
            )
        if not params:
            raise ValueError(
                "space is empty: give at least one parameter, e.g. {'lr': loguniform(1e-5, 0.1)}"
            )
        parsed: dict[str, Dimension | _Constant] = {}
        for name, value in params.items():
            if not isinstance(name, str):
                raise TypeError(
                    f"space parameter names must be strings, but got {name!r} ({type(name).__name__})"
                )
            if not name:
                raise ValueError("space parameter names must be non-empty, but got ''")
            try:
                parsed[name] = _parameter(value)
            except (TypeError, ValueError) as exc:
                raise type(exc)(f"space[{name!r}]: {exc}") from None
        self._params = parsed

    # -- construction ------------------------------------------------------

    @classmethod
    def from_spec(cls, spec: Mapping[str, Any]) -> Space:
        """Parse and validate a spec: names -> dimensions, dim dicts or constants."""
        return cls(spec)

    @classmethod
    def from_file(cls, path: str | os.PathLike[str]) -> Space:
        """Read a spec from a ``.json``, ``.yaml`` or ``.yml`` file."""
        path = Path(path)
        data = _read_file(path)
        try:
            return cls.from_spec(data)
        except (TypeError, ValueError) as exc:
            raise type(exc)(f"{str(path)}: {exc}") from None

    def to_spec(self) -> dict[str, Any]:
        """The JSON-able dict form; ``Space.from_spec(s.to_spec()) == s``."""
        return {
            name: (p.to_dict() if isinstance(p, Dimension) else _copy(p.value))
            for name, p in self._params.items()
        }

    # -- inspection --------------------------------------------------------

    @property
    def names(self) -> tuple[str, ...]:
        """Parameter names, in declared order."""
        return tuple(self._params)

    @property
    def dimensions(self) -> Mapping[str, Dimension]:
        """The non-constant parameters, in declared order."""
        return MappingProxyType(
            {n: p for n, p in self._params.items() if isinstance(p, Dimension)}
        )

    @property
    def constants(self) -> dict[str, Any]:
        """The constant parameters and their values, in declared order."""
        return {n: _copy(p.value) for n, p in self._params.items() if isinstance(p, _Constant)}

    def __len__(self) -> int:
        return len(self._params)

    def __iter__(self) -> Iterator[str]:
        return iter(self._params)

    def __contains__(self, name: object) -> bool:
        return name in self._params

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Space):
            return NotImplemented
        return list(self._params.items()) == list(other._params.items())

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        return f"Space({self.to_spec()!r})"

    # -- random sampling ---------------------------------------------------

    def config(self, i: int, seed: int) -> dict[str, Any]:
        """Config ``i`` of ``sample(n, seed)``, for any ``n > i``, sampled alone."""
        i = _index("i", i)
        seed = _index("seed", seed)
        return self._config(np.random.default_rng([seed, i]))

    def sample(self, n: int, seed: int) -> list[dict[str, Any]]:
        """``n`` configs; config ``i`` depends only on ``(seed, i)``."""
        n = _index("n", n)
        seed = _index("seed", seed)
        return [self._config(np.random.default_rng([seed, i])) for i in range(n)]

    def _config(self, rng: np.random.Generator) -> dict[str, Any]:
        return {
            name: (p.sample(rng) if isinstance(p, Dimension) else _copy(p.value))
            for name, p in self._params.items()
        }

    # -- grid --------------------------------------------------------------

    def _grid_axes(self) -> list[tuple[str, tuple[Any, ...]]]:
        axes = []
        for name, p in self._params.items():
            if isinstance(p, _Constant):
                axes.append((name, (p.value,)))
            elif isinstance(p, Categorical):
                axes.append((name, p.values))
            else:
                raise ValueError(
                    f"space[{name!r}]: grid enumeration needs every dimension to be "
                    f"choice or grid, but {name!r} is {p.to_dict()!r}"
                )
        return axes

    def grid_size(self) -> int:
        """How many configs ``grid()`` holds, computed without enumerating them."""
        return math.prod(len(values) for _, values in self._grid_axes())

    def grid(self) -> GridPoints:
        """Cartesian product of all choice/grid values, last dimension fastest, as a lazy sequence."""
        return GridPoints(self._grid_axes())

    def iter_grid(self) -> Iterator[dict[str, Any]]:
        """Enumerate the grid in ``grid()``'s order."""
        return iter(self.grid())


class GridPoints(Sequence):
    """A grid's configs, none of them built until asked for.

    Point ``i`` is decoded from ``i`` by mixed radix (the last axis is the
    fastest digit), so it equals item ``i`` of ``itertools.product`` over the
    axes, and a grid of 10**24 points costs no more than one of 10. ``len()``
    cannot go past ``sys.maxsize`` in Python: ``size`` holds any size.
    """

    __slots__ = ("_axes", "size")

    def __init__(self, axes: list[tuple[str, tuple[Any, ...]]]) -> None:
        self._axes = axes
        self.size: int = math.prod(len(values) for _, values in axes)

    def __len__(self) -> int:
        if self.size > sys.maxsize:
            raise OverflowError(
                f"the grid has {self.size} points, more than len() can return; use its .size "
                "or Space.grid_size()"
            )
        return self.size

    @overload
    def __getitem__(self, i: int) -> dict[str, Any]: ...

    @overload
    def __getitem__(self, i: slice) -> list[dict[str, Any]]: ...

    def __getitem__(self, i: int | slice) -> dict[str, Any] | list[dict[str, Any]]:
        if isinstance(i, slice):
            return [self[j] for j in range(self.size)[i]]
        if isinstance(i, (bool, np.bool_)) or not isinstance(i, numbers.Integral):
            raise TypeError(f"grid indices must be integers, but got i={i!r}")
        k = int(i) + self.size if i < 0 else int(i)
        if not 0 <= k < self.size:
            raise IndexError(f"grid index out of range: the grid has {self.size} points, but got i={i!r}")
        digits = []
        for _, values in reversed(self._axes):
            k, digit = divmod(k, len(values))
            digits.append(digit)
        return {name: _copy(values[d]) for (name, values), d in zip(self._axes, reversed(digits))}

    def __iter__(self) -> Iterator[dict[str, Any]]:
        names = [name for name, _ in self._axes]
        for combo in itertools.product(*(values for _, values in self._axes)):
            yield {name: _copy(v) for name, v in zip(names, combo)}

    def __eq__(self, other: object) -> bool:
        if isinstance(other, GridPoints):
            return self._axes == other._axes
        if isinstance(other, (list, tuple)):
            return self.size == len(other) and all(a == b for a, b in zip(self, other))
        return NotImplemented

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        return f"<grid of {self.size} configs over {', '.join(name for name, _ in self._axes)}>"


def _index(what: str, value: Any) -> int:
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Integral):
        raise TypeError(f"{what} must be a non-negative integer, but got {what}={value!r}")
    value = int(value)
    if value < 0:
        raise ValueError(f"{what} must be a non-negative integer, but got {what}={value!r}")
    return value


def load_space(obj: Space | Mapping[str, Any] | str | os.PathLike[str]) -> Space:
    """A Space from a Space (returned as is), a spec dict, or a .json/.yaml/.yml path."""
    if isinstance(obj, Space):
        return obj
    if isinstance(obj, Mapping):
        return Space.from_spec(obj)
    if isinstance(obj, (str, os.PathLike)):
        return Space.from_file(obj)
    raise TypeError(
        f"load_space needs a Space, a dict or a path to a .json/.yaml/.yml file, "
        f"but got {type(obj).__name__}: {obj!r}"
    )
