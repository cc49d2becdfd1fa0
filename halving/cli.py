"""The ``halving`` command line: run, compare, replay, show, resume, simulate, policies."""

from __future__ import annotations

import json
import math
import sys
import time
import traceback
from pathlib import Path
from typing import Any, Optional

import typer

import policies as P

app = typer.Typer(
    add_completion=False,
    no_args_is_help=True,
    help="Budget-constrained hyperparameter tuning by early termination, on Ray.",
    pretty_exceptions_enable=False,
)

_state = {"debug": False}


class UsageError(Exception):
    """Bad arguments: one line on stderr, exit code 2."""


def _fail(message: str) -> None:
    typer.echo(f"halving: error: {message}", err=True)
    raise typer.Exit(2)


def _guard(fn):
    """Bad input becomes one clear line and exit code 2 (a traceback only with --debug)."""
    import functools

    from .eventlog import CorruptLogError
    from .targets import TargetError

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        try:
            return fn(*args, **kwargs)
        except typer.Exit:
            raise
        except KeyboardInterrupt as exc:
            typer.echo(f"halving: {exc}" if str(exc) else "halving: interrupted", err=True)
            raise typer.Exit(130)
        except (UsageError, ValueError, TypeError, FileNotFoundError, TargetError, CorruptLogError) as exc:
            if _state["debug"]:
                traceback.print_exc()
            _fail(str(exc).splitlines()[0] if str(exc) else type(exc).__name__)

    return wrapper


@app.callback()
def _main(debug: bool = typer.Option(False, "--debug", help="Show tracebacks.")) -> None:
    _state["debug"] = debug


# ----------------------------------------------------------------- options
POLICY_OPTIONS = {
    "eta": "eta",
    "min_epochs": "min_epochs",
    "grace": "grace",
    "min_trials": "min_trials",
    "slack_factor": "slack_factor",
    "slack_amount": "slack_amount",
    "truncation_percentage": "truncation_percentage",
    "evaluation_interval": "evaluation_interval",
    "delay_evaluation": "delay_evaluation",
    "inner": "inner",
}


def _policy_params(policy: str, given: dict[str, Any], *, strict: bool = True) -> dict:
    if policy not in P.POLICIES:
        raise UsageError(f"unknown policy {policy!r}; choose one of {', '.join(P.POLICIES)}")
    takes = P.parameters(policy)
    out = {}
    for key, value in given.items():
        if value is None:
            continue
        if key not in takes:
            if strict:
                raise UsageError(f"--{key.replace('_', '-')} does not apply to policy {policy!r} "
                                 f"(it takes: {', '.join(takes) or 'nothing'})")
            continue
        out[key] = value
    return out


def _split_policies(text: str) -> list[str]:
    names = [p.strip() for p in text.split(",") if p.strip()]
    if not names:
        raise UsageError("--policies needs at least one policy name")
    for name in names:
        if name not in P.POLICIES:
            raise UsageError(f"unknown policy {name!r}; choose one of {', '.join(P.POLICIES)}")
    return names


def _load_space(space_file: Optional[Path], attr_space: Any, target: str) -> Any:
    from .space import Space

    if space_file is not None:
        if not space_file.exists():
            raise UsageError(f"space file {space_file} does not exist")
        return Space.from_file(space_file)
    if attr_space is None:
        raise UsageError(f"no search space: pass --space FILE (JSON or YAML), or define `space` beside {target}")
    return Space.from_spec(attr_space)


class _Progress:
    """A live rich display of an experiment; silent when stdout is not a terminal."""

    def __init__(self, enabled: bool, title: str, budget: int | None) -> None:
        self.enabled = enabled and sys.stdout.isatty()
        self.title = title
        self.budget = budget
        self.t0 = time.time()
        self.last = 0.0
        self.live = None

    def __enter__(self) -> "_Progress":
        if self.enabled:
            from rich.live import Live

            self.live = Live(self._render(None), refresh_per_second=8, transient=True)
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
        self.live.update(self._render(engine))

    def _render(self, engine: Any) -> Any:
        from rich.table import Table

        from .result import TrialState

        table = Table(title=self.title, show_header=False, box=None)
        if engine is None:
            table.add_row("starting", "")
            return table
        counts = {s: 0 for s in TrialState}
        for s in engine.states.values():
            counts[s] += 1
        budget = f" of {self.budget}" if self.budget else ""
        best = engine.final_value.get(engine.best_trial) if engine.best_trial is not None else None
        table.add_row("trials", f"{counts[TrialState.RUNNING]} running, {counts[TrialState.PAUSED]} paused, "
                      f"{counts[TrialState.STOPPED]} stopped, {counts[TrialState.COMPLETED]} finished, "
                      f"{counts[TrialState.FAILED]} failed")
        table.add_row("epochs", f"{engine.epochs_used}{budget}")
        table.add_row("best", "-" if best is None else f"{best:.6g} (trial {engine.best_trial})")
        table.add_row("elapsed", f"{time.time() - self.t0:.1f} s")
        return table


