"""``halving.tune``: the user's training code as Ray actors, on the engine loop, with
every event in the run dir's log."""

from __future__ import annotations

import errno
import inspect
import json
import os
import secrets
import time
import warnings
from pathlib import Path
from typing import Any, Callable, Sequence

import policies as P
import pyarrow as pa

from .backends.checkpoints import CheckpointStore
from .engine import Engine
from .errors import SpecTypeError, UserError
from . import runlock
from .eventlog import EventLog, iter_events, log_files, read_events, repair_run
from .experiment import ExperimentSpec, PolicySpec, SamplerSpec
from .replay import replay_log
from .result import Result, TrialState
from .samplers import Sampler
from .rundir import BEST_MODEL, session_seconds, spec_of_events
from .signing import dump_pickle, run_key
from .trainable import describe_trainable

__all__ = ["tune", "run_experiment", "run_logged", "target_name"]

CHECKPOINTS = "checkpoints"
_PROBE_BYTES = 1 << 20
# Errors of a write that the user can mend (space, permissions, a read-only file system).
_WRITE_ERRORS = {errno.ENOSPC, errno.EDQUOT, errno.EROFS, errno.EACCES, errno.EPERM, errno.EIO}


def target_name(trainable: Any) -> str:
    """``module:qualname`` of a trainable, the form the CLI and resume import."""
    module = getattr(trainable, "__module__", None) or "?"
    return f"{module}:{getattr(trainable, '__qualname__', repr(trainable))}"


# Long only for its docstring, which documents every setting a user passes here.
def tune(
    trainable: Any,
    space: Any,
    *,
    metric: str,
    mode: str | None = None,
    policy: str | P.Policy = "asha",
    sampler: str | Sampler | None = None,
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
    cpus: float | Sequence[float] | None = None,
    gpus: float | Sequence[float] = 0,
    resources: dict[str, float | Sequence[float]] | None = None,
    paused_on_device: int = 0,
    cpus_per_rung: Sequence[int] | None = None,
    paused_in_memory: int = 64,
    progress: Callable[[Engine], None] | None = None,
    lookahead: int = 1,
    **policy_params: Any,
) -> Result:
    """Tune ``trainable`` over ``space`` with early termination.

    ``trainable`` is a function ``train(config)`` that calls
    ``halving.report(**metrics)`` once per epoch, or a class with
    ``setup(config)`` and ``train_epoch() -> dict``. Trials are ranked by the
    reported ``metric``; ``mode`` (required) says which way is better:
    ``"max"`` or ``"min"``. Each configuration is a
    trial; up to ``workers`` trials train at once in Ray actors, and
    ``policy`` decides after each rung or interval which go on. ``trials=None``
    enumerates the grid of a space of ``choice``/``grid`` dimensions.

    ``budget`` caps the epochs trained by all trials together; ``timeout``
    (seconds) stops handing out work and finishes cleanly. Everything is
    logged to ``run_dir`` (default ``halving-runs/<time>-<policy>-<id>``);
    ``resume=True`` continues the experiment logged there. ``address=None``
    starts a local Ray and keeps it, with its workers idle, for the next
    ``tune()`` of the process (shut down at exit, or by ``ray.shutdown()``;
    an already initialised Ray is used as it is); ``"auto"`` or ``"ray://..."`` joins a cluster and
    leaves it running. ``cpus``, ``gpus`` and ``resources`` (custom Ray
    resources, ``{"name": amount}``) are what each trial's worker holds: a
    number, or one per rung (``gpus=[0.25, 0.5, 1]``: survivors on higher rungs
    get more; the last entry holds for the rungs past it). A fraction of a GPU
    shares it. ``cpus=None`` gives one CPU (a share when ``workers`` exceeds
    the CPUs). The trainable reads its CPUs with ``halving.cpus()`` and its
    GPU ids with ``halving.gpus()``. A request no node can hold is refused
    before any trial starts; at most as many trials train at once as the
    cluster holds. On a GPU worker at most ``paused_on_device`` paused trials
    keep their state on the device; the others are moved off it (see
    ``halving.trainable``). ``cpus_per_rung`` is the deprecated name of a
    ``cpus`` list. A trial that raises is retried up to
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
    ``sampler`` chooses each new trial's configuration: ``"random"`` (the
    default; ``"grid"`` with ``trials=None``), ``"tpe"``, ``"bohb"`` or a
    ``halving.samplers.Sampler`` object; the log records which model proposed
    each config and on how many observations.
    Extra keyword arguments are the policy's parameters (``eta=3``,
    ``min_epochs=1``, ``grace=...``).
    """
    kind = describe_trainable(trainable)
    _check_keywords(policy, policy_params)
    spec = ExperimentSpec(
        space=space, metric=metric, mode=mode, policy=PolicySpec.of(policy, policy_params, seed=seed),
        sampler=None if sampler is None else SamplerSpec.of(sampler), max_epochs=max_epochs, trials=trials,
        budget=budget, workers=workers, timeout=timeout, seed=seed,
        max_failures=max_failures, trial_timeout=trial_timeout, paused_in_memory=paused_in_memory,
        cpus=cpus, gpus=gpus, resources=resources or {}, paused_on_device=paused_on_device,
        cpus_per_rung=cpus_per_rung, lookahead=lookahead, target=target_name(trainable))
    return run_experiment(spec, trainable, run_dir=run_dir, resume=resume, address=address, progress=progress,
                          kind=kind)


