"""``halving.tune`` and ``halving.load``: the user's training code as Ray actors,
on the engine loop, with every event in the run dir's log."""

from __future__ import annotations

import bisect
import json
import os
import pickle
import secrets
import time
from pathlib import Path
from typing import Any, Callable, Sequence

import policies as P

from . import checks
from .engine import Engine
from .eventlog import EventLog, iter_events, log_files, read_events
from .result import Result
from .simulation import resolve_policy
from .space import Space, load_space
from .trainable import describe_trainable

__all__ = ["tune", "load", "Experiment", "run_experiment", "read_spec", "target_name"]


class ExperimentError(ValueError):
    """Bad input to an experiment, reported before anything runs."""


def cpu_ladder(ladder: Sequence[int] | None, cap: int) -> Callable[[int], int]:
    """CPUs for a trial on rung k: ``ladder[min(k, len - 1)]``, capped at ``cap``."""
    if ladder is None:
        return lambda rung: 1
    steps = list(ladder)
    return lambda rung: min(steps[min(rung, len(steps) - 1)], cap)


def _check_ladder(ladder: Sequence[int] | None) -> list[int] | None:
    if ladder is None:
        return None
    steps = list(ladder) if isinstance(ladder, (list, tuple)) else None
    if not steps or any(isinstance(c, bool) or not isinstance(c, int) or c < 1 for c in steps):
        raise ValueError(f"cpus_per_rung must be a list of positive ints such as [1, 2, 4], but got {ladder!r}")
    return steps


def target_name(trainable: Any) -> str:
    """``module:qualname`` of a trainable, the form the CLI and resume import."""
    module = getattr(trainable, "__module__", None) or "?"
    return f"{module}:{getattr(trainable, '__qualname__', repr(trainable))}"


def _rung_index(levels: list[int] | None) -> Callable[[int], int]:
    """The rung a trial trains toward when it starts from ``epoch``."""
    if not levels:
        return lambda epoch: 0
    return lambda epoch: bisect.bisect_right(levels, epoch)


class Experiment:
    """A validated experiment: everything checked, nothing started.

    ``spec`` is what the log's first record holds and what resume compares.
    """

    def __init__(
        self,
        *,
        space: Any,
        metric: str,
        mode: str,
        policy: str | P.Policy,
        max_epochs: int,
        trials: int | None,
        budget: int | None,
        workers: int | None,
        timeout: float | None,
        seed: int,
        max_failures: int = 0,
        cpus_per_rung: Sequence[int] | None = None,
        target: str | None = None,
        policy_params: dict | None = None,
        trial_timeout: float | None = None,
        paused_in_memory: int = 64,
    ) -> None:
        if not isinstance(metric, str) or not metric:
            raise ValueError(f"metric must be a non-empty string, but got metric={metric!r}")
        P.Direction(mode)
        checks.count("max_epochs", max_epochs)
        checks.count("trials", trials, allow_none=True)
        checks.count("budget", budget, allow_none=True)
        checks.count("workers", workers, allow_none=True)
        checks.count("seed", seed, low=0)
        checks.seconds("timeout", timeout)
        checks.count("max_failures", max_failures, low=0)
        checks.seconds("trial_timeout", trial_timeout)
        checks.count("paused_in_memory", paused_in_memory, low=0)
        self.paused_in_memory = paused_in_memory
        self.trial_timeout = trial_timeout
        self.cpus_per_rung = _check_ladder(cpus_per_rung)
        self.space: Space = load_space(space)
        self.grid = trials is None
        if self.grid:
            try:
                self.n_trials = self.space.grid_size()
            except ValueError as exc:
                raise ValueError(f"trials=None enumerates a grid, but {exc}; pass trials=N to sample") from None
            self._grid = self.space.grid()
        else:
            self.n_trials = trials
        self.policy = resolve_policy(policy, seed, **(policy_params or {}))
        self.policy.start(n_trials=self.n_trials, max_epochs=max_epochs, mode=mode)
        self.metric, self.mode, self.max_epochs = metric, mode, max_epochs
        self.budget, self.workers, self.timeout, self.seed = budget, workers, timeout, seed
        self.max_failures = max_failures
        self.spec = {
            "target": target,
            "space": self.space.to_spec(),
            "metric": metric,
            "mode": mode,
            "policy": self.policy.name,
            "policy_params": self.policy.params(),
            "max_epochs": max_epochs,
            "trials": trials,
            "n_trials": self.n_trials,
            "budget": budget,
            "workers": workers,
            "timeout": timeout,
            "seed": seed,
            "max_failures": max_failures,
            "trial_timeout": trial_timeout,
            "paused_in_memory": paused_in_memory,
            "cpus_per_rung": self.cpus_per_rung,
        }

    def config_of(self, trial: int) -> dict:
        return self._grid[trial] if self.grid else self.space.config(trial, self.seed)

    @classmethod
    def from_spec(cls, spec: dict, **overrides: Any) -> "Experiment":
        keys = ("space", "metric", "mode", "max_epochs", "trials", "budget", "workers", "timeout", "seed",
                "max_failures", "cpus_per_rung", "target", "trial_timeout", "paused_in_memory")
        args = {k: spec.get(k) for k in keys}
        args["max_failures"] = args["max_failures"] or 0
        if args["paused_in_memory"] is None:
            args["paused_in_memory"] = 64
        args.update(overrides)
        return cls(policy=spec["policy"], policy_params=spec.get("policy_params") or {}, **args)

    # Fields that make an experiment a different one; the rest (workers, timeout,
    # target path) may change on resume.
    SAME = ("space", "metric", "mode", "policy", "policy_params", "max_epochs", "n_trials", "budget", "seed")

    def check_same(self, logged: dict, run_dir: Path) -> None:
        for key in self.SAME:
            a, b = _normal(self.spec.get(key)), _normal(logged.get(key))
            if a != b:
                raise ValueError(
                    f"{run_dir} holds another experiment: its {key} is {b!r}, but this one has {a!r}"
                )


