"""``halving.tune``: the user's training code as Ray actors, on the engine loop."""

from __future__ import annotations

import os
import pickle
import time
from pathlib import Path
from typing import Any, Callable, Sequence

import policies as P

from .engine import Engine
from .result import Result
from .simulation import resolve_policy
from .space import Space, load_space
from .trainable import describe_trainable

__all__ = ["tune"]


def _check_positive_int(name: str, value: Any, *, allow_none: bool = True) -> None:
    if value is None and allow_none:
        return
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ValueError(f"{name} must be a positive int, but got {name}={value!r}")


def cpu_ladder(ladder: Sequence[int] | None, cap: int) -> Callable[[int], int]:
    """CPUs for a trial on rung k: ``ladder[min(k, len - 1)]``, capped at ``cap``."""
    if ladder is None:
        return lambda rung: 1
    steps = list(ladder)
    if not steps or any(isinstance(c, bool) or not isinstance(c, int) or c < 1 for c in steps):
        raise ValueError(f"cpus_per_rung must be positive ints, such as (1, 2, 4), but got {ladder!r}")
    return lambda rung: min(steps[min(rung, len(steps) - 1)], cap)


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
    cpus_per_rung: Sequence[int] | None = None,
    **policy_params: Any,
) -> Result:
    """Tune ``trainable`` over ``space`` with early termination.

    ``trainable`` is a function ``train(config)`` that calls
    ``halving.report(**metrics)`` once per epoch, or a class with
    ``setup(config)`` and ``train_epoch() -> dict``. Each configuration is a
    trial; up to ``workers`` trials train at once in Ray actors, and
    ``policy`` decides after each rung or interval which go on.

    ``budget`` caps the epochs trained by all trials together; ``timeout``
    (seconds) stops handing out work and finishes cleanly. ``address=None``
    starts a local Ray and shuts it down afterwards (an already initialised
    Ray is used as it is); ``"auto"`` or ``"ray://..."`` joins a cluster and
    leaves it running. ``cpus_per_rung`` gives trials on higher rungs more
    CPUs, e.g. ``(1, 2, 4)``; the trainable reads its count with
    ``halving.cpus()``.
    """
    # Every check happens before Ray starts.
    kind = describe_trainable(trainable)
    if not isinstance(metric, str) or not metric:
        raise ValueError(f"metric must be a non-empty string, but got metric={metric!r}")
    P.Direction(mode)
    _check_positive_int("max_epochs", max_epochs, allow_none=False)
    _check_positive_int("trials", trials)
    _check_positive_int("budget", budget)
    _check_positive_int("workers", workers)
    if timeout is not None and (isinstance(timeout, bool) or not isinstance(timeout, (int, float)) or timeout <= 0):
        raise ValueError(f"timeout must be a positive number of seconds, but got timeout={timeout!r}")
    space_obj: Space = load_space(space)
    grid = trials is None
    if grid:
        try:
            n_trials = space_obj.grid_size()
        except ValueError as exc:
            raise ValueError(f"trials=None enumerates a grid, but {exc}; pass trials=N to sample") from None
        configs = space_obj.grid()
        config_of = configs.__getitem__
    else:
        n_trials = trials
        config_of = lambda i: space_obj.config(i, seed)  # noqa: E731 - one trial at a time, lazily
    pol = resolve_policy(policy, seed, **policy_params)
    pol.start(n_trials=n_trials, max_epochs=max_epochs, mode=mode)
    run_path = Path(run_dir) if run_dir is not None else None
    if run_path is not None:
        run_path.mkdir(parents=True, exist_ok=True)

    import ray

    from .backends.ray_backend import RayBackend

    started_ray = False
    if address is None:
        if not ray.is_initialized():
            ray.init(include_dashboard=False, log_to_driver=True, configure_logging=False)
            started_ray = True
    else:
        if ray.is_initialized():
            raise RuntimeError("Ray is already initialised in this process; pass address=None to use it")
        ray.init(address=address, include_dashboard=False)
    backend = None
    try:
        total_cpus = int(ray.cluster_resources().get("CPU", 1))
        n_workers = workers or max(1, total_cpus)
        max_node_cpus = max((int(n["Resources"].get("CPU", 0)) for n in ray.nodes() if n["Alive"]), default=1)
        backend = RayBackend(
            trainable,
            metric=metric,
            workers=n_workers,
            class_trainable=kind == "class",
            cpus_of_rung=cpu_ladder(cpus_per_rung, max_node_cpus),
        )
        levels = getattr(pol, "levels", None)
        engine = Engine(
            pol,
            backend,
            n_trials=n_trials,
            max_epochs=max_epochs,
            config_of=config_of,
            metric=metric,
            mode=mode,
            budget=budget,
            timeout=timeout,
            rung_of_epoch=_rung_index(levels),
        )
        t0 = time.perf_counter()
        result = engine.run()
        result.wall_seconds = time.perf_counter() - t0
        if result.best_trial is not None:
            result.best_model = backend.fetch_model(result.best_trial)
            if run_path is not None and result.best_model is not None:
                with open(run_path / "best_model.pkl", "wb") as fh:
                    pickle.dump(result.best_model, fh)
        result.run_dir = None if run_path is None else str(run_path)
        result.backend_stats = {
            "round_trips": backend.round_trips,
            "warm_promotions": backend.warm_promotions,
            "migrations": backend.migrations,
            "workers": n_workers,
        }
        return result
    finally:
        if backend is not None:
            backend.close()
        if started_ray:
            ray.shutdown()


def _rung_index(levels: list[int] | None) -> Callable[[int], int]:
    """The rung a trial trains toward when it starts from ``epoch``."""
    if not levels:
        return lambda epoch: 0
    import bisect

    return lambda epoch: bisect.bisect_right(levels, epoch)