def _print_json(obj: Any) -> None:
    typer.echo(json.dumps(obj, indent=2, default=str, allow_nan=True))


def _summary_lines(result: Any) -> list[str]:
    lines = [
        f"policy {result.policy}: best {result.metric} = {_fmt(result.best_value)} (trial {result.best_trial})",
        f"best config: {_config_text(result.best_config)}",
        f"epochs used: {result.epochs_used}; trials: {result.n_trials} ({result.n_completed} finished, "
        f"{result.n_stopped} stopped, {result.n_failed} failed); wall {result.wall_seconds:.1f} s",
    ]
    if result.failures:
        for trial, message in sorted(result.failures.items()):
            if result.states.get(trial) is not None and result.states[trial].value == "failed":
                lines.append(f"failed: trial {trial}: {message.splitlines()[0][:200]}")
    if result.stop_reason not in ("done",):
        lines.append(f"stopped early: {result.stop_reason}")
    if result.run_dir:
        lines.append(f"run dir: {result.run_dir}")
    return lines


def _config_text(config: Any) -> str:
    """``alpha=0.0005480, loss=hinge``: compact, for tables."""
    if not isinstance(config, dict):
        return str(config)
    return ", ".join(f"{k}={v:.4g}" if isinstance(v, float) else f"{k}={v}" for k, v in config.items())


def _fmt(v: Any) -> str:
    return "-" if v is None else f"{v:.6g}" if isinstance(v, float) else str(v)


# ----------------------------------------------------------------- commands
@app.command()
@_guard
def run(
    target: str = typer.Argument(..., help="pkg.module:func, path/file.py:func, or a bundled example "
                                           "(sgd-digits, mlp-digits, cnn-mnist1d)."),
    space: Optional[Path] = typer.Option(None, "--space", help="Search space file (JSON or YAML)."),
    metric: Optional[str] = typer.Option(None, help="Metric the trainable reports, to rank trials by."),
    mode: Optional[str] = typer.Option(None, help="max or min."),
    policy: str = typer.Option("asha", help=f"One of: {', '.join(P.POLICIES)}."),
    trials: Optional[int] = typer.Option(None, help="Configurations to sample (default: the example's, "
                                                    "or the whole grid)."),
    max_epochs: Optional[int] = typer.Option(None, "--max-epochs", help="R: most epochs any trial trains."),
    budget: Optional[int] = typer.Option(None, help="Cap on epochs trained by all trials together."),
    workers: Optional[int] = typer.Option(None, help="Concurrent trials (default: CPUs Ray sees)."),
    timeout: Optional[float] = typer.Option(None, help="Seconds; then no new work is granted."),
    seed: int = typer.Option(0, help="Seed of sampling and of every decision."),
    run_dir: Optional[Path] = typer.Option(None, "--run-dir", help="Where the log goes "
                                                                  "(default halving-runs/<time>-<policy>-<id>)."),
    address: Optional[str] = typer.Option(None, help="Ray cluster: auto or ray://host:port (default: local)."),
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
    as_json: bool = typer.Option(False, "--json", help="Print the result as JSON."),
    quiet: bool = typer.Option(False, "--quiet", help="No live progress display."),
) -> None:
    """Tune TARGET: sample configurations, train them on Ray, stop the poor ones early."""
    params = _policy_params(policy, dict(
        eta=eta, min_epochs=min_epochs, grace=grace, min_trials=min_trials, slack_factor=slack_factor,
        slack_amount=slack_amount, truncation_percentage=truncation_percentage,
        evaluation_interval=evaluation_interval, delay_evaluation=delay_evaluation, inner=inner))
    exp, trainable = _experiment(target, space, metric, mode, policy, params, trials, max_epochs, budget, workers,
                                 timeout, seed, max_failures, trial_timeout)
    _run_and_report(exp, trainable, run_dir, address, resume=False, as_json=as_json, quiet=quiet)


