"""Argument checks shared by tune, simulate and the engine: one message style everywhere."""

from __future__ import annotations

from typing import Any

__all__ = ["count", "seconds"]


def count(name: str, value: Any, *, low: int = 1, allow_none: bool = False) -> None:
    """An int >= ``low`` (bools are not ints here)."""
    if value is None and allow_none:
        return
    if isinstance(value, bool) or not isinstance(value, int) or value < low:
        what = "a positive int" if low == 1 else f"an int >= {low}"
        raise ValueError(f"{name} must be {what}, but got {name}={value!r}")


def seconds(name: str, value: Any, *, allow_none: bool = True) -> None:
    """A positive number of seconds."""
    if value is None and allow_none:
        return
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not value > 0:
        raise ValueError(f"{name} must be a positive number of seconds, but got {name}={value!r}")
