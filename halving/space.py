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

A space is written as a dict, in Python or in a JSON / YAML file::

    {"lr": {"type": "loguniform", "low": 1e-6, "high": 0.1},
     "batch_size": {"type": "choice", "values": [32, 64, 128]},
     "epochs": 20}

``Space.from_spec`` validates everything up front and raises a ``ValueError``
(or ``TypeError`` for a value of the wrong type) naming the parameter and the
offending value. Config ``i`` of ``Space.sample(n, seed)`` depends only on
``(seed, i)``, so ``Space.config(i, seed)`` gives it without sampling the
others. Sampled values are plain Python ``float`` / ``int`` / ``str`` / ...,
never numpy scalars, so configs serialise to JSON.
"""

from __future__ import annotations

import itertools
import json
import math
import numbers
import os
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, fields
from decimal import Decimal
from pathlib import Path
from types import MappingProxyType
from typing import Any, ClassVar

import numpy as np
import yaml

__all__ = [
    "Choice",
    "Dimension",
    "Grid",
    "LogNormal",
    "LogUniform",
    "Normal",
    "QLogNormal",
    "QLogUniform",
    "QNormal",
    "QUniform",
    "RandInt",
    "Space",
    "Uniform",
    "choice",
    "dimension_from_dict",
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
# dimensions
# --------------------------------------------------------------------------


class Dimension:
    """Base class of all dimensions: one distribution over a parameter's values."""

    __slots__ = ()
    type: ClassVar[str] = ""

    def sample(self, rng: np.random.Generator) -> Any:
        """One value drawn with ``rng``, as a plain Python value."""
        raise NotImplementedError

    def to_dict(self) -> dict[str, Any]:
        """The JSON form, e.g. ``{"type": "uniform", "low": 0.0, "high": 1.0}``."""
        out: dict[str, Any] = {"type": self.type}
        for f in fields(self):  # type: ignore[arg-type]
            out[f.name] = _copy(getattr(self, f.name))
        return out

    @classmethod
    def keys(cls) -> tuple[str, ...]:
        """The keys of this dimension's dict form, ``"type"`` first."""
        return ("type",) + tuple(f.name for f in fields(cls))  # type: ignore[arg-type]


def _check_bounds(kind: str, low: float, high: float) -> None:
    if low >= high:
        raise ValueError(f"{kind} needs low < high, but got low={low!r}, high={high!r}")


@dataclass(frozen=True, slots=True)
class Uniform(Dimension):
    """A float uniform in ``[low, high)``."""

    type: ClassVar[str] = "uniform"
    low: float
    high: float

    def __post_init__(self) -> None:
        low = _real(self.type, "low", self.low)
        high = _real(self.type, "high", self.high)
        _check_bounds(self.type, low, high)
        if not math.isfinite(high - low):
            raise ValueError(
                f"{self.type} needs a finite range high - low, but got low={low!r}, high={high!r}"
            )
        object.__setattr__(self, "low", low)
        object.__setattr__(self, "high", high)

    def sample(self, rng: np.random.Generator) -> float:
        return float(rng.uniform(self.low, self.high))


@dataclass(frozen=True, slots=True)
class QUniform(Dimension):
    """``round(uniform(low, high) / q) * q``, a float."""

    type: ClassVar[str] = "quniform"
    low: float
    high: float
    q: float

    def __post_init__(self) -> None:
        low = _real(self.type, "low", self.low)
        high = _real(self.type, "high", self.high)
        _check_bounds(self.type, low, high)
        if not math.isfinite(high - low):
            raise ValueError(
                f"{self.type} needs a finite range high - low, but got low={low!r}, high={high!r}"
            )
        object.__setattr__(self, "low", low)
        object.__setattr__(self, "high", high)
        object.__setattr__(self, "q", _positive(self.type, "q", self.q))

    def sample(self, rng: np.random.Generator) -> float:
        return _quantize(float(rng.uniform(self.low, self.high)), self.q)


@dataclass(frozen=True, slots=True)
class LogUniform(Dimension):
    """``exp(uniform(log(low), log(high)))``; ``low`` and ``high`` are the actual bounds."""

    type: ClassVar[str] = "loguniform"
    low: float
    high: float

    def __post_init__(self) -> None:
        low = _real(self.type, "low", self.low)
        high = _real(self.type, "high", self.high)
        if low <= 0:
            raise ValueError(f"{self.type} needs low > 0, but got low={low!r}")
        _check_bounds(self.type, low, high)
        object.__setattr__(self, "low", low)
        object.__setattr__(self, "high", high)

    def sample(self, rng: np.random.Generator) -> float:
        x = _exp(float(rng.uniform(math.log(self.low), math.log(self.high))))
        return min(max(x, self.low), self.high)


