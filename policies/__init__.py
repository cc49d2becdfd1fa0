"""Pure decision logic for early-termination hyperparameter tuning.

No import of ray, pyarrow, typer or halving: a policy is a deterministic
function of its parameters, its seed and the events it was shown.
"""

from __future__ import annotations

import inspect

from ._asha import ASHA, ASHAStop
from ._curve import ASHACurve
from ._base import (
    DONE,
    WAIT,
    Action,
    Assignment,
    Decision,
    Direction,
    Policy,
    Reason,
    Report,
    rung_levels,
)
from ._hyperband import Hyperband, hyperband_brackets
from ._interval import Bandit, MedianStopping, NoPruning, TruncationSelection
from ._rungs_base import Bracket
from ._sha import SuccessiveHalving

__all__ = [
    "ASHA",
    "ASHACurve",
    "ASHAStop",
    "Action",
    "Assignment",
    "Bandit",
    "Bracket",
    "DONE",
    "Decision",
    "Direction",
    "Hyperband",
    "MedianStopping",
    "NOT_BY_NAME",
    "NoPruning",
    "POLICIES",
    "Policy",
    "Reason",
    "Report",
    "SuccessiveHalving",
    "TruncationSelection",
    "WAIT",
    "hyperband_brackets",
    "make",
    "parameters",
    "rung_levels",
]

#: Policy names accepted by ``halving.tune(policy=...)`` and the CLI.
POLICIES: dict[str, type[Policy]] = {
    "asha": ASHA,
    "asha-stop": ASHAStop,
    "asha-curve": ASHACurve,
    "sha": SuccessiveHalving,
    "hyperband": Hyperband,
    "median": MedianStopping,
    "bandit": Bandit,
    "truncation": TruncationSelection,
    "none": NoPruning,
}

# Defaults applied by name when a parameter has none (bandit needs a slack).
_NAME_DEFAULTS: dict[str, dict] = {"bandit": {"slack_factor": 0.1}}


# Set by the experiment (max_epochs) or by Hyperband for its brackets, never chosen by name.
NOT_BY_NAME = ("self", "max_epochs", "bracket")


def parameters(name: str) -> dict[str, object]:
    """The parameters a named policy takes, with their defaults."""
    cls = _lookup(name)
    out = {}
    for p in inspect.signature(cls.__init__).parameters.values():
        if p.name in NOT_BY_NAME:
            continue
        out[p.name] = _NAME_DEFAULTS.get(name, {}).get(p.name, p.default)
    return out


def make(name: str, **params: object) -> Policy:
    """Build a policy by name; parameters it does not take are a ``TypeError``.

    >>> make("asha", eta=3, min_epochs=1)
    ASHA(eta=3, min_epochs=1)
    """
    cls = _lookup(name)
    known = parameters(name)
    unknown = sorted(set(params) - set(known))
    if unknown:
        raise TypeError(f"policy {name!r} takes no parameter {unknown[0]!r}; it takes {sorted(known)}")
    merged = {**_NAME_DEFAULTS.get(name, {}), **params}
    if name == "bandit" and "slack_amount" in params and "slack_factor" not in params:
        merged.pop("slack_factor")
    return cls(**merged)


def _lookup(name: str) -> type[Policy]:
    if not isinstance(name, str) or name not in POLICIES:
        raise ValueError(f"unknown policy {name!r}; choose one of {', '.join(POLICIES)}")
    return POLICIES[name]
