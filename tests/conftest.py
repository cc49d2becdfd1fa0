"""Shared fixtures: one real local Ray for the whole test session."""

from __future__ import annotations

import os

import pytest

os.environ.setdefault("RAY_DEDUP_LOGS", "0")


@pytest.fixture(scope="session")
def ray_session():
    """A real local Ray with 2 CPUs, 2 logical GPUs (no device behind them: Ray only counts and
    assigns their ids) and 2 of a custom resource ``accel``, started once (as ``address=None``
    does) and shut down at the end. Trials ask for no GPU unless a test says so."""
    ray = pytest.importorskip("ray")
    import halving
    from halving.backends.ray_cluster import start_local

    if not ray.is_initialized():
        start_local(num_cpus=2, num_gpus=2, resources={"accel": 2}, log_to_driver=False)  # as halving starts it: on loopback only

    with halving.reuse_workers():  # the tests' experiments share worker processes, as `halving compare` does
        yield ray
    ray.shutdown()
