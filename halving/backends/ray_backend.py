"""Trials as Ray actors: one long-lived worker actor per concurrent slot.

A worker trains a trial from its current epoch up to the granted epoch and
returns every epoch's metrics in one round trip. A paused trial stays in its
worker's memory; a promotion resumes it there, warm. When that worker is busy
and the trial can be saved (class trainables; function trainables that report
``checkpoint=``), its state moves through the object store to a free worker;
otherwise the promotion waits for its home worker, so nothing is ever
retrained from scratch.
"""

from __future__ import annotations

import os
import time
from collections import deque
from pathlib import Path
from typing import Any

import ray
from ray import cloudpickle

from ..engine import Segment
from ..trainable import make_runner

__all__ = ["RayBackend", "TrialWorker"]


class TrialWorker:
    """The actor class (wrapped with ``ray.remote`` by ``RayBackend``)."""

    def __init__(self, trainable: Any, metric: str, index: int) -> None:
        self.trainable = trainable
        self.metric = metric
        self.index = index
        self.runners: dict[int, Any] = {}

    def info(self) -> dict:
        ctx = ray.get_runtime_context()
        return {
            "pid": os.getpid(),
            "node_id": ctx.get_node_id(),
            "index": self.index,
            "resources": ctx.get_assigned_resources(),
        }

    def run(self, trial: int, config: dict, start: int, until: int, cpus: int, restored: Any = None) -> Segment:
        runner = self.runners.get(trial)
        try:
            if runner is None:
                runner = make_runner(self.trainable, config, cpus, restored)
                self.runners[trial] = runner
                if runner.epoch < start:
                    # State lost (worker died, driver restarted): retrain the epochs it had,
                    # silently; their reports are already in the log and are not sent again.
                    lost = runner.advance(start)
                    if lost.error is not None or lost.finished:
                        raise RuntimeError(f"retraining trial {trial} to epoch {start} failed: {lost.error}")
            runner.cpus = cpus
            if runner.epoch != start:
                raise RuntimeError(f"trial {trial} is at epoch {runner.epoch} on worker {self.index}, not {start}")
            out = runner.advance(until)
        except BaseException as exc:  # setup() raised, or restore failed
            import traceback

            self.runners.pop(trial, None)
            return Segment(trial, start, [], [], worker=self.index, error=f"{type(exc).__name__}: {exc}",
                           traceback=traceback.format_exc())
        return self._segment(trial, start, out)

    def _segment(self, trial: int, start: int, out: Any) -> Segment:
        metric = self.metric
        values: list[float] = []
        extra: list[dict] = []
        missing = None
        error, tb = out.error, out.traceback
        for row in out.metrics:
            if metric not in row:
                missing = (f"trial {trial} reported no metric {metric!r} at epoch {start + len(values) + 1}; "
                           f"it reported {sorted(row)}")
                break
            value = row[metric]
            try:
                value = float(value)
            except (TypeError, ValueError):
                error = f"TypeError: metric {metric!r} must be a number, but trial {trial} reported {value!r}"
                break
            values.append(value)
            extra.append({k: _plain(v) for k, v in row.items() if k != metric})
        if missing is not None or error is not None or out.finished:
            self.drop(trial)
        has_extra = any(extra)
        return Segment(trial, start, values, out.times[: len(values)], extra if has_extra else None,
                       worker=self.index, error=error, traceback=tb, finished=out.finished, missing=missing)

    def drop(self, trial: int) -> None:
        runner = self.runners.pop(trial, None)
        if runner is not None:
            runner.close()

    def holds(self) -> list[int]:
        return sorted(self.runners)

    def take(self, trial: int) -> Any:
        """Save the trial's state and let go of it (one call: a threaded actor does not order calls)."""
        state = self.runners[trial].save()
        self.drop(trial)
        return state

    def can_save(self, trial: int) -> bool:
        runner = self.runners.get(trial)
        if runner is None:
            return False
        return getattr(runner, "checkpoint", True) is not None

    def model(self, trial: int) -> Any:
        runner = self.runners.get(trial)
        return None if runner is None else runner.model