def _experiment(target: str, space_file: Optional[Path], metric: Optional[str], mode: Optional[str], policy: str,
                params: dict, trials: Optional[int], max_epochs: Optional[int], budget: Optional[int],
                workers: Optional[int], timeout: Optional[float], seed: int, max_failures: int = 0,
                trial_timeout: Optional[float] = None) -> tuple:
    from .targets import example_defaults, resolve_target
    from .tuner import Experiment

    trainable, attr_space, canonical = resolve_target(target)
    defaults = example_defaults(target)
    space_obj = _load_space(space_file, attr_space, target)
    metric = metric or defaults.get("metric")
    if metric is None:
        raise UsageError("--metric is required: the name of the metric your trainable reports")
    max_epochs = defaults.get("max_epochs") if max_epochs is None else max_epochs
    if max_epochs is None:
        raise UsageError("--max-epochs is required")
    trials = defaults.get("trials") if trials is None else trials
    if trials is None:
        try:
            space_obj.grid_size()
        except ValueError:
            raise UsageError("--trials N is required: the space has continuous dimensions, so it has no grid "
                             "to enumerate") from None
    exp = Experiment(space=space_obj, metric=metric, mode=mode or defaults.get("mode", "max"), policy=policy,
                     max_epochs=max_epochs, trials=trials, budget=budget, workers=workers, timeout=timeout,
                     seed=seed, max_failures=max_failures, target=canonical, policy_params=params,
                     trial_timeout=trial_timeout)
    return exp, trainable


def _run_and_report(exp: Any, trainable: Any, run_dir: Optional[Path], address: Optional[str], *, resume: bool,
                    as_json: bool, quiet: bool) -> Any:
    from .tuner import run_experiment

    with _Progress(not (quiet or as_json), f"halving: {exp.policy.name} on {exp.spec['target']}",
                   exp.budget) as progress:
        result = run_experiment(exp, trainable, run_dir=run_dir, resume=resume, address=address,
                                progress=progress)
    if as_json:
        _print_json(result.summary())
    else:
        for line in _summary_lines(result):
            typer.echo(line)
    return result


@app.command()
@_guard
def resume(
    run_dir: Path = typer.Argument(..., help="The run dir of an interrupted experiment."),
    address: Optional[str] = typer.Option(None, help="Ray cluster (default: local)."),
    workers: Optional[int] = typer.Option(None, help="Concurrent trials (may differ from the first run)."),
    as_json: bool = typer.Option(False, "--json"),
    quiet: bool = typer.Option(False, "--quiet"),
) -> None:
    """Continue an interrupted experiment: its state is rebuilt by replaying its log."""
    from .targets import resolve_target
    from .tuner import Experiment, read_spec

    if not run_dir.is_dir():
        raise UsageError(f"run dir {run_dir} does not exist")
    spec = read_spec(run_dir)
    if not spec.get("target"):
        raise UsageError(f"{run_dir} does not record its target; resume it from Python with tune(resume=True)")
    trainable, _, _ = resolve_target(spec["target"])
    exp = Experiment.from_spec(spec, **({"workers": workers} if workers else {}))
    _run_and_report(exp, trainable, run_dir, address, resume=True, as_json=as_json, quiet=quiet)


