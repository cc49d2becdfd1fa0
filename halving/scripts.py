"""Script trials: an unchanged argparse training script run once per trial.

The hyperparameters reach the script as command-line arguments (see
:func:`script_args`). The script calls ``halving.report(**metrics)`` once per
epoch; inside halving it runs in the worker actor, in a thread, exactly like a
function trainable, so pause and promotion work the same way. Outside
halving, ``report`` prints the metrics and returns, so the script still runs
on its own.

As under ``python train.py``, the script's folder comes first on
``sys.path`` while it runs, so ``import helpers`` finds ``helpers.py`` beside
it; when the last script of that folder in the worker ends, the folder leaves
``sys.path`` and the modules imported from it leave ``sys.modules``, so a
later experiment's script with its own ``helpers.py`` gets its own.
"""

from __future__ import annotations

import collections
import io
import os
import sys
import threading
from pathlib import Path
from typing import Any

import numpy as np

__all__ = ["ScriptTrainable", "script_args"]

_TAIL = 40  # lines of a failing script's stderr kept for the log


def script_args(config: dict) -> list[str]:
    """A trial's config as a script's command line.

    ``{"lr": 0.1, "loss": "hinge"}`` -> ``["--lr", "0.1", "--loss", "hinge"]``.
    A boolean is a flag, as argparse's ``store_true`` and ``store_false``
    expect: ``True`` passes ``--name`` alone, ``False`` leaves it out, so
    ``{"nesterov": True, "augment": False}`` -> ``["--nesterov"]``. For a
    flag that is on by default, name the flag that turns it off in the space
    (``"no-augment": choice([True, False])`` with
    ``add_argument("--no-augment", dest="augment", action="store_false")``).
    """
    args: list[str] = []
    for name, value in config.items():
        if isinstance(value, (bool, np.bool_)):
            if value:
                args.append(f"--{name}")
        else:
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


# Script runs in this process: a paused trial stays inside its script (blocked in report) while
# another trial starts in the worker, and a finished trial's thread may still be leaving its
# script when the next one starts. So what a run changes is undone when the last run ends,
# never by each run restoring what it saw (it would pull the argv from under a starting script).
_running = 0
_saved_argv: list[str] = []
_users: collections.Counter = collections.Counter()  # runs per script folder on sys.path
_loaded_before: dict[str, set] = {}  # per folder: the modules loaded before its first run began


def _enter(folder: str, argv: list[str]) -> None:
    """Set the argv argparse reads, and put ``folder`` first on ``sys.path`` as ``python script.py`` does."""
    global _running
    with _lock:
        if _running == 0:
            _saved_argv[:] = sys.argv
        _running += 1
        sys.argv = argv
        if _users[folder] == 0:
            sys.path.insert(0, folder)
            _loaded_before[folder] = set(sys.modules)
        _users[folder] += 1


def _leave(folder: str) -> None:
    """Undo :func:`_enter` for what no running script still uses."""
    global _running
    with _lock:
        _running -= 1
        if _running == 0:
            sys.argv = list(_saved_argv)
        _users[folder] -= 1
        if _users[folder] > 0:
            return
        del _users[folder]
        before = _loaded_before.pop(folder)
        if folder in sys.path:
            sys.path.remove(folder)
        # Only modules loaded from the folder meanwhile: the worker's other modules stay cached.
        for name in set(sys.modules) - before:
            if _inside(getattr(sys.modules.get(name), "__file__", None), folder):
                del sys.modules[name]


def _inside(file: str | None, folder: str) -> bool:
    if not file:
        return False
    where = os.path.dirname(os.path.abspath(file))
    return where == folder or where.startswith(folder + os.sep)


def _cause(tail: collections.deque) -> str:
    """The last line of a stderr tail: argparse's ``error:`` line and a traceback's exception both end there."""
    lines = [line.strip() for line in tail if line.strip()]
    return lines[-1] if lines else "(nothing on stderr)"


class ScriptTrainable:
    """A function trainable that runs a script file with the trial's config as arguments."""

    def __init__(self, path: str | Path) -> None:
        self.path = str(path)  # sys.argv[0] as the user typed it, so argparse's messages name it the same way
        self.file = os.path.abspath(self.path)
        self.folder = os.path.dirname(self.file)
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
        _enter(self.folder, [self.path, *script_args(config)])
        namespace = {"__name__": "__main__", "__file__": self.file, "__builtins__": __builtins__}
        try:
            exec(compile(self.source, self.path, "exec"), namespace)  # noqa: S102 - the user's own script
        except SystemExit as exc:
            if exc.code not in (None, 0):
                raise self._exited(exc.code, tail) from None
        except BaseException as exc:
            if type(exc).__name__ == "TrialStopped":
                raise
            raise self._raised(exc, tail) from exc
        finally:
            _leave(self.folder)
            tee.tails.pop(threading.get_ident(), None)

    def _exited(self, code: Any, tail: collections.deque) -> ScriptError:
        # The first line is what `halving run` and `show` print for a failed trial: it names the cause.
        name = Path(self.path).name
        if isinstance(code, int):
            first = f"script {name} exited with code {code}: {_cause(tail)}"
        else:  # sys.exit("message"): Python prints the message and exits with 1
            first = f"script {name} exited with code 1: {code}"
        return ScriptError(f"{first}\n{self._tail_text(tail)}")

    def _raised(self, exc: BaseException, tail: collections.deque) -> ScriptError:
        lines = str(exc).strip().splitlines()
        cause = f"{type(exc).__name__}: {lines[0]}" if lines else type(exc).__name__
        parts = [f"script {Path(self.path).name} raised {cause}", *lines[1:], self._tail_text(tail)]
        return ScriptError("\n".join(parts))

    def _tail_text(self, tail: collections.deque) -> str:
        return f"script {self.path}; stderr tail:\n" + "\n".join(tail)
