"""Multi-fidelity test functions as learning curves, workloads for ``halving.simulate``.

Each function is a ``MultiFidelityFunction``: its search ``space``, the true minimum
``optimum`` (and where it is, ``argmin``), its ``mode`` and a ``curve(config, epoch)``
to pass to ``halving.simulate`` as ``curve_fn``. Epoch ``e`` of ``max_epochs`` evaluates
the function at fidelity ``z = e / max_epochs``, where the landscape itself shifts
(so rankings change as trials train), plus noise whose standard deviation is
``noise / sqrt(e)`` (an average over ``e`` times more data): at the last epoch the
curve is the true function with a little noise. The noise is a hash of the seed,
the config and the epoch: the same for the same arguments in any process, with no
random state.

Fidelity forms (``z = 1`` is the plain function):

- ``branin``: Branin-Hoo on [-5, 10] x [0, 15] with b(z) = 5.1/(4 pi^2) - 0.01 (1 - z),
  c(z) = 5/pi - 0.1 (1 - z), t(z) = 1/(8 pi) + 0.05 (1 - z), after Kandasamy et al.,
  "Multi-fidelity Bayesian optimisation with continuous approximations" (ICML 2017).
  Minimum 5/(4 pi) at (-pi, 12.275), (pi, 2.275), (3 pi, 2.475).
- ``hartmann6``: Hartmann-6 on [0, 1]^6 with each alpha_i lowered by 0.1 (1 - z), as in
  the same paper. Minimum -3.32237 near (0.2017, 0.1500, 0.4769, 0.2753, 0.3117, 0.6573).

``regret(config)`` is the true value of a config above the optimum; ``regret_by_budget``
follows an experiment's incumbent (its best trial at ``max_epochs`` so far, as
``Result.best_trial``) against the epochs it had used.
"""

from __future__ import annotations

import hashlib
import math
import struct
from dataclasses import dataclass
from typing import Any, Callable, Mapping, Sequence

import numpy as np

from . import space as S
from .errors import UserError
from .result import Result

__all__ = ["MultiFidelityFunction", "FUNCTIONS", "branin", "hartmann6", "get"]

_SCALE = 2.0**-53  # 53 random bits -> a float in [0, 1)


@dataclass(frozen=True, eq=False)
class MultiFidelityFunction:
    """A test function ``formula(x, z)`` (``x`` in ``space`` order, fidelity ``z`` in (0, 1])
    seen as learning curves over ``max_epochs`` epochs, with noise seeded by ``seed``."""

    name: str
    space: Mapping[str, S.Dimension]
    formula: Callable[[Sequence[float], float], float]
    optimum: float
    argmin: tuple[Mapping[str, float], ...]
    max_epochs: int = 81
    noise: float = 0.0
    seed: int = 0
    mode: str = "min"

    def __post_init__(self) -> None:
        if isinstance(self.max_epochs, bool) or not isinstance(self.max_epochs, int) or self.max_epochs < 1:
            raise UserError(f"max_epochs must be a positive int, but got max_epochs={self.max_epochs!r}")
        if not (isinstance(self.noise, (int, float)) and self.noise >= 0):
            raise UserError(f"noise must be a number >= 0, but got noise={self.noise!r}")
        if isinstance(self.seed, bool) or not isinstance(self.seed, int) or self.seed < 0:
            raise UserError(f"seed must be an int >= 0, but got seed={self.seed!r}")

    def _x(self, config: Mapping[str, Any]) -> list[float]:
        try:
            return [float(config[k]) for k in self.space]
        except KeyError as exc:
            raise UserError(f"{self.name} needs a config with {list(self.space)}, but got {config!r}") from None

    def value(self, config: Mapping[str, Any], fidelity: float = 1.0) -> float:
        """The function without noise at ``fidelity`` (1: the true function)."""
        return self.formula(self._x(config), fidelity)

    def curve(self, config: Mapping[str, Any], epoch: int) -> float:
        """The metric after epoch ``epoch`` (1 to ``max_epochs``): a ``curve_fn`` for ``halving.simulate``."""
        x = self._x(config)
        value = self.formula(x, epoch / self.max_epochs)
        if self.noise:
            value += self.noise / math.sqrt(epoch) * _normal(self.seed, x, epoch)
        return value

    def regret(self, config: Mapping[str, Any]) -> float:
        """How far the true value of ``config`` is from the optimum (>= 0)."""
        gap = self.value(config) - self.optimum
        return gap if self.mode == "min" else -gap

    def regret_by_budget(self, result: Result, budgets: Sequence[int] | np.ndarray) -> np.ndarray:
        """The regret of ``result``'s incumbent once it had used each budget (in epochs).

        Reports are taken in the order they arrived (virtual time, ties in the order the
        engine handled them); the incumbent after ``b`` epochs is the best value at
        ``max_epochs`` among the first ``b`` reports, as ``Result.best_trial`` is at the
        end. Before any trial reached ``max_epochs`` there is none: the regret is ``inf``.
        A budget past the epochs the run used keeps its final incumbent.
        """
        if result.mode != self.mode:
            raise UserError(f"{self.name} is {self.mode}imised, but the result's mode is {result.mode!r}")
        table = result.table()
        order = np.argsort(table.column("time").to_numpy(), kind="stable")
        trial = table.column("trial").to_numpy()[order]
        epoch = table.column("epoch").to_numpy()[order]
        value = table.column(result.metric).to_numpy()[order]
        full = np.flatnonzero(epoch == result.max_epochs)  # positions of full-fidelity reports, in time order
        sign = 1.0 if result.mode == "min" else -1.0
        incumbent: list[float] = []  # the incumbent's regret after each full-fidelity report
        best_value = best_trial = None
        for pos in full:
            v, t = sign * value[pos], int(trial[pos])
            if best_value is None or v < best_value or (v == best_value and t < best_trial):
                best_value, best_trial = v, t
                regret = self.regret(result.configs[t])
            incumbent.append(regret)
        seen = np.searchsorted(full, np.asarray(budgets, dtype=np.int64), side="left")  # full reports within b
        regrets = np.array([math.inf, *incumbent])
        return regrets[seen]