def _normal(v: Any) -> Any:
    return json.loads(json.dumps(v, default=str))


def read_spec(run_dir: str | os.PathLike) -> dict:
    """The spec of a run dir, from its log's first record."""
    table = read_events(run_dir)
    for ev in iter_events(table.slice(0, 1)):
        if ev["kind"] == "experiment_started":
            return json.loads(ev["payload"])
    raise ValueError(f"{run_dir}: the event log does not start with experiment_started")


def _new_run_dir(policy: str) -> Path:
    stamp = time.strftime("%Y%m%d-%H%M%S")
    return Path("halving-runs") / f"{stamp}-{policy}-{secrets.token_hex(2)}"


def tune(
    trainable: Any,
    space: Any,
    *,
    metric: str,
    mode: str = "max",
    policy: str | P.Policy = "asha",
    max_epochs: int,
    trials: int | None = None,
    budget: int | None = None,
    workers: int | None = None,
    timeout: float | None = None,
    seed: int = 0,
    run_dir: str | os.PathLike | None = None,
    address: str | None = None,
    resume: bool = False,
    max_failures: int = 0,
    trial_timeout: float | None = None,
    cpus_per_rung: Sequence[int] | None = None,
    paused_in_memory: int = 64,
    progress: Callable[[Engine], None] | None = None,
    lookahead: int = 1,
    **policy_params: Any,
) -> Result:
    """Tune ``trainable`` over ``space`` with early termination.

    ``trainable`` is a function ``train(config)`` that calls
    ``halving.report(**metrics)`` once per epoch, or a class with
    ``setup(config)`` and ``train_epoch() -> dict``. Each configuration is a
    trial; up to ``workers`` trials train at once in Ray actors, and
    ``policy`` decides after each rung or interval which go on. ``trials=None``
    enumerates the grid of a space of ``choice``/``grid`` dimensions.

    ``budget`` caps the epochs trained by all trials together; ``timeout``
    (seconds) stops handing out work and finishes cleanly. Everything is
    logged to ``run_dir`` (default ``halving-runs/<time>-<policy>-<id>``);
    ``resume=True`` continues the experiment logged there. ``address=None``
    starts a local Ray and shuts it down afterwards (an already initialised
    Ray is used as it is); ``"auto"`` or ``"ray://..."`` joins a cluster and
    leaves it running. ``cpus_per_rung`` gives trials on higher rungs more
    CPUs, e.g. ``[1, 2, 4]``; the trainable reads its count with
    ``halving.cpus()``. A trial that raises is retried up to
    ``max_failures`` times (from its checkpoint on disk where it has one,
    else from scratch); one
    that trains longer than ``trial_timeout`` seconds in all is stopped.
    A worker holds at most ``paused_in_memory`` paused trials; past that the
    oldest are saved to checkpoints in the run dir and dropped from memory
    (trials that can be saved: class trainables, and functions that report
    ``checkpoint=``).
    ``lookahead`` assignments are handed to a busy worker beyond the one it
    trains, so that it starts its next one without waiting for the driver;
    ``lookahead=0`` hands a worker its next assignment only once its current
    one has returned. At most ``workers`` trials train at once either way, and
    time spent queued does not count toward ``trial_timeout``. The policy is
    asked for the next assignment before the current one's results are in, so
    an ASHA promotion may come one assignment later, and after ``timeout`` a
    worker still trains the assignment it holds queued as well as its current one.
    Extra keyword arguments are the policy's parameters (``eta=3``,
    ``min_epochs=1``, ``grace=...``).
    """
    kind = describe_trainable(trainable)
    checks.count("lookahead", lookahead, low=0)
    exp = Experiment(space=space, metric=metric, mode=mode, policy=policy, max_epochs=max_epochs, trials=trials,
                     budget=budget, workers=workers, timeout=timeout, seed=seed, max_failures=max_failures,
                     cpus_per_rung=cpus_per_rung, target=target_name(trainable), policy_params=policy_params,
                     trial_timeout=trial_timeout, paused_in_memory=paused_in_memory)
    return run_experiment(exp, trainable, run_dir=run_dir, resume=resume, address=address, progress=progress,
                          kind=kind, lookahead=lookahead)


