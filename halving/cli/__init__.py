"""The ``halving`` command line: a small typer app joined from one sub-app per group of
commands (training, reading a run dir, simulating)."""

from __future__ import annotations

import typer

from . import experiments, export, inspect, simulate
from .common import state

app = typer.Typer(
    add_completion=False,
    no_args_is_help=True,
    help="Budget-constrained hyperparameter tuning by early termination, on Ray.",
    pretty_exceptions_enable=False,
    rich_markup_mode=None,  # plain help: flags show no "<bool>" as if they took a value
)
for group in (experiments, inspect, simulate, export):
    app.add_typer(group.app)


@app.callback()
def _main(debug: bool = typer.Option(False, "--debug", help="Show tracebacks.")) -> None:
    state["debug"] = debug


def main() -> None:
    app()


__all__ = ["app", "main"]
