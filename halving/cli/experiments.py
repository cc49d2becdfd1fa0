"""``halving run``, ``resume`` and ``compare``: commands that train. Each builds the one
``ExperimentSpec`` from its options (named as the spec's fields) and hands it on."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any, Optional

import typer

import policies as P

from ..samplers import SAMPLERS
from .common import Progress, UsageError, fmt, guard, print_json, summary_lines

app = typer.Typer()

# Options shared by run and compare, declared once; their names are the spec's fields.
TARGET = typer.Argument(..., help="pkg.module:func, path/file.py:func, or a bundled example "
                                  "(sgd-digits, mlp-digits, cnn-mnist1d).")
SPACE = typer.Option(None, "--space", help="Search space file (JSON or YAML).")
METRIC = typer.Option(None, help="Metric the trainable reports, to rank trials by.")
MODE = typer.Option(None, help="max or min.")
TRIALS = typer.Option(None, help="Configurations to sample (default: the example's, or the whole grid).")
MAX_EPOCHS = typer.Option(None, "--max-epochs", help="R: most epochs any trial trains.")
BUDGET = typer.Option(None, help="Cap on epochs trained by all trials together.")
WORKERS = typer.Option(None, help="Concurrent trials (default: CPUs Ray sees).")
TIMEOUT = typer.Option(None, help="Seconds; then no new work is granted.")
ADDRESS = typer.Option(None, help="Ray cluster: auto, host:port or ray://host:port (default: a local Ray).")
CPUS = typer.Option(None, "--cpus", help="CPUs per trial: a number, or one per rung (1,2,4).")
GPUS = typer.Option(None, "--gpus", help="GPUs per trial: a number (0.5 shares one), or one per rung (0.25,0.5,1).")
RESOURCE = typer.Option(None, "--resource", help="A custom Ray resource per trial, NAME=AMOUNT (AMOUNT may be one "
                                                 "per rung: NAME=0,1); repeat for several.")
AS_JSON = typer.Option(False, "--json", help="Print the result as JSON.")
QUIET = typer.Option(False, "--quiet", help="No live progress display.")
SAMPLER = typer.Option(None, "--sampler", help=f"How new configs are chosen: {', '.join(SAMPLERS)} or module:Class "
                                               "(default random; grid without --trials).")


def build_spec(target: str, space_file: Optional[Path], policy: str, policy_params: dict,
               **fields: Any) -> tuple[Any, Any]:
    """The experiment of a command line: the target's trainable and the spec, with a bundled
    example's defaults for the fields not given."""
    from ..experiment import ExperimentSpec, PolicySpec
    from ..targets import example_defaults, resolve_target

    trainable, attr_space, canonical = resolve_target(target)
    values = {**example_defaults(target), **{k: v for k, v in fields.items() if v is not None}}
    space = _load_space(space_file, attr_space, target)
    if values.get("metric") is None:
        raise UsageError("--metric is required: the name of the metric your trainable reports")
    if values.get("max_epochs") is None:
        raise UsageError("--max-epochs is required")
    if values.get("trials") is None:
        try:
            space.grid_size()
        except ValueError:
            raise UsageError("--trials N is required: the space has continuous dimensions, so it has no grid "
                             "to enumerate") from None
    if values.get("mode") is None:
        raise UsageError(f"--mode is required: max if a larger {values['metric']} is better, min if a smaller one is")
    named = PolicySpec.of(policy, policy_params, seed=values.get("seed", 0))
    return ExperimentSpec(space=space, policy=named, target=canonical, **values), trainable


def _load_space(space_file: Optional[Path], attr_space: Any, target: str) -> Any:
    from ..space import Space

    if space_file is not None:
        if not space_file.exists():
            raise UsageError(f"space file {space_file} does not exist")
        try:
            return Space.from_file(space_file)
        except (TypeError, ValueError) as exc:
            raise UsageError(f"space file {space_file}: {exc}") from None
    if attr_space is None:
        raise UsageError(f"no search space: pass --space FILE (JSON or YAML), or define `space` beside {target}")
    try:
        return Space.from_spec(attr_space)
    except (TypeError, ValueError) as exc:
        raise UsageError(f"the space of {target}: {exc}") from None