def run_experiment(exp: Experiment, trainable: Any, *, run_dir: str | os.PathLike | None, resume: bool,
                   address: str | None, progress: Callable | None = None, kind: str | None = None,
                   lookahead: int = 1) -> Result:
    """Run a validated experiment, or continue the one logged in ``run_dir``."""
    kind = kind or describe_trainable(trainable)
    run_path = Path(run_dir) if run_dir is not None else _new_run_dir(exp.policy.name)
    if run_path.exists() and not run_path.is_dir():
        raise ValueError(f"run_dir {run_path} exists and is not a directory")
    events = None
    if run_path.exists() and log_files(run_path):
        if not resume:
            raise ValueError(f"{run_path} already holds an experiment; pass resume=True (CLI: halving resume "
                             f"{run_path}) to continue it, or choose another run_dir")
        exp.check_same(read_spec(run_path), run_path)
        events = read_events(run_path)
    return _execute(exp, trainable, kind, run_path, events, address, progress, lookahead)


def _execute(exp: Experiment, trainable: Any, kind: str, run_path: Path, events: Any, address: str | None,
             progress: Callable | None, lookahead: int = 1) -> Result:
    import ray

    from .backends.ray_backend import RayBackend

    started_ray = False
    if address is None:
        if not ray.is_initialized():
            ray.init(address="local", include_dashboard=False, configure_logging=False)
            started_ray = True
    else:
        if ray.is_initialized():
            raise RuntimeError("Ray is already initialised in this process; pass address=None to use it")
        ray.init(address=address, include_dashboard=False)
        started_ray = False
    backend = None
    log = None
    try:
        total_cpus = int(ray.cluster_resources().get("CPU", 1))
        n_workers = exp.workers or max(1, total_cpus)
        max_node_cpus = max((int(n["Resources"].get("CPU", 0)) for n in ray.nodes() if n["Alive"]), default=1)
        run_path.mkdir(parents=True, exist_ok=True)
        seq = int(events.column("seq")[-1].as_py()) + 1 if events is not None and events.num_rows else 0
        log = EventLog(run_path, seq=seq)
        backend = RayBackend(trainable, metric=exp.metric, workers=n_workers, class_trainable=kind == "class",
                             cpus_of_rung=cpu_ladder(exp.cpus_per_rung, max_node_cpus),
                             checkpoint_dir=run_path / "checkpoints", trial_timeout=exp.trial_timeout,
                             max_paused=exp.paused_in_memory, lookahead=lookahead)
        engine = Engine(exp.policy, backend, n_trials=exp.n_trials, max_epochs=exp.max_epochs,
                        config_of=exp.config_of, metric=exp.metric, mode=exp.mode, budget=exp.budget,
                        timeout=exp.timeout, recorder=log, max_failures=exp.max_failures,
                        rung_of_epoch=_rung_index(getattr(exp.policy, "levels", None)), on_progress=progress)
        now = time.time()
        session = {"session": log.session, "workers": n_workers, "ray": ray.__version__}
        if events is None:
            log.experiment_started(exp.spec, now)
            (run_path / "spec.json").write_text(json.dumps(exp.spec, indent=2, default=str))
        else:
            stats = engine.replay(iter_events(events))
            session.update(resumed=True, replayed=stats, running_at_crash=sorted(engine.granted))
        log.session_started(session, now)
        log.flush()
        t0 = time.perf_counter()
        try:
            result = engine.run()
        except KeyboardInterrupt:
            log.add("interrupted", time.time(), payload=json.dumps("KeyboardInterrupt"))
            log.close()
            raise KeyboardInterrupt(
                f"interrupted; every report so far is in {run_path}. Resume with: halving resume {run_path}"
            ) from None
        result.wall_seconds = time.perf_counter() - t0
        if result.best_trial is not None:
            result.best_model = backend.fetch_model(result.best_trial)
            if result.best_model is not None:
                with open(run_path / "best_model.pkl", "wb") as fh:
                    pickle.dump(result.best_model, fh)
        result.run_dir = str(run_path)
        result.backend_stats = {
            "round_trips": backend.round_trips,
            "warm_promotions": backend.warm_promotions,
            "migrations": backend.migrations,
            "spilled": backend.spilled,
            "workers": n_workers,
        }
        log.experiment_finished(result.summary(), time.time())
        log.close()
        _write_results(run_path, result)
        return result
    finally:
        if log is not None and not log.closed:
            log.close()
        if backend is not None:
            backend.close()
        if started_ray:
            ray.shutdown()


