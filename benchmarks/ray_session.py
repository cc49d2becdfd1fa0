"""The one local Ray a benchmark's tools share: started once, so its start-up is
paid once and kept out of every tool's wall time."""

from __future__ import annotations

import argparse
import time

__all__ = ["add_run_arguments", "start_ray", "stop_ray"]


def add_run_arguments(ap: argparse.ArgumentParser, *, trials: int) -> None:
    """The options every Ray benchmark shares: the experiment's size and the local Ray's CPUs."""
    ap.add_argument("--trials", type=int, default=trials)
    ap.add_argument("--max-epochs", type=int, default=27)
    ap.add_argument("--eta", type=int, default=3)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--cpus", type=int, default=2, help="CPUs of the local Ray")


def start_ray(num_cpus: int, *, quiet: bool = False) -> float:
    """Start a local Ray with ``num_cpus`` CPUs; returns its start-up seconds.

    Always a Ray of its own (``address="local"``): without it ``ray.init`` joins any
    Ray cluster already running on the machine, whose size and load are not the
    benchmark's. ``quiet=True`` keeps workers' output out of the driver's.
    """
    if num_cpus < 1:
        raise ValueError(f"num_cpus must be at least 1, but got {num_cpus=}")
    import ray

    t0 = time.perf_counter()
    ray.init(address="local", num_cpus=num_cpus, include_dashboard=False, configure_logging=False,
             log_to_driver=not quiet)
    return time.perf_counter() - t0


def stop_ray() -> None:
    import ray

    if ray.is_initialized():
        ray.shutdown()
