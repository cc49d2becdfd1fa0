"""``halving export``: a run dir's reports, trials and decisions as files for data tools."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from .common import guard

app = typer.Typer()


@app.command()
@guard
def export(
    run_dir: Path = typer.Argument(..., help="A run dir: finished, interrupted, or still being written."),
    fmt: str = typer.Option("parquet", "--format", help="parquet or csv."),
    out: Optional[Path] = typer.Option(
        None, "--out", help="Folder to write to (default: ./RUN_DIR_NAME-export in the current directory; "
                            "never inside the run dir)."),
) -> None:
    """Write reports.EXT, trials.EXT and decisions.EXT for pandas, polars, DuckDB.

    reports: one row per report (trial, epoch, time, worker, config.NAME per
    hyperparameter, one column per metric). trials: one row per trial (config,
    state, last decision and its reason, epochs, last and best value, error).
    decisions: every decision and promotion with its reason's fields. The run dir
    is only read, never written, so a running experiment can be exported.
    """
    from ..export import write_tables

    for path in write_tables(run_dir, out, fmt):
        typer.echo(str(path))