@app.command()
@_guard
def show(
    run_dir: Path = typer.Argument(..., help="A run dir."),
    top: int = typer.Option(10, help="Rows of the leaderboard."),
    decisions: int = typer.Option(50, help="Decisions to list (0: all)."),
    plot: Optional[Path] = typer.Option(None, "--plot", help="Draw learning curves to FILE.png."),
    as_json: bool = typer.Option(False, "--json"),
) -> None:
    """Leaderboard, rungs, and every decision with its reason."""
    from .tables import rung_table, leaderboard

    from .tuner import load

    if not run_dir.is_dir():
        raise UsageError(f"run dir {run_dir} does not exist")
    result = load(run_dir)
    board = leaderboard(result, top)
    rungs = rung_table(result)
    listed = result.decisions if decisions == 0 else result.decisions[:decisions]
    if as_json:
        _print_json({
            "summary": result.summary(),
            "leaderboard": board,
            "rungs": rungs,
            "decisions": [{"trial": d.trial, "epoch": d.epoch, "action": d.action.value, "until": d.until,
                           "reason": d.reason.as_dict()} for d in listed],
            "promotions": [{"trial": d.trial, "epoch": d.epoch, "until": d.until, "reason": d.reason.as_dict()}
                           for d in result.promotions],
        })
    else:
        from rich.console import Console
        from rich.table import Table

        console = Console()
        for line in _summary_lines(result):
            console.print(line, highlight=False)
        t = Table(title="leaderboard")
        for col in ("rank", "trial", "epochs", result.metric, "state", "config"):
            t.add_column(col)
        for i, row in enumerate(board, 1):
            t.add_row(str(i), str(row["trial"]), str(row["epochs"]), _fmt(row["value"]), row["state"],
                      _config_text(row["config"]))
        console.print(t)
        if rungs:
            t = Table(title="rungs")
            for col in ("epoch", "trials reached", "best", "median"):
                t.add_column(col)
            for row in rungs:
                t.add_row(str(row["epoch"]), str(row["trials"]), _fmt(row["best"]), _fmt(row["median"]))
            console.print(t)
        if result.promotions:
            t = Table(title=f"promotions ({len(result.promotions)})")
            for col in ("trial", "from epoch", "to epoch", "reason"):
                t.add_column(col)
            for d in result.promotions[: decisions or None]:
                t.add_row(str(d.trial), str(d.epoch), str(d.until), str(d.reason))
            console.print(t)
        t = Table(title=f"decisions ({len(listed)} of {len(result.decisions)})")
        for col in ("trial", "epoch", "action", "reason"):
            t.add_column(col)
        for d in listed:
            action = d.action.value + (f" to {d.until}" if d.until else "")
            t.add_row(str(d.trial), str(d.epoch), action, str(d.reason))
        console.print(t)
    if plot is not None:
        from .plots import plot_curves

        plot_curves(result, plot)
        typer.echo(f"plot: {plot}")


@app.command()
@_guard
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
    from .tables import replay_policies

    names = _split_policies(policies)
    if not run_dir.is_dir():
        raise UsageError(f"run dir {run_dir} does not exist")
    rows = replay_policies(run_dir, names, workers=workers)
    if as_json:
        _print_json(rows)
        return
    from rich.console import Console
    from rich.table import Table

    t = Table(title=f"replay of {run_dir}")
    for col in ("policy", "best", "regret", "epochs used", "cut short", "best trial"):
        t.add_column(col)
    for r in rows:
        t.add_row(r["policy"], _fmt(r["best_value"]), _fmt(r["regret"]), str(r["epochs_used"]),
                  str(r["cut_short"]), str(r["best_trial"]))
    Console().print(t)


@app.command()
@_guard
def compare(
    target: str = typer.Argument(..., help="As for run."),
    policies: str = typer.Option("asha,sha,hyperband,median,none", "--policies", help="Comma-separated."),
    seeds: int = typer.Option(1, help="Seeds 0..N-1 for every policy."),
    space: Optional[Path] = typer.Option(None, "--space"),
    metric: Optional[str] = typer.Option(None),
    mode: Optional[str] = typer.Option(None),
    trials: Optional[int] = typer.Option(None),
    max_epochs: Optional[int] = typer.Option(None, "--max-epochs"),
    budget: Optional[int] = typer.Option(None),
    workers: Optional[int] = typer.Option(None),
    timeout: Optional[float] = typer.Option(None),
    test_metric: Optional[str] = typer.Option(None, "--test-metric",
                                              help="Reported metric to show as the test value "
                                                   "(default: test_* beside val_*)."),
    run_dir: Optional[Path] = typer.Option(None, "--run-dir", help="Parent folder of the runs."),
    address: Optional[str] = typer.Option(None),
    out: Optional[Path] = typer.Option(None, "--out", help="Write the table to .csv or .parquet."),
    plot: Optional[Path] = typer.Option(None, "--plot", help="Best-so-far against epochs used, to FILE.png."),
    as_json: bool = typer.Option(False, "--json"),
    quiet: bool = typer.Option(False, "--quiet"),
) -> None:
    """Every policy and seed on the same sampled configurations: best, test value, epochs, wall time."""
    from .tables import compare_row

    names = _split_policies(policies)
    if seeds < 1:
        raise UsageError(f"--seeds must be >= 1, got {seeds}")
    if out is not None and out.suffix not in (".csv", ".parquet"):
        raise UsageError(f"--out must end in .csv or .parquet, got {out}")
    base = run_dir or Path("halving-runs") / f"compare-{time.strftime('%Y%m%d-%H%M%S')}"
    plans = []
    for seed in range(seeds):
        for name in names:
            exp, trainable = _experiment(target, space, metric, mode, name, {}, trials, max_epochs, budget,
                                         workers, timeout, seed)
            plans.append((name, seed, exp, trainable))
    import ray

    from .tuner import run_experiment

    started = False
    if address is None and not ray.is_initialized():
        ray.init(address="local", include_dashboard=False, configure_logging=False)
        started = True
    from .backends.ray_backend import reuse_workers

    rows, results = [], []
    try:
        with reuse_workers():  # the experiments share their worker processes
            for name, seed, exp, trainable in plans:
                with _Progress(not (quiet or as_json), f"halving compare: {name}, seed {seed}",
                               exp.budget) as prog:
                    result = run_experiment(exp, trainable, run_dir=base / f"{name}-seed{seed}", resume=False,
                                            address=address if not ray.is_initialized() else None,
                                            progress=prog)
                rows.append(compare_row(result, name, seed, test_metric))
                results.append((name, seed, result))
                if not as_json:
                    typer.echo(f"{name} seed {seed}: best {_fmt(rows[-1]['best_value'])}, "
                               f"epochs {rows[-1]['epochs_used']}, {rows[-1]['wall_seconds']:.1f} s")
    finally:
        if started:
            ray.shutdown()
    if out is not None:
        import pyarrow as pa
        import pyarrow.csv as pacsv
        import pyarrow.parquet as pq

        table = pa.Table.from_pylist(rows)
        (pacsv.write_csv if out.suffix == ".csv" else pq.write_table)(table, out)
    if plot is not None:
        from .plots import plot_best_so_far

        plot_best_so_far(results, plot)
    if as_json:
        _print_json(rows)
        return
    from rich.console import Console
    from rich.table import Table

    t = Table(title=f"compare on {target}")
    for col in ("policy", "seed", "best", "test", "epochs used", "wall s"):
        t.add_column(col)
    for r in rows:
        t.add_row(r["policy"], str(r["seed"]), _fmt(r["best_value"]), _fmt(r["test_value"]),
                  str(r["epochs_used"]), f"{r['wall_seconds']:.1f}")
    Console().print(t)