def _check_keywords(policy: Any, policy_params: dict) -> None:
    """A keyword that is neither tune()'s nor the policy's is named with what both accept
    (a typo, or a setting of another tool such as ``gpus_per_trial``)."""
    takes = set(P.parameters(policy)) if isinstance(policy, str) and policy in P.POLICIES else set()
    unknown = sorted(set(policy_params) - takes)
    if unknown:
        settings = [p for p in inspect.signature(tune).parameters if p not in ("trainable", "policy_params")]
        # Another tool's name for one of ours (Ray Tune's gpus_per_trial, say) contains ours.
        near = [s for s in settings if s in unknown[0].split("_")]
        hint = f"; did you mean {near[0]}=?" if near else ""
        raise SpecTypeError(f"tune() got an unexpected keyword argument {unknown[0]!r}: it is neither a setting of "
                            f"tune() ({', '.join(settings)}) nor a parameter of policy {policy!r} "
                            f"({', '.join(sorted(takes)) or 'none'}){hint}")


def run_experiment(spec: ExperimentSpec, trainable: Any, *, run_dir: str | os.PathLike | None, resume: bool,
                   address: str | None, progress: Callable | None = None, kind: str | None = None) -> Result:
    """Run an experiment, or continue the one logged in ``run_dir``."""
    kind = kind or describe_trainable(trainable)
    spec.started_policy()  # a policy that cannot be built, or refuses this experiment, stops us before Ray
    run_path = Path(run_dir) if run_dir is not None else _new_run_dir(spec.policy.label)
    if run_path.exists() and not run_path.is_dir():
        raise UserError(f"run_dir {run_path} exists and is not a directory")
    _check_writable(run_path)
    with runlock.acquire(run_path) as lock:  # one writer per run dir, until the log is closed
        spec, events = _logged_events(spec, run_path, lock, resume)
        from .backends.ray_backend import RayBackend
        from .backends.ray_cluster import connect

        # A Ray this call starts is kept for the process, its workers idle for the next tune()
        # (ray_pool says when that is safe); a Ray the user started, or a cluster, is not.
        with connect(address, keep=address is None) as cluster:
            workers = spec.workers or max(1, int(cluster.cpus))
            store = CheckpointStore(run_path / CHECKPOINTS, run_key(run_path, create=True))
            backend = RayBackend(trainable, spec, workers=workers, class_trainable=kind == "class",
                                 checkpoints=store)
            try:
                return run_logged(spec, spec.policy.build(), backend, run_path, events, progress,
                                  ready=backend.ready)
            finally:
                backend.close()


def _logged_events(spec: ExperimentSpec, run_path: Path, lock: runlock.RunLock,
                   resume: bool) -> tuple[ExperimentSpec, Any]:
    """The events of the experiment already logged in ``run_path`` (None: none is), checked to
    be this experiment's, and the spec to continue it with (built with the log's defaults).
    Only the writer, under its lock, cuts a torn tail."""
    events = read_events(run_path) if log_files(run_path) else None
    if events is None or not events.num_rows:
        return spec, None  # no log, or only the header of a run stopped while it started: nothing to continue
    if not resume:
        raise UserError(f"{run_path} already holds an experiment; pass resume=True (CLI: halving resume "
                        f"{run_path}) to continue it, or choose another run_dir")
    logged = spec_of_events(events, run_path)
    spec.check_same(logged.to_dict(), run_path)
    spec = spec.continuing(logged)
    spec.started_policy()  # with the log's defaults, which may refuse what today's took
    # Refused above without a byte changed; the resuming writer alone cuts a torn tail.
    repair_run(lock)
    return spec, read_events(run_path)