@dataclass(frozen=True, slots=True)
class QLogUniform(Dimension):
    """``round(exp(uniform(log(low), log(high))) / q) * q``, a float."""

    type: ClassVar[str] = "qloguniform"
    low: float
    high: float
    q: float

    def __post_init__(self) -> None:
        low = _real(self.type, "low", self.low)
        high = _real(self.type, "high", self.high)
        if low <= 0:
            raise ValueError(f"{self.type} needs low > 0, but got low={low!r}")
        _check_bounds(self.type, low, high)
        object.__setattr__(self, "low", low)
        object.__setattr__(self, "high", high)
        object.__setattr__(self, "q", _positive(self.type, "q", self.q))

    def sample(self, rng: np.random.Generator) -> float:
        x = _exp(float(rng.uniform(math.log(self.low), math.log(self.high))))
        return _quantize(min(max(x, self.low), self.high), self.q)


@dataclass(frozen=True, slots=True)
class Normal(Dimension):
    """A float from ``normal(mu, sigma)``."""

    type: ClassVar[str] = "normal"
    mu: float
    sigma: float

    def __post_init__(self) -> None:
        object.__setattr__(self, "mu", _real(self.type, "mu", self.mu))
        object.__setattr__(self, "sigma", _positive(self.type, "sigma", self.sigma))

    def sample(self, rng: np.random.Generator) -> float:
        return float(rng.normal(self.mu, self.sigma))


@dataclass(frozen=True, slots=True)
class QNormal(Dimension):
    """``round(normal(mu, sigma) / q) * q``, a float."""

    type: ClassVar[str] = "qnormal"
    mu: float
    sigma: float
    q: float

    def __post_init__(self) -> None:
        object.__setattr__(self, "mu", _real(self.type, "mu", self.mu))
        object.__setattr__(self, "sigma", _positive(self.type, "sigma", self.sigma))
        object.__setattr__(self, "q", _positive(self.type, "q", self.q))

    def sample(self, rng: np.random.Generator) -> float:
        return _quantize(float(rng.normal(self.mu, self.sigma)), self.q)


@dataclass(frozen=True, slots=True)
class LogNormal(Dimension):
    """``exp(normal(mu, sigma))``, a positive float."""

    type: ClassVar[str] = "lognormal"
    mu: float
    sigma: float

    def __post_init__(self) -> None:
        object.__setattr__(self, "mu", _real(self.type, "mu", self.mu))
        object.__setattr__(self, "sigma", _positive(self.type, "sigma", self.sigma))

    def sample(self, rng: np.random.Generator) -> float:
        return _exp(float(rng.normal(self.mu, self.sigma)))


@dataclass(frozen=True, slots=True)
class QLogNormal(Dimension):
    """``round(exp(normal(mu, sigma)) / q) * q``, a float."""

    type: ClassVar[str] = "qlognormal"
    mu: float
    sigma: float
    q: float

    def __post_init__(self) -> None:
        object.__setattr__(self, "mu", _real(self.type, "mu", self.mu))
        object.__setattr__(self, "sigma", _positive(self.type, "sigma", self.sigma))
        object.__setattr__(self, "q", _positive(self.type, "q", self.q))

    def sample(self, rng: np.random.Generator) -> float:
        return _quantize(_exp(float(rng.normal(self.mu, self.sigma))), self.q)


@dataclass(frozen=True, slots=True)
class RandInt(Dimension):
    """An int uniform in ``[low, high)`` (``high`` excluded, like numpy)."""

    type: ClassVar[str] = "randint"
    low: int
    high: int

    def __post_init__(self) -> None:
        low = _integer(self.type, "low", self.low)
        high = _integer(self.type, "high", self.high)
        _check_bounds(self.type, low, high)
        if low < _INT64_MIN or high > _INT64_MAX:
            raise ValueError(
                f"{self.type} needs bounds within the int64 range, but got low={low!r}, high={high!r}"
            )
        object.__setattr__(self, "low", low)
        object.__setattr__(self, "high", high)

    def sample(self, rng: np.random.Generator) -> int:
        return int(rng.integers(self.low, self.high))


def _values(kind: str, values: Any) -> tuple[Any, ...]:
    if not isinstance(values, (list, tuple)):
        raise TypeError(f"{kind} needs a list of values, but got values={values!r}")
    if not values:
        raise ValueError(f"{kind} needs at least one value, but got values={values!r}")
    return tuple(_plain(v, f"{kind} values[{i}]") for i, v in enumerate(values))


@dataclass(frozen=True, slots=True)
class Choice(Dimension):
    """One of ``values``, each equally likely."""

    type: ClassVar[str] = "choice"
    values: tuple[Any, ...]

    def __post_init__(self) -> None:
        object.__setattr__(self, "values", _values(self.type, self.values))

    def sample(self, rng: np.random.Generator) -> Any:
        return _copy(self.values[int(rng.integers(len(self.values)))])

    def to_dict(self) -> dict[str, Any]:
        return {"type": self.type, "values": [_copy(v) for v in self.values]}


@dataclass(frozen=True, slots=True)
class Grid(Choice):
    """One of ``values``: enumerated by grid search, sampled like ``choice``."""

    type: ClassVar[str] = "grid"