def amounts(option: str, text: Optional[str]) -> Any:
    """``"1"`` -> 1, ``"0.25,0.5,1"`` -> [0.25, 0.5, 1]; the spec checks the values."""
    if text is None:
        return None
    try:
        values = [float(v) for v in text.split(",")]
    except ValueError:
        raise UsageError(f"{option} takes a number or a comma-separated list of numbers (one per rung), "
                         f"but got {text!r}") from None
    values = [int(v) if v.is_integer() else v for v in values]
    return values[0] if len(values) == 1 else values


def resource_amounts(given: Optional[list[str]]) -> Optional[dict]:
    """``["accel=1", "disk=0,1"]`` -> ``{"accel": 1, "disk": [0, 1]}``."""
    if not given:
        return None
    out = {}
    for item in given:
        name, sep, text = item.partition("=")
        if not sep or not name.strip():
            raise UsageError(f"--resource takes NAME=AMOUNT, such as accel=1, but got {item!r}")
        out[name.strip()] = amounts(f"--resource {name.strip()}", text)
    return out


def policy_params(policy: str, given: dict[str, Any]) -> dict:
    """The policy options given on the command line; one that does not apply is an error."""
    if policy not in P.POLICIES:
        raise UsageError(f"unknown policy {policy!r}; choose one of {', '.join(P.POLICIES)}")
    takes = P.parameters(policy)
    for key, value in given.items():
        if value is not None and key not in takes:
            raise UsageError(f"--{key.replace('_', '-')} does not apply to policy {policy!r} "
                             f"(it takes: {', '.join(takes) or 'nothing'})")
    return {k: v for k, v in given.items() if v is not None}


def split_policies(text: str) -> list[str]:
    names = [p.strip() for p in text.split(",") if p.strip()]
    if not names:
        raise UsageError("--policies needs at least one policy name")
    for name in names:
        if name not in P.POLICIES:
            raise UsageError(f"unknown policy {name!r}; choose one of {', '.join(P.POLICIES)}")
    return names


def run_and_report(spec: Any, trainable: Any, run_dir: Optional[Path], address: Optional[str], *, resume: bool,
                   as_json: bool, quiet: bool) -> Any:
    from ..tuner import run_experiment

    with Progress(not (quiet or as_json), f"halving: {spec.policy.label} on {spec.target}", spec.budget) as progress:
        result = run_experiment(spec, trainable, run_dir=run_dir, resume=resume, address=address, progress=progress)
    if as_json:
        print_json(result.summary())
    else:
        for line in summary_lines(result):
            typer.echo(line)
    if result.best_trial is None:
        typer.echo(f"halving: error: {no_best_reason(result)}", err=True)
        raise typer.Exit(1)
    return result


def no_best_reason(result: Any) -> str:
    """Why a run found no best trial, in one line: CI must not read it as a success."""
    why = f"no trial produced a best {result.metric}"
    if result.n_failed:
        trial, message = min((t, m) for t, m in result.failures.items() if result.states[t].value == "failed")
        return (f"{why}: {result.n_failed} of {result.n_trials} trials failed; the first, trial {trial}: "
                f"{message.splitlines()[0][:300]}")
    if result.stop_reason != "done":
        return f"{why}: the run stopped early ({result.stop_reason}) before any trial reached {result.max_epochs} epochs"
    return f"{why}: no trial reached {result.max_epochs} epochs"


