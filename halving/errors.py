"""The project's own errors for bad input: the CLI turns these, and only these, into one
line and exit code 2. Any other exception is a bug and keeps its traceback."""

from __future__ import annotations

__all__ = ["UserError", "UserTypeError", "SpecError", "SpecTypeError"]


class UserError(ValueError):
    """Bad input from the user: a setting, a file, a target, a run dir."""


class SpecError(UserError):
    """An experiment's settings do not make a valid experiment."""


class UserTypeError(UserError, TypeError):
    """Bad input of the wrong type (a trainable that is neither a function nor a class, ...)."""


class SpecTypeError(SpecError, UserTypeError):
    """A setting of the wrong type, or a parameter the policy does not take."""
