"""scikit-learn's ``param_distributions`` as a halving search space, for a sampler that
proposes configurations as results come in (``tpe``, ``bohb``, ``grid``, a custom one).

``HalvingSearchCV`` with ``sampler="random"`` draws its candidates up front with
scikit-learn's ``ParameterSampler``. A model sampler cannot: it proposes each config
from the reports before it, in a halving ``Space``. ``ParamSpace.of`` translates the
distributions once, before anything runs:

* a list is a ``grid`` dimension over its positions, so that any listed value (an
  estimator, a tuple, None) comes back as the very object listed, and a grid sampler
  can walk it;
* a frozen scipy.stats ``uniform``, ``loguniform`` (``reciprocal``), ``randint`` or
  ``norm`` is halving's ``uniform``, ``loguniform``, ``randint`` or ``normal`` with the
  same support (and type: ``randint`` gives ints);
* anything else is a ``SpecTypeError`` naming the parameter: a model needs to know the
  domain, and ``rvs`` alone does not tell it.

A list of dicts adds a ``dict`` dimension that picks one of them (uniformly, as
``ParameterSampler`` does) and names dict ``k``'s parameters ``<name>@<k>``; the
dimensions of the dicts not picked are proposed and ignored.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from scipy import stats

from . import space as hspace
from .errors import SpecError, SpecTypeError

__all__ = ["SUPPORTED", "ParamSpace"]

#: The scipy.stats distributions a model sampler takes, by scipy's name.
SUPPORTED = ("uniform", "loguniform", "reciprocal", "randint", "norm")

_DICT = "dict"  # the dimension picking one of several dicts


@dataclass(frozen=True)
class _Param:
    """One parameter: the name the user gave, its dimension's name in the space, and the
    listed values when the dimension indexes a list (None: the value is the parameter's)."""

    name: str
    dim: str
    values: tuple | None


@dataclass(frozen=True)
class ParamSpace:
    """The halving space of ``param_distributions`` and the way back from its configs."""

    space: hspace.Space
    dicts: tuple[tuple[_Param, ...], ...]

    @classmethod
    def of(cls, param_distributions: Any, sampler: str) -> ParamSpace:
        """Translate a dict (or list of dicts) as ``ParameterSampler`` takes it; ``sampler``
        names the sampler in the errors."""
        many = not isinstance(param_distributions, Mapping)
        dicts = list(param_distributions) if many else [param_distributions]
        dims: dict[str, Any] = {}
        params = []
        if many and len(dicts) > 1:
            dims[_DICT] = hspace.grid(list(range(len(dicts))))
        for k, dist in enumerate(dicts):
            where = f"param_distributions[{k}]" if many else "param_distributions"
            if not isinstance(dist, Mapping):
                raise SpecTypeError(f"{where} must be a dict of parameter names to lists or distributions, but "
                                    f"got {dist!r}")
            row = []
            for name, value in dist.items():
                dim = f"{name}@{k}" if len(dicts) > 1 else str(name)
                dims[dim], values = _dimension(f"{where}[{name!r}]", value, sampler)
                row.append(_Param(name, dim, values))
            params.append(tuple(row))
        if not dims:
            raise SpecError(f"param_distributions={param_distributions!r} has no parameter to search; sampler "
                            f"{sampler!r} needs at least one")
        return cls(hspace.Space(dims), tuple(params))

    def params(self, config: Mapping[str, Any]) -> dict:
        """The candidate's parameters, as the user named them, for a config of ``space``."""
        row = self.dicts[int(config[_DICT])] if len(self.dicts) > 1 else self.dicts[0]
        return {p.name: config[p.dim] if p.values is None else p.values[int(config[p.dim])] for p in row}

    def listing(self, configs: Mapping[int, dict]) -> tuple[list[dict], dict[int, int]]:
        """The candidates of the trials the sampler proposed, by trial, and the trial of each."""
        trials = sorted(configs)
        return [self.params(configs[t]) for t in trials], dict(enumerate(trials))

    @property
    def n_distinct(self) -> int | None:
        """How many different candidates there are when every parameter is listed (the
        sum over dicts of their grids' sizes), else None: no more trials are worth proposing."""
        if any(p.values is None for row in self.dicts for p in row):
            return None
        return sum(math.prod(len(p.values) for p in row) for row in self.dicts)


def _dimension(where: str, value: Any, sampler: str) -> tuple[hspace.Dimension, tuple | None]:
    """A parameter's dimension, and its listed values when it indexes a list."""
    if hasattr(value, "rvs"):
        return _distribution(where, value, sampler), None
    if isinstance(value, str) or not isinstance(value, Iterable):
        raise SpecTypeError(f"{where} must be a list of values or a scipy.stats distribution, but got {value!r}")
    values = tuple(value)
    if not values:
        raise SpecError(f"{where} is an empty list: give at least one value")
    return hspace.grid(list(range(len(values)))), values


def _distribution(where: str, rv: Any, sampler: str) -> hspace.Dimension:
    dist = getattr(rv, "dist", None)
    name = getattr(dist, "name", None)
    if name not in SUPPORTED or not isinstance(dist, _SCIPY.get(name, ())):
        raise SpecTypeError(
            f"{where} is {_describe(rv)}, which sampler {sampler!r} cannot propose from: a model sampler searches "
            f"lists and the frozen scipy.stats distributions uniform, loguniform (reciprocal), randint and norm. "
            f"Give one of those, or sampler='random', which draws from any distribution with rvs")
    low, high = (float(x) if name != "randint" else int(x) for x in rv.support())
    try:
        if name == "uniform":
            return hspace.uniform(low, high)
        if name == "randint":
            return hspace.randint(low, high + 1)  # scipy's support ends at high - 1
        if name == "norm":
            return hspace.normal(float(rv.mean()), float(rv.std()))
        if _loc(rv) != 0:  # scale * loguniform(a, b) is loguniform(scale * a, scale * b); a shift is not
            raise ValueError(f"loc={_loc(rv)!r} shifts it off a log-uniform; give loguniform(a, b) without loc")
        return hspace.loguniform(low, high)
    except (TypeError, ValueError) as exc:
        raise SpecError(f"{where} is {_describe(rv)}: {exc}") from None


_SCIPY = {"uniform": type(stats.uniform), "loguniform": type(stats.loguniform), "reciprocal": type(stats.reciprocal),
          "randint": type(stats.randint), "norm": type(stats.norm)}


def _loc(rv: Any) -> float:
    """A frozen distribution's ``loc``: its positional argument after the shapes, or keyword."""
    n_shapes = len(rv.dist.shapes.split(",")) if rv.dist.shapes else 0
    loc = rv.args[n_shapes] if len(rv.args) > n_shapes else rv.kwds.get("loc", 0)
    return float(loc) if isinstance(loc, numbers.Real) else loc


def _describe(rv: Any) -> str:
    dist = getattr(rv, "dist", None)
    if dist is not None and getattr(dist, "name", None):
        args = [repr(a) for a in getattr(rv, "args", ())] + [f"{k}={v!r}" for k, v in getattr(rv, "kwds", {}).items()]
        return f"scipy.stats.{dist.name}({', '.join(args)})"
    return f"{rv!r} ({type(rv).__name__})"
