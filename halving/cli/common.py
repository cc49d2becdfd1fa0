"""What every command shares: the error guard, the live progress display, formatting."""

from __future__ import annotations

import contextlib
import functools
import json
import sys
import time
import traceback
import warnings
from typing import Any, Callable, Iterator

import typer

from ..errors import UserError
from ..eventlog import LogDamageWarning

__all__ = ["UsageError", "guard", "Progress", "print_json", "summary_lines", "config_text", "fmt", "state"]

state = {"debug": False}


class UsageError(UserError):
    """Bad arguments: one line on stderr, exit code 2."""


def guard(fn: Callable) -> Callable:
    """The project's own bad-input errors become one clear line and exit code 2 (a
    traceback only with --debug); any other exception is a bug and keeps its traceback."""

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            with _damage_warnings_said():
                return fn(*args, **kwargs)
        except KeyboardInterrupt as exc:
            typer.echo(f"halving: {exc}" if str(exc) else "halving: interrupted", err=True)
            raise typer.Exit(130)
        except UserError as exc:
            if state["debug"]:
                traceback.print_exc()
            typer.echo(f"halving: error: {str(exc).splitlines()[0] if str(exc) else type(exc).__name__}", err=True)
            raise typer.Exit(2)

    return wrapper


@contextlib.contextmanager
def _damage_warnings_said() -> Iterator[None]:
    """A damaged log is said on stderr in one line each, as halving's own warning."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", LogDamageWarning)
        try:
            yield
        finally:
            others = [w for w in caught if not issubclass(w.category, LogDamageWarning)]
            for w in caught:
                if issubclass(w.category, LogDamageWarning):
                    typer.echo(f"halving: warning: {w.message}", err=True)
    for w in others:
        warnings.warn_explicit(w.message, w.category, w.filename, w.lineno)


class Progress:
    """A live rich display of an experiment; silent when stdout is not a terminal."""

    def __init__(self, enabled: bool, title: str, budget: int | None) -> None:
        self.enabled = enabled and sys.stdout.isatty()
        self.title = title
        self.budget = budget
        self.t0 = time.time()
        self.last = 0.0
        self.live = None

    def __enter__(self) -> "Progress":
        if self.enabled:
            from rich.live import Live

            self.live = Live(self.render(None), refresh_per_second=8, transient=True)
            self.live.__enter__()
        return self

    def __exit__(self, *exc: Any) -> None:
        if self.live is not None:
            self.live.__exit__(*exc)

    def __call__(self, engine: Any) -> None:
        if self.live is None:
            return
        now = time.time()
        if now - self.last < 0.1:
            return
        self.last = now
        self.live.update(self.render(engine))

    def render(self, engine: Any) -> Any:
        from rich.table import Table

        from ..result import TrialState

        table = Table(title=self.title, show_header=False, box=None)
        if engine is None:
            table.add_row("starting", "")
            return table
        counts = {s: 0 for s in TrialState}
        for record in engine.trials.values():
            counts[record.state] += 1
        budget = f" of {self.budget}" if self.budget else ""
        best = engine.trials[engine.best_trial].final_value if engine.best_trial is not None else None
        # Trials holding work include those queued behind a busy worker (lookahead): at most
        # `workers` of them train at once.
        workers = getattr(engine.backend, "workers", None) or counts[TrialState.RUNNING]
        training = min(counts[TrialState.RUNNING], workers)
        queued = counts[TrialState.RUNNING] - training
        table.add_row("trials", f"{training} running{f' ({queued} queued)' if queued else ''}, "
                      f"{counts[TrialState.PAUSED]} paused, "
                      f"{counts[TrialState.STOPPED]} stopped, {counts[TrialState.COMPLETED]} finished, "
                      f"{counts[TrialState.FAILED]} failed")
        table.add_row("epochs", f"{engine.epochs_used}{budget}")
        table.add_row("best", "-" if best is None else f"{best:.6g} (trial {engine.best_trial})")
        table.add_row("elapsed", f"{time.time() - self.t0:.1f} s")
        return table


def print_json(obj: Any) -> None:
    typer.echo(json.dumps(obj, indent=2, default=str, allow_nan=True))


def summary_lines(result: Any) -> list[str]:
    lines = [
        f"policy {result.policy}: best {result.metric} ({result.mode}) = {fmt(result.best_value)} "
        f"(trial {result.best_trial})",
        f"best config: {config_text(result.best_config)}",
        f"epochs used: {result.epochs_used}; trials: {result.n_trials} ({result.n_completed} finished, "
        f"{result.n_stopped} stopped, {result.n_failed} failed); wall {result.wall_seconds:.1f} s",
    ]
    for trial, message in sorted(result.failures.items()):
        if result.states.get(trial) is not None and result.states[trial].value == "failed":
            lines.append(f"failed: trial {trial}: {message.splitlines()[0][:200]}")
    if result.stop_reason != "done":
        lines.append(f"stopped early: {result.stop_reason}")
    if result.run_dir:
        lines.append(f"run dir: {result.run_dir}")
    return lines


def config_text(config: Any) -> str:
    """``alpha=0.0005480, loss=hinge``: compact, for tables."""
    if not isinstance(config, dict):
        return str(config)
    return ", ".join(f"{k}={v:.4g}" if isinstance(v, float) else f"{k}={v}" for k, v in config.items())


def fmt(v: Any) -> str:
    return "-" if v is None else f"{v:.6g}" if isinstance(v, float) else str(v)