@app.command()
@guard
def run(
    target: str = TARGET,
    space: Optional[Path] = SPACE,
    metric: Optional[str] = METRIC,
    mode: Optional[str] = MODE,
    policy: str = typer.Option("asha", help=f"One of: {', '.join(P.POLICIES)}."),
    sampler: Optional[str] = SAMPLER,
    trials: Optional[int] = TRIALS,
    max_epochs: Optional[int] = MAX_EPOCHS,
    budget: Optional[int] = BUDGET,
    workers: Optional[int] = WORKERS,
    timeout: Optional[float] = TIMEOUT,
    seed: int = typer.Option(0, help="Seed of sampling and of every decision."),
    run_dir: Optional[Path] = typer.Option(None, "--run-dir", help="Where the log goes "
                                                                  "(default halving-runs/<time>-<policy>-<id>)."),
    address: Optional[str] = ADDRESS,
    max_failures: int = typer.Option(0, "--max-failures", help="Retries per failing trial."),
    trial_timeout: Optional[float] = typer.Option(None, "--trial-timeout",
                                                  help="Seconds a trial may train in all; then it is stopped."),
    eta: Optional[int] = typer.Option(None, help="Reduction factor (sha, asha, asha-stop, hyperband)."),
    min_epochs: Optional[int] = typer.Option(None, "--min-epochs", help="First rung (sha, asha, hyperband)."),
    grace: Optional[int] = typer.Option(None, help="median: no stop before this epoch."),
    min_trials: Optional[int] = typer.Option(None, "--min-trials", help="median: other trials needed."),
    slack_factor: Optional[float] = typer.Option(None, "--slack-factor", help="bandit: ratio slack."),
    slack_amount: Optional[float] = typer.Option(None, "--slack-amount", help="bandit: absolute slack."),
    truncation_percentage: Optional[float] = typer.Option(None, "--truncation-percentage",
                                                          help="truncation: percent stopped per interval."),
    evaluation_interval: Optional[int] = typer.Option(None, "--evaluation-interval",
                                                      help="median, bandit, truncation."),
    delay_evaluation: Optional[int] = typer.Option(None, "--delay-evaluation", help="median, bandit, truncation."),
    inner: Optional[str] = typer.Option(None, help="hyperband: sha or asha inside brackets."),
    kappa: Optional[float] = typer.Option(None, help="asha-curve: the confidence bound, in standard errors."),
    min_points: Optional[int] = typer.Option(None, "--min-points", help="asha-curve: fewest curve points a fit reads."),
    calibration: Optional[int] = typer.Option(None, help="asha-curve: trials gone on from a rung before it ranks "
                                                         "by prediction."),
    cpus: Optional[str] = CPUS,
    gpus: Optional[str] = GPUS,
    resource: Optional[list[str]] = RESOURCE,
    as_json: bool = AS_JSON,
    quiet: bool = QUIET,
) -> None:
    """Tune TARGET: sample configurations, train them on Ray, stop the poor ones early."""
    params = policy_params(policy, dict(
        eta=eta, min_epochs=min_epochs, grace=grace, min_trials=min_trials, slack_factor=slack_factor,
        slack_amount=slack_amount, truncation_percentage=truncation_percentage,
        evaluation_interval=evaluation_interval, delay_evaluation=delay_evaluation, inner=inner, kappa=kappa,
        min_points=min_points, calibration=calibration))
    spec, trainable = build_spec(target, space, policy, params, metric=metric, mode=mode, sampler=sampler, trials=trials,
                                 max_epochs=max_epochs, budget=budget, workers=workers, timeout=timeout, seed=seed,
                                 max_failures=max_failures, trial_timeout=trial_timeout, cpus=amounts("--cpus", cpus),
                                 gpus=amounts("--gpus", gpus), resources=resource_amounts(resource))
    run_and_report(spec, trainable, run_dir, address, resume=False, as_json=as_json, quiet=quiet)


@app.command()
@guard
def resume(
    run_dir: Path = typer.Argument(..., help="The run dir of an interrupted experiment."),
    address: Optional[str] = ADDRESS,
    workers: Optional[int] = typer.Option(None, help="Concurrent trials (may differ from the first run)."),
    as_json: bool = AS_JSON,
    quiet: bool = QUIET,
) -> None:
    """Continue an interrupted experiment: its state is rebuilt by replaying its log."""
    from .. import runlock
    from ..rundir import read_spec
    from ..targets import resolve_target

    if run_dir.is_dir():
        with runlock.acquire(run_dir):  # a run still going is named now, not after its log is read
            pass
    spec = read_spec(run_dir)
    if not spec.target:
        raise UsageError(f"{run_dir} does not record its target; resume it from Python with tune(resume=True)")
    if spec.target.startswith("__main__:"):
        raise UsageError(f"{run_dir} was started from a script's `if __name__ == \"__main__\":` block (target "
                         f"{spec.target}), which cannot be imported; run that script again with "
                         f"halving.tune(..., run_dir={str(run_dir)!r}, resume=True)")
    trainable, _, _ = resolve_target(spec.target)
    if workers:
        spec = spec.replace(workers=workers)
    run_and_report(spec, trainable, run_dir, address, resume=True, as_json=as_json, quiet=quiet)


