"""``halving simulate`` and ``halving policies``: commands that train nothing."""

from __future__ import annotations

import re
import time
from typing import Optional

import typer

import policies as P

from ..samplers import SAMPLERS
from ..testfunctions import FUNCTIONS
from .common import UsageError, fmt, guard, print_json

app = typer.Typer()


@app.command()
@guard
def simulate(
    policy: str = typer.Option("asha", help=f"One of: {', '.join(P.POLICIES)}."),
    trials: int = typer.Option(10000, help="Synthetic trials."),
    max_epochs: int = typer.Option(81, "--max-epochs"),
    workers: int = typer.Option(1, help="Simulated workers."),
    seed: int = typer.Option(0),
    eta: Optional[int] = typer.Option(None),
    min_epochs: Optional[int] = typer.Option(None, "--min-epochs"),
    function: Optional[str] = typer.Option(
        None, "--function", help=f"A test function instead of synthetic curves: one of {', '.join(FUNCTIONS)}."),
    sampler: Optional[str] = typer.Option(
        None, "--sampler", help=f"With --function, how configs are chosen: {', '.join(SAMPLERS)} or module:Class "
                                "(default random). Synthetic curves are a table: each trial is its row."),
    as_json: bool = typer.Option(False, "--json"),
) -> None:
    """A policy on synthetic learning curves, or a multi-fidelity test function, at large
    scale, in virtual time (no training). The regret is against the best final value of
    the synthetic curves, or against the test function's optimum."""
    from ..simulation import simulate as run_simulation
    from ..synthetic import synthetic_curves
    from ..testfunctions import get
    from .experiments import policy_params

    if trials < 1 or max_epochs < 1:
        raise UsageError("--trials and --max-epochs must be >= 1")
    params = policy_params(policy, dict(eta=eta, min_epochs=min_epochs))
    if function is None and sampler is not None:
        raise UsageError(f"--sampler {sampler} needs --function: synthetic curves are a table, trial i is row i")
    if function is None:
        curves = synthetic_curves(trials, max_epochs, seed)
        t0 = time.perf_counter()
        result = run_simulation(curves, policy=policy, workers=workers, seed=seed, **params)
        true_best = float(curves[:, -1].max())
        regret = None if result.best_value is None else true_best - result.best_value
    else:
        fn = get(function, max_epochs=max_epochs, seed=seed)
        t0 = time.perf_counter()
        result = run_simulation(fn.curve, space=fn.space, mode=fn.mode, max_epochs=max_epochs, trials=trials,
                                policy=policy, sampler=sampler, workers=workers, seed=seed, **params)
        regret = None if result.best_config is None else fn.regret(result.best_config)
    seconds = time.perf_counter() - t0
    row = {**result.summary(), "virtual_seconds": result.virtual_seconds, "seconds": round(seconds, 3),
           "decisions": len(result.decisions),
           "us_per_decision": round(1e6 * seconds / max(1, len(result.decisions)), 2), "regret": regret}
    if as_json:
        print_json(row)
        return
    what = f"{function}{f' ({sampler})' if sampler else ''}, " if function else ""
    typer.echo(f"{policy}: {what}{trials} trials, R={max_epochs}, {workers} workers: best {fmt(result.best_value)} "
               f"(regret {fmt(row['regret'])}), {result.epochs_used} epochs, virtual time "
               f"{result.virtual_seconds:.0f}, {len(result.decisions)} decisions in {seconds:.2f} s "
               f"({row['us_per_decision']} us each)")


def _first_sentence(doc: str) -> str:
    """A docstring's first sentence, whole, however its lines wrap (no reST markup)."""
    paragraph = " ".join(doc.strip().split("\n\n")[0].split()).replace("``", "")
    return re.split(r"(?<=[a-z)`\]]\.)\s+(?=[A-Z])", paragraph)[0]


@app.command("policies")
@guard
def list_policies(as_json: bool = typer.Option(False, "--json")) -> None:
    """The policies and their parameters, with defaults."""
    rows = {name: P.parameters(name) for name in P.POLICIES}
    if as_json:
        print_json(rows)
        return
    for name, params in rows.items():
        doc = _first_sentence(P.POLICIES[name].__doc__ or "")
        args = ", ".join(f"{k}={v!r}" for k, v in params.items()) or "no parameters"
        typer.echo(f"{name:<11} {doc}\n{'':<11} {args}")