def _plain(v: Any) -> Any:
    """Metrics become Arrow columns: keep numbers, strings and bools, stringify the rest."""
    if isinstance(v, (bool, int, float, str)) or v is None:
        return v
    item = getattr(v, "item", None)  # numpy and torch scalars
    if callable(item):
        try:
            return item()
        except (TypeError, ValueError, RuntimeError):
            pass
    return str(v)


class RayBackend:
    """A pool of ``workers`` TrialWorker actors, reused across trials."""

    def __init__(self, trainable: Any, *, metric: str, workers: int, class_trainable: bool,
                 cpus_of_rung: Any = None, checkpoint_dir: str | os.PathLike | None = None,
                 max_paused: int = 64) -> None:
        self.metric = metric
        self.workers = workers
        self.class_trainable = class_trainable
        self.cpus_of_rung = cpus_of_rung or (lambda rung: 1)
        remote = ray.remote(max_concurrency=4)(TrialWorker)
        self._remote = remote
        self._trainable_ref = ray.put(trainable)
        self.actors = [self._new_actor(i) for i in range(workers)]
        self.idle: set[int] = set(range(workers))
        self.home: dict[int, int] = {}  # trial -> actor index holding its state
        self.inflight: dict[Any, tuple[int, int, int]] = {}  # ref -> (trial, actor index, start epoch)
        self.epoch: dict[int, int] = {}  # trial -> epoch it will have reached when its call returns
        self.queue: dict[int, deque] = {i: deque() for i in range(workers)}
        self.active: set[int] = set()  # trials submitted and not yet released
        self.saved: dict[int, Any] = {}  # trial -> ObjectRef of its saved state (moved or spilled)
        self.lost_trials: set[int] = set()
        self.checkpoint_dir = Path(checkpoint_dir) if checkpoint_dir is not None else None
        self.max_paused = max_paused
        self.paused: dict[int, dict[int, None]] = {i: {} for i in range(workers)}  # per worker, oldest first
        self.spilled = 0
        self.migrations = 0
        self.warm_promotions = 0
        self.round_trips = 0

    def _new_actor(self, index: int) -> Any:
        return self._remote.options(num_cpus=1).remote(self._trainable_ref, self.metric, index)

    # --- engine protocol ---------------------------------------------------
    def free_slots(self) -> int:
        return self.workers - len(self.active)

    def running(self) -> int:
        return len(self.active)

    def now(self) -> float:
        return time.time()

    def submit(self, trial: int, config: dict, start: int, until: int, rung: int = 0) -> str:
        self.active.add(trial)
        cpus = self.cpus_of_rung(rung)
        home = self.home.get(trial)
        if home is not None:
            self.paused[home].pop(trial, None)
            if home in self.idle:
                self.warm_promotions += 1
                self._call(home, trial, config, start, until, cpus, None)
                return "warm"
            if self.class_trainable or ray.get(self.actors[home].can_save.remote(trial)):
                # Home is busy: move the state through the object store to a free worker.
                state = self.actors[home].take.remote(trial)
                del self.home[trial]
                self.migrations += 1
                self._dispatch(trial, config, start, until, cpus, state)
                return "moved"
            # A function trial without checkpoints lives in its thread: wait for its home.
            self.queue[home].append((trial, config, start, until, cpus, None))
            self.warm_promotions += 1
            return "warm"
        saved = self._restore_state(trial) if start > 0 else None
        self._dispatch(trial, config, start, until, cpus, saved)
        if start == 0:
            return "new"
        return "checkpoint" if saved is not None else "scratch"

    def extend(self, trial: int, until: int, rung: int = 0) -> None:
        home = self.home[trial]
        args = (trial, None, None, until, self.cpus_of_rung(rung), None)
        if home in self.idle:
            self._call(home, *args)
        else:
            self.queue[home].append(args)

    def release(self, trial: int, keep: bool) -> None:
        self.active.discard(trial)
        if not keep:
            home = self.home.pop(trial, None)
            if home is not None:
                self.paused[home].pop(trial, None)
                self.actors[home].drop.remote(trial)
            self._forget_saved(trial)
            return
        home = self.home.get(trial)
        if home is not None:
            self.paused[home][trial] = None
            self._bound_memory(home)

    def _bound_memory(self, home: int) -> None:
        """Past ``max_paused`` paused trials on a worker, spill the oldest to checkpoints."""
        paused = self.paused[home]
        while len(paused) > self.max_paused and self.checkpoint_dir is not None:
            trial = next(iter(paused))
            del paused[trial]
            if not (self.class_trainable or ray.get(self.actors[home].can_save.remote(trial))):
                continue  # a function trial without checkpoints can only stay in memory
            state = ray.get(self.actors[home].take.remote(trial))
            self.checkpoint_dir.mkdir(parents=True, exist_ok=True)
            path = self.checkpoint_dir / f"trial-{trial}.pkl"
            tmp = path.with_suffix(".tmp")
            with open(tmp, "wb") as fh:
                cloudpickle.dump(state, fh)
            os.replace(tmp, path)
            del self.home[trial]
            self.saved[trial] = path
            self.spilled += 1

    def _forget_saved(self, trial: int) -> None:
        saved = self.saved.pop(trial, None)
        if isinstance(saved, Path):
            saved.unlink(missing_ok=True)

    def _restore_state(self, trial: int) -> Any:
        """A saved state for ``trial``: spilled this session, or left on disk by a run that died."""
        saved = self.saved.pop(trial, None)
        if saved is None and self.checkpoint_dir is not None:
            path = self.checkpoint_dir / f"trial-{trial}.pkl"
            saved = path if path.exists() else None
        if isinstance(saved, Path):
            with open(saved, "rb") as fh:
                state = cloudpickle.load(fh)
            saved.unlink(missing_ok=True)
            return state
        return saved

    def wait(self) -> list[Segment]:
        refs = list(self.inflight)
        ready, _ = ray.wait(refs, num_returns=1)
        out = []
        for ref in ready:
            trial, index, start = self.inflight.pop(ref)
            self.round_trips += 1
            try:
                seg = ray.get(ref)
            except ray.exceptions.RayActorError as exc:
                seg = self._worker_lost(trial, index, start, exc)
            else:
                self.idle.add(index)
                if seg.error is not None or seg.missing is not None or seg.finished:
                    self.home.pop(trial, None)
            out.append(seg)
        self._pump()
        return out

    # --- internals -----------------------------------------------------------
    def _dispatch(self, trial: int, config: dict, start: int, until: int, cpus: int, restored: Any) -> None:
        if self.idle:
            index = min(self.idle)
            self._call(index, trial, config, start, until, cpus, restored)
        else:
            # Every worker is busy with a trial the engine counted: queue on the least loaded.
            index = min(self.queue, key=lambda i: len(self.queue[i]))
            self.queue[index].append((trial, config, start, until, cpus, restored))

    def _call(self, index: int, trial: int, config: dict | None, start: int | None, until: int, cpus: int,
              restored: Any) -> None:
        if start is None:  # extend: the trial goes on from where its last call ended
            start = self.epoch[trial]
        self.idle.discard(index)
        self.home[trial] = index
        self.epoch[trial] = until
        ref = self.actors[index].run.remote(trial, config, start, until, cpus, restored)
        self.inflight[ref] = (trial, index, start)

    def _pump(self) -> None:
        for index in sorted(self.idle):
            if self.queue[index] and index in self.idle:
                self._call(index, *self.queue[index].popleft())

    def _worker_lost(self, trial: int, index: int, start: int, exc: Exception) -> Segment:
        lost = [t for t, h in self.home.items() if h == index]
        for t in lost:
            del self.home[t]
        self.paused[index].clear()
        self.lost_trials.update(lost)
        self.actors[index] = self._new_actor(index)
        self.idle.add(index)
        return Segment(trial, start, [], [], worker=index,
                       error=f"WorkerDied: the worker process of trial {trial} died ({type(exc).__name__})")

    def fetch_model(self, trial: int) -> Any:
        home = self.home.get(trial)
        if home is None:
            return None
        return ray.get(self.actors[home].model.remote(trial))

    def worker_info(self) -> list[dict]:
        return ray.get([a.info.remote() for a in self.actors])

    def close(self) -> None:
        for actor in self.actors:
            ray.kill(actor)
        self.actors = []