@app.command()
@guard
def compare(
    target: str = TARGET,
    policies: str = typer.Option("asha,sha,hyperband,median,none", "--policies", help="Comma-separated."),
    seeds: int = typer.Option(1, help="Seeds 0..N-1 for every policy."),
    sampler: Optional[str] = SAMPLER,
    space: Optional[Path] = SPACE,
    metric: Optional[str] = METRIC,
    mode: Optional[str] = MODE,
    trials: Optional[int] = TRIALS,
    max_epochs: Optional[int] = MAX_EPOCHS,
    budget: Optional[int] = BUDGET,
    workers: Optional[int] = WORKERS,
    timeout: Optional[float] = TIMEOUT,
    test_metric: Optional[str] = typer.Option(None, "--test-metric",
                                              help="Reported metric to show as the test value "
                                                   "(default: test_* beside val_*)."),
    run_dir: Optional[Path] = typer.Option(None, "--run-dir", help="Parent folder of the runs."),
    address: Optional[str] = ADDRESS,
    out: Optional[Path] = typer.Option(None, "--out", help="Write the table to .csv or .parquet."),
    plot: Optional[Path] = typer.Option(None, "--plot", help="Best-so-far against epochs used, to FILE.png."),
    cpus: Optional[str] = CPUS,
    gpus: Optional[str] = GPUS,
    resource: Optional[list[str]] = RESOURCE,
    as_json: bool = AS_JSON,
    quiet: bool = QUIET,
) -> None:
    """Every policy and seed on the same sampled configurations (with a model-based --sampler, each
    run's own): best, test value, epochs, wall time."""
    names = split_policies(policies)
    if seeds < 1:
        raise UsageError(f"--seeds must be >= 1, got {seeds}")
    if out is not None and out.suffix not in (".csv", ".parquet"):
        raise UsageError(f"--out must end in .csv or .parquet, got {out}")
    base = run_dir or Path("halving-runs") / f"compare-{time.strftime('%Y%m%d-%H%M%S')}"
    plans = [(name, seed, *build_spec(target, space, name, {}, metric=metric, mode=mode, sampler=sampler, trials=trials,
                                      max_epochs=max_epochs, budget=budget, workers=workers, timeout=timeout,
                                      seed=seed, cpus=amounts("--cpus", cpus), gpus=amounts("--gpus", gpus),
                                      resources=resource_amounts(resource)))
             for seed in range(seeds) for name in names]
    rows, results = _run_plans(plans, base, address, test_metric, as_json=as_json, quiet=quiet)
    _write_compare(rows, results, out, plot)
    if as_json:
        print_json(rows)
        return
    from rich.console import Console
    from rich.table import Table

    t = Table(title=f"compare on {target}")
    for col in ("policy", "seed", "best", "test", "epochs used", "wall s"):
        t.add_column(col)
    for r in rows:
        t.add_row(r["policy"], str(r["seed"]), fmt(r["best_value"]), fmt(r["test_value"]),
                  str(r["epochs_used"]), f"{r['wall_seconds']:.1f}")
    Console().print(t)


def _run_plans(plans: list, base: Path, address: Optional[str], test_metric: Optional[str], *, as_json: bool,
               quiet: bool) -> tuple[list, list]:
    """Every experiment on one Ray, sharing its worker processes."""
    import halving

    from ..backends.ray_cluster import connect
    from ..summaries import compare_row
    from ..tuner import run_experiment

    rows, results = [], []
    with connect(address), halving.reuse_workers():
        for name, seed, spec, trainable in plans:
            with Progress(not (quiet or as_json), f"halving compare: {name}, seed {seed}", spec.budget) as prog:
                result = run_experiment(spec, trainable, run_dir=base / f"{name}-seed{seed}", resume=False,
                                        address=None, progress=prog)
            rows.append(compare_row(result, name, seed, test_metric))
            results.append((name, seed, result))
            if not as_json:
                typer.echo(f"{name} seed {seed}: best {fmt(rows[-1]['best_value'])}, "
                           f"epochs {rows[-1]['epochs_used']}, {rows[-1]['wall_seconds']:.1f} s")
    return rows, results


def _write_compare(rows: list, results: list, out: Optional[Path], plot: Optional[Path]) -> None:
    if out is not None:
        import pyarrow as pa
        import pyarrow.csv as pacsv
        import pyarrow.parquet as pq

        table = pa.Table.from_pylist(rows)
        (pacsv.write_csv if out.suffix == ".csv" else pq.write_table)(table, out)
    if plot is not None:
        from ..plots import plot_best_so_far

        plot_best_so_far(results, plot)
