"""Script trials: an unchanged argparse training script run once per trial.

The hyperparameters reach the script as ``--name value`` arguments. The
script calls ``halving.report(**metrics)`` once per epoch; inside halving it
runs in the worker actor, in a thread, exactly like a function trainable, so
pause and promotion work the same way. Outside halving, ``report`` prints the
metrics and returns, so the script still runs on its own.
"""

from __future__ import annotations

import collections
import io
import sys
import threading
from pathlib import Path
from typing import Any

__all__ = ["ScriptTrainable", "script_args"]

_TAIL = 40  # lines of a failing script's stderr kept for the log


def script_args(config: dict) -> list[str]:
    """``{"lr": 0.1, "deep": True}`` -> ``["--lr", "0.1", "--deep", "True"]``."""
    args: list[str] = []
    for name, value in config.items():
        args += [f"--{name}", str(value)]
    return args


class _StderrTee(io.TextIOBase):
    """Stands in for ``sys.stderr``: writes from a script's thread are also kept, the last lines only."""

    def __init__(self, original: Any) -> None:
        self.original = original
        self.tails: dict[int, collections.deque] = {}

    def write(self, text: str) -> int:
        tail = self.tails.get(threading.get_ident())
        if tail is not None:
            tail.extend(text.splitlines())
        return self.original.write(text)

    def flush(self) -> None:
        self.original.flush()


_lock = threading.Lock()


_current: list[_StderrTee] = []


def _tee() -> _StderrTee:
    """Our stand-in for ``sys.stderr``, put (back) in place: Ray may set its own between calls."""
    with _lock:
        if not _current:
            _current.append(_StderrTee(sys.stderr))
        tee = _current[0]
        if sys.stderr is not tee:
            if not isinstance(sys.stderr, _StderrTee):
                tee.original = sys.stderr
            sys.stderr = tee
        return tee


_in_script = threading.local()  # set while this thread runs a script trial


def keep_capturing() -> None:
    """Called by ``halving.report``: in a script trial, restore the tee if something replaced it."""
    if getattr(_in_script, "on", False) and _current and sys.stderr is not _current[0]:
        _tee()


class ScriptError(RuntimeError):
    pass


class ScriptTrainable:
    """A function trainable that runs a script file with the trial's config as arguments."""

    def __init__(self, path: str | Path) -> None:
        self.path = str(path)
        self.source = Path(path).read_text(encoding="utf-8")  # shipped to workers with the trainable
        compile(self.source, self.path, "exec")  # a syntax error is bad input, found before anything runs
        self.__name__ = Path(path).stem
        self.__qualname__ = self.__name__
        self.__module__ = "halving.scripts"

    def __call__(self, config: dict) -> None:
        tee = _tee()
        _in_script.on = True
        tail: collections.deque = collections.deque(maxlen=_TAIL)
        tee.tails[threading.get_ident()] = tail
        argv = [self.path, *script_args(config)]
        saved_argv = sys.argv
        sys.argv = argv  # argparse reads sys.argv; one trial starts at a time in a worker
        namespace = {"__name__": "__main__", "__file__": self.path, "__builtins__": __builtins__}
        try:
            exec(compile(self.source, self.path, "exec"), namespace)  # noqa: S102 - the user's own script
        except SystemExit as exc:
            if exc.code not in (None, 0):
                raise ScriptError(f"script {self.path} exited with code {exc.code}; stderr tail:\n"
                                  + "\n".join(tail)) from None
        except BaseException as exc:
            if type(exc).__name__ == "TrialStopped":
                raise
            raise ScriptError(f"script {self.path} raised {type(exc).__name__}: {exc}; stderr tail:\n"
                              + "\n".join(tail)) from exc
        finally:
            sys.argv = saved_argv
            tee.tails.pop(threading.get_ident(), None)
