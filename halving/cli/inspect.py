"""``halving show`` and ``halving replay``: commands that read a run dir and never write to it."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Optional

import typer

from .common import config_text, fmt, guard, print_json, summary_lines

app = typer.Typer()


@app.command()
@guard
def show(
    run_dir: Path = typer.Argument(..., help="A run dir."),
    top: int = typer.Option(10, help="Rows of the leaderboard."),
    decisions: int = typer.Option(50, help="Decisions to list (0: all)."),
    plot: Optional[Path] = typer.Option(None, "--plot", help="Draw learning curves to FILE.png."),
    as_json: bool = typer.Option(False, "--json"),
) -> None:
    """Leaderboard, rungs, and every decision with its reason."""
    from ..rundir import load
    from ..summaries import leaderboard, rung_table

    result = load(run_dir)
    board = leaderboard(result, top)
    rungs = rung_table(result)
    listed = result.decisions if decisions == 0 else result.decisions[:decisions]
    if as_json:
        print_json({
            "summary": result.summary(),
            "leaderboard": board,
            "rungs": rungs,
            "decisions": [{"trial": d.trial, "epoch": d.epoch, "action": d.action.value, "until": d.until,
                           "reason": d.reason.as_dict()} for d in listed],
            "promotions": [{"trial": d.trial, "epoch": d.epoch, "until": d.until, "reason": d.reason.as_dict()}
                           for d in result.promotions],
        })
    else:
        _print_tables(result, board, rungs, listed, decisions)
    if plot is not None:
        from ..plots import plot_curves

        plot_curves(result, plot)
        typer.echo(f"plot: {plot}")


def _table(title: str, columns: tuple, rows: list) -> Any:
    from rich.table import Table

    t = Table(title=title)
    for col in columns:
        t.add_column(col)
    for row in rows:
        t.add_row(*row)
    return t


def _print_tables(result: Any, board: list, rungs: list, listed: list, decisions: int) -> None:
    from rich.console import Console

    console = Console()
    for line in summary_lines(result):
        console.print(line, highlight=False)
    console.print(_table("leaderboard", ("rank", "trial", "epochs", result.metric, "state", "config"), [
        (str(i), str(r["trial"]), str(r["epochs"]), fmt(r["value"]), r["state"], config_text(r["config"]))
        for i, r in enumerate(board, 1)]))
    if rungs:
        console.print(_table("rungs", ("epoch", "trials reached", "best", "median"), [
            (str(r["epoch"]), str(r["trials"]), fmt(r["best"]), fmt(r["median"])) for r in rungs]))
    if result.promotions:
        console.print(_table(f"promotions ({len(result.promotions)})", ("trial", "from epoch", "to epoch", "reason"),
                             [(str(d.trial), str(d.epoch), str(d.until), str(d.reason))
                              for d in result.promotions[: decisions or None]]))
    console.print(_table(f"decisions ({len(listed)} of {len(result.decisions)})", ("trial", "epoch", "action", "reason"),
                         [(str(d.trial), str(d.epoch), d.action.value + (f" to {d.until}" if d.until else ""),
                           str(d.reason)) for d in listed]))


@app.command()
@guard
def replay(
    run_dir: Path = typer.Argument(..., help="A finished run dir."),
    policies: str = typer.Option("asha,hyperband,median,bandit,truncation", "--policies",
                                 help="Comma-separated policy names."),
    workers: Optional[int] = typer.Option(None, help="Simulated workers (default: the run's)."),
    as_json: bool = typer.Option(False, "--json"),
) -> None:
    """Re-decide a finished experiment's recorded curves under other policies, with no training.

    Each policy runs on the recorded learning curves through the simulated
    backend, with the run's seed. When a policy asks a trial for epochs that
    were never recorded (the original run stopped that trial earlier), the
    trial ends there, with the reason "curve-cut-short"; such decisions are
    counted in the "cut short" column and the trial can never be best.
    Regret is the distance from the best value recorded at max_epochs.
    """
    from ..simulation import replay_policies
    from .experiments import split_policies

    rows = replay_policies(run_dir, split_policies(policies), workers=workers)
    if as_json:
        print_json(rows)
        return
    from rich.console import Console

    Console().print(_table(f"replay of {run_dir}", ("policy", "best", "regret", "epochs used", "cut short", "best trial"),
                           [(r["policy"], fmt(r["best_value"]), fmt(r["regret"]), str(r["epochs_used"]),
                             str(r["cut_short"]), str(r["best_trial"])) for r in rows]))
