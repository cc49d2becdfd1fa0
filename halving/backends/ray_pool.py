"""Worker processes kept idle between experiments of one driver.

When they are kept, and why only then (an idle worker still holds its CPUs):

* on a Ray that halving started for this process (``tune()`` with ``address=None`` and no Ray
  initialised, the CLI, the scikit-learn search: ``ray_cluster.connect(keep=True)``), always,
  for as long as that Ray runs: nothing else of the process uses it unknown to halving;
* on a Ray the user initialised, or a cluster, only inside ``reuse_workers()``: other Ray work
  of the same driver (Ray Tune, say) or of other users would otherwise wait for their CPUs.

They are valid for one Ray job: a new ``ray.init`` makes them stale. A worker is reused only
at the CPU size asked for, and never for a trainable whose module's file changed on disk
since a kept worker imported it (it would still run the old code): then every idle worker
ends and new ones start. A worker's module-level state (caches, globals) lives on into the
next experiment, as it does from one trial to the next within an experiment.
"""

from __future__ import annotations

import contextlib
import os
import sys
from typing import Any, Iterator

import ray

__all__ = ["reuse_workers", "release_idle_workers", "keeping_idle", "take_idle", "give_back",
           "keep_idle_in_session", "session_id", "code_stamp"]

_idle: dict = {"job": None, "actors": [], "keep": 0, "session": None, "code": {}}


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
    actors, _idle["actors"], _idle["code"] = _idle["actors"], [], {}
    if ray.is_initialized():
        for _, actor in actors:
            ray.kill(actor)


def code_stamp(trainable: Any) -> dict[str, tuple]:
    """The trainable's module and the size and modification time of its file: a worker that
    imported it under another stamp would run stale code."""
    name = getattr(trainable, "__module__", None)
    path = getattr(sys.modules.get(name or ""), "__file__", None)
    if not name or not path:
        return {}
    try:
        st = os.stat(path)
    except OSError:
        return {}
    return {name: (path, st.st_size, st.st_mtime_ns)}


def take_idle(cpus: float, n: int, code: dict[str, tuple] | None = None) -> list:
    """Up to ``n`` idle workers of ``cpus`` CPUs; every other idle worker is ended, since
    idle workers hold their CPUs and the new experiment may need them. None is taken when
    ``code`` (``code_stamp``) differs from what a kept worker imported under the same name."""
    job = session_id()  # not the job id alone: a new ray.init may reuse it
    idle = _idle["actors"] if _idle["job"] == job else []
    seen = _idle["code"] if _idle["job"] == job else {}
    if any(name in seen and seen[name] != stamp for name, stamp in (code or {}).items()):
        n, seen = 0, {}  # a changed module: no worker that may hold its old code is reused
    _idle.update(job=job, actors=[], code=seen if idle else {})
    taken = []
    for size, actor in idle:
        if size == cpus and len(taken) < n:
            taken.append(actor)
        else:
            ray.kill(actor)
    return taken


def give_back(cpus: float, actor: Any, code: dict[str, tuple] | None = None) -> None:
    """Keep a healthy worker, reset, for this driver's next experiment; ``code`` is the stamp of
    the trainable it ran."""
    job = session_id()  # not the job id alone: a new ray.init may reuse it
    if _idle["job"] != job:
        _idle.update(job=job, actors=[], code={})
    _idle["actors"].append((cpus, actor))
    _idle["code"].update(code or {})
