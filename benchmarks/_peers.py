"""Helpers for the benchmarks that run halving beside Ray Tune and Optuna:
one shared local Ray, Ray Tune's ASHA driven through its public API on a
fixed list of configurations, tables of medians, and JSON output.

Only public APIs of the peers are used (``ray.tune.Tuner``,
``ray.tune.schedulers.ASHAScheduler``, ``optuna.create_study``...).
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import statistics
import sys
import tempfile
import time
from contextlib import contextmanager
from typing import Any, Callable, Iterator, Sequence

try:  # run as ``python benchmarks/x.py``: this folder is sys.path[0]
    from _common import machine
except ImportError:  # pragma: no cover - imported as benchmarks._peers
    from benchmarks._common import machine  # type: ignore[no-redef]

__all__ = [
    "RAY_TUNE_SETTINGS",
    "fmt",
    "machine",
    "median",
    "print_table",
    "ray_tune_asha",
    "ray_tune_run",
    "save_json",
    "start_ray",
    "stop_ray",
    "tempdir",
    "versions",
]


def median(values: Sequence[float]) -> float:
    values = [v for v in values if v is not None]
    return float(statistics.median(values)) if values else float("nan")


def fmt(x: Any, digits: int = 3) -> str:
    if x is None:
        return "-"
    if isinstance(x, float):
        if x != x:
            return "nan"
        if abs(x) >= 1000:
            return f"{x:,.0f}"
        return f"{x:.{digits}g}" if abs(x) < 1 else f"{x:.{digits}f}".rstrip("0").rstrip(".")
    return str(x)


def print_table(title: str, header: Sequence[str], rows: Sequence[Sequence[Any]]) -> None:
    cells = [[str(h) for h in header]] + [[fmt(c) for c in row] for row in rows]
    widths = [max(len(r[i]) for r in cells) for i in range(len(header))]
    print()
    print(title)
    line = "  ".join("-" * w for w in widths)
    print(line)
    for k, r in enumerate(cells):
        print("  ".join(c.rjust(w) if i else c.ljust(w) for i, (c, w) in enumerate(zip(r, widths))))
        if k == 0:
            print(line)
    print(line)


def versions() -> dict:
    out = {}
    for name in ("halving", "ray", "optuna", "sklearn", "numpy", "pyarrow"):
        try:
            mod = __import__(name)
            out[name] = getattr(mod, "__version__", "?")
        except ImportError:
            out[name] = None
    return out


def code_state() -> dict:
    """The commit measured, and whether halving/ or policies/ had uncommitted changes."""
    import subprocess

    here = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))  # the repository root
    try:
        head = subprocess.run(["git", "rev-parse", "HEAD"], cwd=here, capture_output=True, text=True,
                              timeout=10).stdout.strip()
        dirty = subprocess.run(["git", "status", "--porcelain", "--", "halving", "policies"], cwd=here,
                               capture_output=True, text=True, timeout=10).stdout.split("\n")
        return {"commit": head or None, "uncommitted_in_halving_or_policies": [d[3:] for d in dirty if d.strip()]}
    except (OSError, subprocess.SubprocessError):
        return {"commit": None}


def save_json(path: str | None, payload: dict) -> None:
    if not path:
        return
    payload = dict(payload)
    payload.setdefault("machine", machine())
    payload.setdefault("versions", versions())
    payload.setdefault("code", CODE_AT_START or code_state())
    payload.setdefault("argv", sys.argv)
    with open(path, "w") as fh:
        json.dump(payload, fh, indent=2, default=str)
    print(f"\nwrote {path}")


@contextmanager
def tempdir(prefix: str) -> Iterator[str]:
    d = tempfile.mkdtemp(prefix=prefix)
    try:
        yield d
    finally:
        shutil.rmtree(d, ignore_errors=True)


def start_ray(num_cpus: int) -> float:
    """Start the one local Ray every tool in the benchmark shares; returns its start-up seconds."""
    import ray

    t0 = time.perf_counter()
    ray.init(num_cpus=num_cpus, include_dashboard=False, configure_logging=False)
    return time.perf_counter() - t0


def stop_ray() -> None:
    import ray

    if ray.is_initialized():
        ray.shutdown()


#: The code state when the benchmark started (halving is imported then).
CODE_AT_START = code_state()

#: What the benchmarks set on Ray Tune; everything else is left at its default.
RAY_TUNE_SETTINGS = (
    "Tuner(param_space={'i': grid_search(range(n))}) over the same n configurations, in order; "
    "TuneConfig(scheduler=ASHAScheduler(metric, mode, max_t=R, grace_period=1, reduction_factor=eta), "
    "reuse_actors=True, max_concurrent_trials=workers); "
    "RunConfig(storage_path=<fresh temp dir on local disk: no syncing>, verbose=0, callbacks=[a counter of results]); "
    "function trainable calling ray.tune.report(metrics) once per epoch; other settings (result loggers, "
    "experiment checkpointing) at their defaults"
)


def ray_tune_asha(trainable: Callable, n_configs: int, *, metric: str, mode: str, max_t: int, eta: int,
                  workers: int, lean: bool = False) -> dict:
    """One Ray Tune ASHA run over configuration indices ``0..n_configs-1`` on the running Ray.

    The trainable gets ``{"i": index}`` and looks its configuration up itself.
    Returns wall seconds of ``tuner.fit()`` and, per trial, its index, the number
    of results it reported and its last result (collected by a ``tune.Callback``
    in the driver, so they do not depend on the result files). ``lean=True`` also sets
    ``TUNE_DISABLE_AUTO_CALLBACK_LOGGERS=1`` (no per-trial CSV/JSON/TensorBoard
    result files), which a user chasing speed might do.
    """
    from ray.tune.schedulers import ASHAScheduler

    scheduler = ASHAScheduler(metric=metric, mode=mode, max_t=max_t, grace_period=1, reduction_factor=eta)
    return ray_tune_run(trainable, n_configs, scheduler, workers=workers, lean=lean)


def ray_tune_run(trainable: Any, n_configs: int, scheduler: Any, *, workers: int, lean: bool = False,
                 stop: dict | None = None, time_budget_s: float | None = None,
                 keep: Sequence[str] = ()) -> dict:
    """One Ray Tune run of ``scheduler`` over configuration indices ``0..n_configs-1`` on the running Ray.

    As :func:`ray_tune_asha`, with any scheduler, an optional ``stop`` criterion
    and ``time_budget_s`` (Ray Tune's own guard; ``timed_out`` says whether the run
    got near it). ``keep`` names result keys to record for every result, with its
    time since ``tuner.fit()`` began: ``events`` is a list of
    ``(seconds, index, training_iteration, {key: value})``.
    """
    from ray import tune

    keep = tuple(keep)

    class _Collect(tune.Callback):
        """Counts results and keeps each trial's last one, in the driver (a dict update per result)."""

        def __init__(self) -> None:
            self.n = 0
            self.last: dict[Any, dict] = {}
            self.count: dict[Any, int] = {}
            self.events: list[tuple] = []

        def on_trial_result(self, iteration, trials, trial, result, **info):
            self.n += 1
            key = trial.config["i"]
            self.last[key] = result
            self.count[key] = self.count.get(key, 0) + 1
            if keep:
                self.events.append((time.perf_counter(), key, result.get("training_iteration"),
                                    {k: result.get(k) for k in keep}))

    old = os.environ.get("TUNE_DISABLE_AUTO_CALLBACK_LOGGERS")
    quiet = logging.getLogger("ray.tune.analysis.experiment_analysis")
    level = quiet.level
    if lean:
        os.environ["TUNE_DISABLE_AUTO_CALLBACK_LOGGERS"] = "1"
        quiet.setLevel(logging.ERROR)  # it warns for every trial that it finds no result file
    collect = _Collect()
    try:
        with tempdir("bench-raytune-") as storage:
            tuner = tune.Tuner(
                trainable,
                param_space={"i": tune.grid_search(list(range(n_configs)))},
                tune_config=tune.TuneConfig(scheduler=scheduler, reuse_actors=True, max_concurrent_trials=workers,
                                            time_budget_s=time_budget_s),
                run_config=tune.RunConfig(storage_path=storage, name="bench", verbose=0, callbacks=[collect],
                                          stop=stop),
            )
            t0 = time.perf_counter()
            grid = tuner.fit()
            wall = time.perf_counter() - t0
            errors = grid.num_errors
    finally:
        quiet.setLevel(level)
        if lean:
            if old is None:
                os.environ.pop("TUNE_DISABLE_AUTO_CALLBACK_LOGGERS", None)
            else:
                os.environ["TUNE_DISABLE_AUTO_CALLBACK_LOGGERS"] = old
    trials = [{"i": i, "results": collect.count[i], "last": collect.last[i]} for i in sorted(collect.last)]
    return {"wall": wall, "trials": trials, "errors": errors, "results": collect.n,
            "trials_seen": len(trials), "n_configs": n_configs,
            "timed_out": time_budget_s is not None and wall >= 0.98 * time_budget_s,
            "events": [(t - t0, i, it, vals) for t, i, it, vals in collect.events]}


def release_halving_workers() -> int:
    """End the idle workers halving keeps inside ``halving.reuse_workers()`` (each holds a CPU,
    which a peer sharing this Ray would wait for). Returns how many there were."""
    from halving.backends import ray_backend

    n = len(ray_backend._idle_workers["actors"])
    ray_backend.release_idle_workers()
    return n