def run_logged(spec: ExperimentSpec, policy: P.Policy, backend: Any, run_path: Path, events: Any,
               progress: Callable | None, ready: Callable[[], None] | None = None) -> Result:
    """Run ``policy`` on any backend with every event logged to ``run_path``; with ``events``
    (a log read back), the engine's state is first replayed from them: a resume. ``ready``
    waits for the backend's workers, which start while the log and the engine are made; it
    is called before the first record, so a backend that cannot start leaves a log with no
    record, which a retry (or a resume) takes as no experiment started in this session."""
    seq = int(events.column("seq")[-1].as_py()) + 1 if events is not None and events.num_rows else 0
    log = EventLog(run_path, seq=seq)
    try:
        engine = Engine(spec, policy, backend, recorder=log, on_progress=progress)
        session = {"session": log.session, "workers": backend.workers}
        if events is not None:
            stats = replay_log(engine, iter_events(events), check_proposals=True)
            _warn_diverged(stats["sampler"], run_path)
            needed = {t for t, r in engine.trials.items() if r.state in (TrialState.PAUSED, TrialState.RUNNING)}
            stale = CheckpointStore(run_path / CHECKPOINTS, None).prune(keep=needed)
            session.update(resumed=True, replayed=stats, running_at_crash=engine.running(),
                           stale_checkpoints_removed=stale)
        if ready is not None:
            ready()
        now = time.time()
        if events is None:
            header = spec.to_dict()
            log.experiment_started(header, now)
            (run_path / "spec.json").write_text(json.dumps(header, indent=2, default=str))
        log.session_started(session, now)
        log.flush()
        earlier = 0.0 if events is None else session_seconds(events)
        t0 = time.perf_counter()
        _train(engine, log, run_path)
        wall = earlier + time.perf_counter() - t0
        model = backend.fetch_model(engine.best_trial) if engine.best_trial is not None else None
        model_path = _save_model(run_path, model)
        result = engine.result(wall_seconds=wall, model=model, model_path=model_path, run_dir=str(run_path),
                               backend_stats=backend.stats())
        log.experiment_finished(result.summary(), time.time())
        log.close()
        written = log.written()
        _write_results(run_path, written if events is None else pa.concat_tables([events, written]))
        CheckpointStore(run_path / CHECKPOINTS, None).prune(keep=set())  # the best model is saved apart
        return result
    finally:
        if not log.closed:
            try:
                log.close()
            except OSError:
                pass  # the write that failed was reported; what was written before stays


def _warn_diverged(check: dict, run_path: Path) -> None:
    """A resume whose sampler no longer proposes what the log holds says so (the session
    record in the log holds the same description)."""
    diverged = check.get("diverged")
    if diverged is not None:
        warnings.warn(f"{run_path}: the {check['name']} sampler proposes trial {diverged['trial']} another config "
                      f"than the log holds ({diverged['why']}); the logged configs are kept, but proposals "
                      "from here on are not those of an uninterrupted run", stacklevel=3)


def _train(engine: Engine, log: EventLog, run_path: Path) -> None:
    """The engine's loop; an interrupt or a failed write stops it in order, every record
    written so far kept, with the command that resumes it."""
    resume_hint = f"Resume with: halving resume {run_path}"
    try:
        engine.run()
    except KeyboardInterrupt:
        log.interrupted("KeyboardInterrupt", time.time())
        log.close()
        raise KeyboardInterrupt(f"interrupted; every report so far is in {run_path}. {resume_hint}") from None
    except OSError as exc:
        if exc.errno not in _WRITE_ERRORS:
            raise
        raise UserError(f"writing to {run_path} failed ({exc.strerror}); every report written before is kept. "
                        f"Free space or fix the folder, then: halving resume {run_path}") from None


def _check_writable(run_path: Path) -> None:
    """A run dir that cannot be written (under a file, read-only, a full disk) is one clear
    line, before Ray starts."""
    try:
        run_path.mkdir(parents=True, exist_ok=True)
        probe = run_path / ".write-probe"
        with open(probe, "wb") as fh:  # room for the first records and a checkpoint or two
            fh.write(bytes(_PROBE_BYTES))
            fh.flush()
            os.fsync(fh.fileno())
        probe.unlink()
    except OSError as exc:
        raise UserError(f"cannot write the run dir {run_path}: {exc.strerror or exc}") from None


def _save_model(run_path: Path, model: Any) -> str | None:
    if model is None:
        return None
    path = run_path / BEST_MODEL
    dump_pickle(model, path, run_key(run_path, create=True))
    return str(path)


def _new_run_dir(label: str) -> Path:
    stamp = time.strftime("%Y%m%d-%H%M%S")
    return Path("halving-runs") / f"{stamp}-{label}-{secrets.token_hex(2)}"


def _write_results(run_path: Path, events: pa.Table) -> None:
    """``results.parquet``: the export's reports table, one column per hyperparameter and per
    metric, built from the log's events (not from ``result``) so that every session's reports
    keep the worker and values the log holds. ``events``: the earlier sessions' as read at the
    start and this session's as written, so the log is not read back."""
    from .export import write_reports

    write_reports(run_path, run_path / "results.parquet", events)