_DIMENSIONS: dict[str, type[Dimension]] = {
    cls.type: cls
    for cls in (
        Uniform, QUniform, LogUniform, QLogUniform, Normal, QNormal,
        LogNormal, QLogNormal, RandInt, Choice, Grid,
    )
}


def uniform(low: float, high: float) -> Uniform:
    """A float uniform in ``[low, high)``."""
    return Uniform(low, high)


def quniform(low: float, high: float, q: float) -> QUniform:
    """``round(uniform(low, high) / q) * q``."""
    return QUniform(low, high, q)


def loguniform(low: float, high: float) -> LogUniform:
    """``exp(uniform(log(low), log(high)))``, with ``0 < low < high``."""
    return LogUniform(low, high)


def qloguniform(low: float, high: float, q: float) -> QLogUniform:
    """``round(exp(uniform(log(low), log(high))) / q) * q``."""
    return QLogUniform(low, high, q)


def normal(mu: float, sigma: float) -> Normal:
    """A float from ``normal(mu, sigma)``."""
    return Normal(mu, sigma)


def qnormal(mu: float, sigma: float, q: float) -> QNormal:
    """``round(normal(mu, sigma) / q) * q``."""
    return QNormal(mu, sigma, q)


def lognormal(mu: float, sigma: float) -> LogNormal:
    """``exp(normal(mu, sigma))``."""
    return LogNormal(mu, sigma)


def qlognormal(mu: float, sigma: float, q: float) -> QLogNormal:
    """``round(exp(normal(mu, sigma)) / q) * q``."""
    return QLogNormal(mu, sigma, q)


def randint(low: int, high: int) -> RandInt:
    """An int in ``[low, high)``."""
    return RandInt(low, high)


def choice(values: list[Any] | tuple[Any, ...]) -> Choice:
    """One of ``values``, uniformly."""
    return Choice(values)  # type: ignore[arg-type]


def grid(values: list[Any] | tuple[Any, ...]) -> Grid:
    """One of ``values``: enumerated by grid search, uniform when sampled."""
    return Grid(values)  # type: ignore[arg-type]


def _quoted(keys: Any) -> str:
    return ", ".join(repr(k) for k in keys)


def dimension_from_dict(spec: Mapping[str, Any]) -> Dimension:
    """Parse a dimension's dict form, e.g. ``{"type": "uniform", "low": 0, "high": 1}``."""
    if not isinstance(spec, Mapping):
        raise TypeError(f"a dimension must be a dict with a 'type' key, but got {spec!r}")
    if "type" not in spec:
        raise ValueError(
            f"dimension is missing key 'type' (one of {_quoted(_DIMENSIONS)}), got {dict(spec)!r}"
        )
    kind = spec["type"]
    if not isinstance(kind, str):
        raise TypeError(f"dimension 'type' must be a string, but got type={kind!r}")
    cls = _DIMENSIONS.get(kind)
    if cls is None:
        raise ValueError(f"unknown type {kind!r}; known types: {_quoted(_DIMENSIONS)}")
    allowed = cls.keys()
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
    return cls(**{key: spec[key] for key in allowed[1:]})


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
                if isinstance(value, Dimension):
                    parsed[name] = value
                elif isinstance(value, Mapping):
                    parsed[name] = dimension_from_dict(value)
                elif value is None or isinstance(
                    value, (bool, str, numbers.Real, list, tuple, np.ndarray, np.bool_)
                ):
                    parsed[name] = _Constant(_plain(value, "constant"))
                else:
                    raise TypeError(
                        "must be a dimension (e.g. uniform(0, 1)), a dimension dict "
                        "(e.g. {'type': 'uniform', 'low': 0, 'high': 1}) or a JSON-able "
                        f"constant, but got {value!r} ({type(value).__name__})"
                    )
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
            elif isinstance(p, Choice):  # Grid is a Choice
                axes.append((name, p.values))
            else:
                raise ValueError(
                    f"space[{name!r}]: grid enumeration needs every dimension to be "
                    f"choice or grid, but {name!r} is {p.to_dict()!r}"
                )
        return axes

    def grid_size(self) -> int:
        """How many configs ``grid()`` enumerates."""
        return math.prod(len(values) for _, values in self._grid_axes())

    def iter_grid(self) -> Iterator[dict[str, Any]]:
        """Lazily enumerate the grid, like ``grid()``."""
        axes = self._grid_axes()
        names = [name for name, _ in axes]
        for combo in itertools.product(*(values for _, values in axes)):
            yield {name: _copy(v) for name, v in zip(names, combo)}

    def grid(self) -> list[dict[str, Any]]:
        """Cartesian product of all choice/grid values, last dimension fastest."""
        return list(self.iter_grid())


@dataclass(frozen=True, slots=True)
class _Constant:
    """A parameter fixed to ``value`` (already plain) in every config."""

    value: Any


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