@app.command()
@_guard
def simulate(
    policy: str = typer.Option("asha", help=f"One of: {', '.join(P.POLICIES)}."),
    trials: int = typer.Option(10000, help="Synthetic trials."),
    max_epochs: int = typer.Option(81, "--max-epochs"),
    workers: int = typer.Option(1, help="Simulated workers."),
    seed: int = typer.Option(0),
    eta: Optional[int] = typer.Option(None),
    min_epochs: Optional[int] = typer.Option(None, "--min-epochs"),
    as_json: bool = typer.Option(False, "--json"),
) -> None:
    """A policy on synthetic learning curves at large scale, in virtual time (no training)."""
    from .simulation import simulate as run_simulation
    from .synthetic import synthetic_curves

    if trials < 1 or max_epochs < 1:
        raise UsageError("--trials and --max-epochs must be >= 1")
    params = _policy_params(policy, dict(eta=eta, min_epochs=min_epochs))
    curves = synthetic_curves(trials, max_epochs, seed)
    t0 = time.perf_counter()
    result = run_simulation(curves, policy=policy, workers=workers, seed=seed, **params)
    seconds = time.perf_counter() - t0
    true_best = float(curves[:, -1].max())
    row = {**result.summary(), "virtual_seconds": result.virtual_seconds, "seconds": round(seconds, 3),
           "decisions": len(result.decisions), "us_per_decision": round(1e6 * seconds / max(1, len(result.decisions)), 2),
           "regret": None if result.best_value is None else true_best - result.best_value}
    if as_json:
        _print_json(row)
        return
    typer.echo(f"{policy}: {trials} trials, R={max_epochs}, {workers} workers: best {_fmt(result.best_value)} "
               f"(regret {_fmt(row['regret'])}), {result.epochs_used} epochs, virtual time "
               f"{result.virtual_seconds:.0f}, {len(result.decisions)} decisions in {seconds:.2f} s "
               f"({row['us_per_decision']} us each)")


@app.command("policies")
@_guard
def list_policies(as_json: bool = typer.Option(False, "--json")) -> None:
    """The policies and their parameters, with defaults."""
    rows = {name: P.parameters(name) for name in P.POLICIES}
    if as_json:
        _print_json(rows)
        return
    for name, params in rows.items():
        doc = (P.POLICIES[name].__doc__ or "").strip().splitlines()[0]
        args = ", ".join(f"{k}={v!r}" for k, v in params.items()) or "no parameters"
        typer.echo(f"{name:<11} {doc}\n{'':<11} {args}")


def main() -> None:
    app()


if __name__ == "__main__":
    main()