def _write_results(run_path: Path, result: Result) -> None:
    import pyarrow.parquet as pq

    table = result.table()
    tmp = run_path / "results.parquet.tmp"
    pq.write_table(table, tmp)
    os.replace(tmp, run_path / "results.parquet")


class _NoBackend:
    """Stands in for a backend when a run is only read back (``load``)."""

    def now(self) -> float:
        return 0.0

    def release(self, trial: int, keep: bool) -> None:
        pass


def load(run_dir: str | os.PathLike) -> Result:
    """The result of a run from its log, finished or not (nothing is started)."""
    run_path = Path(run_dir)
    if not run_path.is_dir():
        raise FileNotFoundError(f"run dir {run_path} does not exist")
    events = read_events(run_path)
    spec = read_spec(run_path)
    exp = Experiment.from_spec(spec)
    engine = Engine(exp.policy, _NoBackend(), n_trials=exp.n_trials, max_epochs=exp.max_epochs,
                    config_of=exp.config_of, metric=exp.metric, mode=exp.mode, budget=exp.budget)
    engine.replay(iter_events(events))
    result = engine.result()
    result.run_dir = str(run_path)
    best_model = run_path / "best_model.pkl"
    if result.best_trial is not None and best_model.exists():
        with open(best_model, "rb") as fh:
            result.best_model = pickle.load(fh)
    times = events.column("time").to_pylist()
    if times:
        result.wall_seconds = max(t for t in times if t == t) - min(t for t in times if t == t)
    return result
