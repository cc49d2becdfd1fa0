"""Resolving what the CLI is asked to tune: ``pkg.module:func``,
``path/file.py:func``, or a bundled example name; and its search space."""

from __future__ import annotations

import importlib
import importlib.util
import os
import sys
from pathlib import Path
from typing import Any

from .errors import UserError

__all__ = ["TargetError", "resolve_target", "example_defaults"]


class TargetError(UserError):
    """The target cannot be found or is not a trainable."""


def example_defaults(name: str) -> dict:
    from halving.examples import DEFAULTS

    return dict(DEFAULTS.get(name, {}))


def resolve_target(target: str) -> tuple[Any, Any, str]:
    """Returns ``(trainable, space attribute or None, canonical target string)``."""
    if not isinstance(target, str) or not target.strip():
        raise TargetError(f"TARGET must be pkg.module:func, path/file.py:func or an example name, got {target!r}")
    from halving.examples import EXAMPLES

    if target in EXAMPLES:
        trainable, space, _ = resolve_target(EXAMPLES[target])
        return trainable, space, target
    if ":" not in target and target.endswith(".py"):
        from .scripts import ScriptTrainable

        path = Path(target)
        if not path.is_file():
            raise TargetError(f"script {target} does not exist")
        try:
            return ScriptTrainable(path), None, target
        except SyntaxError as exc:
            raise TargetError(f"script {target} has a syntax error: {exc}") from None
    if ":" not in target:
        names = ", ".join(EXAMPLES)
        raise TargetError(f"unknown target {target!r}: use pkg.module:func, path/file.py:func, a script "
                          f"path/train.py, or one of {names}")
    where, _, attr = target.rpartition(":")
    if not attr:
        raise TargetError(f"target {target!r} names no function after ':'")
    if where.endswith(".py") or os.sep in where or "/" in where:
        path = Path(where)
        if not path.is_file():
            raise TargetError(f"target file {where} does not exist")
        module = _import_file(path)
        canonical = f"{path}:{attr}"
    else:
        try:
            module = importlib.import_module(where)
        except ImportError as exc:
            raise TargetError(f"cannot import module {where!r} of target {target!r}: {exc}") from None
        canonical = target
    obj = module
    for part in attr.split("."):
        if not hasattr(obj, part):
            raise TargetError(f"{where} has no attribute {attr!r}")
        obj = getattr(obj, part)
    if not callable(obj):
        raise TargetError(f"target {target!r} is not callable")
    return obj, getattr(module, "space", None), canonical


def _import_file(path: Path) -> Any:
    name = f"halving_target_{abs(hash(str(path.resolve())))}"
    if name in sys.modules:
        return sys.modules[name]
    spec = importlib.util.spec_from_file_location(name, path)
    if spec is None or spec.loader is None:
        raise TargetError(f"cannot import {path}")
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    # The file's folder is importable from it, as when it runs as a script.
    sys.path.insert(0, str(path.resolve().parent))
    try:
        spec.loader.exec_module(module)
    except Exception as exc:
        del sys.modules[name]
        raise TargetError(f"importing {path} failed: {type(exc).__name__}: {exc}") from None
    # Ray's workers cannot import a module loaded from a path: ship its code by value.
    from .backends.ray_cluster import ship_by_value

    ship_by_value(module)
    return module
