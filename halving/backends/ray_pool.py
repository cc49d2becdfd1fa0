"""Worker processes kept idle between experiments of one driver (``halving.reuse_workers()``).

Idle workers are kept only inside ``reuse_workers()``: an idle worker still holds its CPUs,
which other Ray work of the same driver (Ray Tune, say) would otherwise wait for. They are
valid for one Ray job: a new ``ray.init`` makes them stale. A Ray that halving started for
the whole process (``ray_cluster.connect(keep=True)``) keeps them for as long as it runs.
"""

from __future__ import annotations

import contextlib
from typing import Any, Iterator

import ray

__all__ = ["reuse_workers", "release_idle_workers", "keeping_idle", "take_idle", "give_back",
           "keep_idle_in_session", "session_id"]

_idle: dict = {"job": None, "actors": [], "keep": 0, "session": None}


@contextlib.contextmanager
def reuse_workers() -> Iterator[None]:
    """Within this block, ``tune()`` calls on one Ray share their worker processes: a
    worker started for one experiment waits, idle, for the next (``halving compare``
    runs its experiments this way). Leaving the block ends the idle workers."""
    _idle["keep"] += 1
    try:
        yield
    finally:
        _idle["keep"] -= 1
        if not _idle["keep"]:
            release_idle_workers()


def keeping_idle() -> bool:
    """Are finished experiments' workers kept for the next one?"""
    return _idle["keep"] > 0 or (_idle["session"] is not None and _idle["session"] == session_id())


def keep_idle_in_session() -> None:
    """Keep finished experiments' workers idle for as long as the current Ray runs."""
    _idle["session"] = session_id()


def session_id() -> tuple[str, str] | None:
    """This driver's node and job: a new ``ray.init``, even of the same job id, differs."""
    if not ray.is_initialized():
        return None
    context = ray.get_runtime_context()
    return context.get_node_id(), context.get_job_id()


def release_idle_workers() -> None:
    """End the idle workers kept for a next experiment, and free their CPUs."""
    actors, _idle["actors"] = _idle["actors"], []
    if ray.is_initialized():
        for _, actor in actors:
            ray.kill(actor)


def take_idle(cpus: float, n: int) -> list:
    """Up to ``n`` idle workers of ``cpus`` CPUs; every other idle worker is ended, since
    idle workers hold their CPUs and the new experiment may need them."""
    job = session_id()  # not the job id alone: a new ray.init may reuse it
    idle = _idle["actors"] if _idle["job"] == job else []
    _idle.update(job=job, actors=[])
    taken = []
    for size, actor in idle:
        if size == cpus and len(taken) < n:
            taken.append(actor)
        else:
            ray.kill(actor)
    return taken


def give_back(cpus: float, actor: Any) -> None:
    """Keep a healthy worker, reset, for this driver's next experiment."""
    job = session_id()  # not the job id alone: a new ray.init may reuse it
    if _idle["job"] != job:
        _idle.update(job=job, actors=[])
    _idle["actors"].append((cpus, actor))
