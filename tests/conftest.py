"""Shared fixtures: one real local Ray for the whole test session."""

from __future__ import annotations

import os

import pytest

os.environ.setdefault("RAY_DEDUP_LOGS", "0")


@pytest.fixture(scope="session")
def ray_session():
    """A real local Ray with 2 CPUs, started once and shut down at the end."""
    ray = pytest.importorskip("ray")
    if not ray.is_initialized():
        ray.init(address="local", num_cpus=2, include_dashboard=False, configure_logging=False, log_to_driver=False)
    import halving

    with halving.reuse_workers():  # the tests' experiments share worker processes, as `halving compare` does
        yield ray
    ray.shutdown()