def _normal(seed: int, x: Sequence[float], epoch: int) -> float:
    """A standard normal drawn from a hash of (seed, x, epoch) (Box-Muller): no random state."""
    digest = hashlib.blake2b(struct.pack(f"<qq{len(x)}d", seed, epoch, *x), digest_size=16).digest()
    a, b = struct.unpack("<QQ", digest)
    u1 = 1.0 - (a >> 11) * _SCALE  # in (0, 1]: log is finite
    u2 = (b >> 11) * _SCALE
    return math.sqrt(-2.0 * math.log(u1)) * math.cos(2.0 * math.pi * u2)


# -- Branin ---------------------------------------------------------------------

_BRANIN_ARGMIN = ((-math.pi, 12.275), (math.pi, 2.275), (3.0 * math.pi, 2.475))


def _branin(x: Sequence[float], z: float) -> float:
    x1, x2 = x
    lag = 1.0 - z
    b = 5.1 / (4.0 * math.pi**2) - 0.01 * lag
    c = 5.0 / math.pi - 0.1 * lag
    t = 1.0 / (8.0 * math.pi) + 0.05 * lag
    return (x2 - b * x1 * x1 + c * x1 - 6.0) ** 2 + 10.0 * (1.0 - t) * math.cos(x1) + 10.0


def branin(*, max_epochs: int = 81, noise: float = 2.0, seed: int = 0) -> MultiFidelityFunction:
    """Branin-Hoo (2-D), minimised; noise sd 2.0 after one epoch, 2.0/9 after 81."""
    return MultiFidelityFunction(
        "branin", {"x1": S.uniform(-5.0, 10.0), "x2": S.uniform(0.0, 15.0)}, _branin,
        optimum=min(_branin(x, 1.0) for x in _BRANIN_ARGMIN),  # 5/(4 pi), as the formula rounds it
        argmin=tuple({"x1": x1, "x2": x2} for x1, x2 in _BRANIN_ARGMIN),
        max_epochs=max_epochs, noise=noise, seed=seed)


# -- Hartmann-6 -----------------------------------------------------------------

_ALPHA = (1.0, 1.2, 3.0, 3.2)
_A = ((10.0, 3.0, 17.0, 3.5, 1.7, 8.0), (0.05, 10.0, 17.0, 0.1, 8.0, 14.0),
      (3.0, 3.5, 1.7, 10.0, 17.0, 8.0), (17.0, 8.0, 0.05, 10.0, 0.1, 14.0))
_P = tuple(tuple(p * 1e-4 for p in row) for row in (
    (1312, 1696, 5569, 124, 8283, 5886), (2329, 4135, 8307, 3736, 1004, 9991),
    (2348, 1451, 3522, 2883, 3047, 6650), (4047, 8828, 8732, 5743, 1091, 381)))
# The minimiser to 1e-10 (found with scipy from the published one, which is rounded).
_HARTMANN6_ARGMIN = (0.2016895091, 0.1500106935, 0.4768739729, 0.2753324275, 0.3116516172, 0.6573005345)


_TERMS = tuple(zip(_ALPHA, (tuple(zip(a, p)) for a, p in zip(_A, _P))))  # (alpha_i, ((A_ij, P_ij), ...))


def _hartmann6(x: Sequence[float], z: float) -> float:
    lag = 0.1 * (1.0 - z)
    total = 0.0
    for alpha, row in _TERMS:  # plain loops: a simulation asks for this once per epoch trained
        s = 0.0
        for (a, p), xj in zip(row, x):
            d = xj - p
            s += a * d * d
        total += (alpha - lag) * math.exp(-s)
    return -total


def hartmann6(*, max_epochs: int = 81, noise: float = 0.1, seed: int = 0) -> MultiFidelityFunction:
    """Hartmann-6 (6-D), minimised; noise sd 0.1 after one epoch, 0.1/9 after 81."""
    names = tuple(f"x{i}" for i in range(1, 7))
    return MultiFidelityFunction(
        "hartmann6", {k: S.uniform(0.0, 1.0) for k in names}, _hartmann6,
        optimum=_hartmann6(_HARTMANN6_ARGMIN, 1.0), argmin=(dict(zip(names, _HARTMANN6_ARGMIN)),),
        max_epochs=max_epochs, noise=noise, seed=seed)


#: Name -> factory (``max_epochs``, ``noise``, ``seed`` keywords).
FUNCTIONS: dict[str, Callable[..., MultiFidelityFunction]] = {"branin": branin, "hartmann6": hartmann6}


def get(name: str, **settings: Any) -> MultiFidelityFunction:
    """The test function ``name`` with ``settings`` (``max_epochs``, ``noise``, ``seed``)."""
    if name not in FUNCTIONS:
        raise UserError(f"unknown test function {name!r}; choose one of {', '.join(FUNCTIONS)}")
    return FUNCTIONS[name](**settings)
