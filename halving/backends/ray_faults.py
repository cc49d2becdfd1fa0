"""Faults of the Ray backend: trials past their ``trial_timeout``, workers that die, and
nodes that die (a dead node may never answer a pending call, so the backend never waits on
it unbounded: it polls and recounts the live nodes)."""

from __future__ import annotations

import time
from typing import Any

import ray

from ..errors import UserError
from .protocol import Restarted, Segment, Start
from .ray_cluster import capacity
from .ray_placement import count_fitting

__all__ = ["FaultHandling", "NoCapacityError", "NODE_POLL_SECONDS", "WORKER_GONE"]

# How often a waiting backend asks Ray which nodes are alive.
NODE_POLL_SECONDS = 5.0


# What a call raises when its worker process, or that worker's node, is gone.
WORKER_GONE = (ray.exceptions.RayActorError, ray.exceptions.WorkerCrashedError, ray.exceptions.NodeDiedError,
               ray.exceptions.LocalRayletDiedError)


class NoCapacityError(UserError):
    """No worker can be placed: the cluster lost the nodes it needed."""


class FaultHandling:
    """Mixed into ``RayBackend``: its timeouts, dead workers and dead nodes."""

    _nodes_seen_at = 0.0  # time.monotonic() of the last look at the live nodes

    def _poll_seconds(self) -> float:
        deadline = self._next_deadline()
        return NODE_POLL_SECONDS if deadline is None else min(deadline, NODE_POLL_SECONDS)

    def _lost_nodes(self) -> list[Segment]:
        """At most every ``NODE_POLL_SECONDS``: treat every call on a node Ray no longer reports
        alive as a dead worker's, and recount the CPUs of the nodes that are."""
        now = time.monotonic()
        if now - self._nodes_seen_at < NODE_POLL_SECONDS:
            return []
        self._nodes_seen_at = now
        try:
            cluster = capacity()
        except Exception:  # noqa: BLE001 - the GCS may be busy right after a node died; ask again later
            return []
        dead = self.nodes - cluster.alive
        self.nodes = set(cluster.alive)
        out = []
        for index in self.pool.on_nodes(dead) if dead else ():
            slot = self.slots.get(index)
            if slot is not None and not slot.calls:  # nothing sent: its paused trials are lost with it
                self._drop_slot(index, "its node died before it ran")
                continue
            for ref in list(slot.calls if slot is not None else ()):
                job, _, start, _ = self.inflight.pop(ref)
                seg = self._worker_died(job, index, start, ray.exceptions.NodeDiedError("its node died"), ref)
                if seg is not None:
                    out.append(seg)
        self._recount(cluster)
        return out

    def _recount(self, cluster: Any) -> None:
        """Concurrency shrinks with the cluster: Ray keeps a worker it cannot place pending for
        good, and a call sent to it would never return. Workers not placed yet, beyond what the
        live nodes hold, are ended and their work goes elsewhere."""
        self.capacity = cluster.cpus
        self.node_resources = dict(cluster.nodes)
        fitting = count_fitting(self.first_shape, list(self.node_resources.values()))
        if fitting is not None:
            self.workers = max(1, min(self.workers, fitting))
        total: dict[str, float] = {}
        for node in self.node_resources.values():
            for k, v in node.items():
                total[k] = total.get(k, 0.0) + v
        used = self.pool.used()

        def over() -> bool:
            return any(v > total.get(k, 0.0) + 1e-9 for k, v in used.items())

        for index in self.pool.unplaced() if over() else ():
            if not over():
                break
            for k, v in self.slots[index].shape.amounts().items():
                used[k] -= v
            self._drop_slot(index, "its worker could not be placed on the nodes left")

    def _check_capacity(self) -> None:
        """Nothing runs and nothing can be placed: stop with the run resumable."""
        if self.inflight or not (self.pending or any(s.queue for s in self.slots.values())):
            return
        where = self.store.folder.parent if self.store.folder is not None else "the run dir"
        waiting = [*self.pending, *(job for s in self.slots.values() for job in s.queue)]
        raise NoCapacityError(f"no worker can be placed for {len(self.active)} trials: the cluster has "
                              f"{self.capacity:g} CPUs left and a worker needs {waiting[0].shape.describe()}; "
                              f"every report so far is logged, resume with `halving resume {where}` once it "
                              "has room")

    def _training(self) -> list:
        """The calls workers are training now (each worker's oldest; the others wait behind it)."""
        return [slot.calls[0] for slot in self.slots.values() if slot.calls and slot.calls[0] in self.inflight]

    def _next_deadline(self) -> float | None:
        if self.trial_timeout is None or not self.inflight:
            return None
        now = time.time()
        left = min((self.trial_timeout - self.spent.get(job.trial, 0.0) - (now - sent)
                    for job, _, _, sent in map(self.inflight.__getitem__, self._training())), default=None)
        return None if left is None else max(0.0, left) + 0.01

    def _time_out_overdue(self) -> list[Segment]:
        """End every call whose trial has run past ``trial_timeout``; keep what it reported."""
        out = []
        now = time.time()
        for ref in self._training():
            job, index, start, sent = self.inflight[ref]
            spent = self.spent.get(job.trial, 0.0) + now - sent
            if self.trial_timeout is None or spent < self.trial_timeout:
                continue
            del self.inflight[ref]
            slot = self.slots[index]
            slot.calls.popleft()
            try:
                seg = ray.get(slot.actor.partial.remote(job.trial), timeout=10)
            except Exception:  # noqa: BLE001 - the worker may be wedged; the reports are lost then
                seg = None
            if seg is None or seg.start != start:
                seg = Segment(job.trial, start, [], [], worker=index)
            seg.timed_out = True
            seg.error = (f"TrialTimeout: trial {job.trial} trained {spent:.1f} s in all, past "
                         f"trial_timeout={self.trial_timeout} s; its worker was ended")
            self.home.pop(job.trial, None)
            self._replace_slot(index)
            out.append(seg)
        return out

    def _replace_slot(self, index: int) -> None:
        """End a worker (its paused trials lose their state) and start a fresh one in its place."""
        shape = self.slots[index].shape
        self._drop_slot(index, "its worker was ended")
        self.pool.add(shape)

    def _drop_slot(self, index: int, why: str) -> None:
        """End a worker; its paused trials lose their state, and the work sent or queued to it
        (which it never started) is placed again."""
        slot = self.slots.pop(index)
        for t in [t for t, h in self.home.items() if h == index]:
            del self.home[t]
        for ref in slot.calls:  # sent, waiting behind the ended call: never started
            job, _, start, _ = self.inflight.pop(ref)
            self.siblings.pop(ref, None)
            job.start = start
            self._restart(job, why)
        for job in [*_unsent(slot), *slot.queue]:
            self._restart(job, why)
        ray.kill(slot.actor)

    def _worker_died(self, job: Any, index: int, start: int, exc: Exception, ref: Any = None) -> Segment | None:
        """A worker process (or its node) died while ``ref``'s call was sent to it: replace it
        where the cluster still has room; its trials restart from checkpoints or from scratch,
        and the engine logs which.

        Only the call the worker was running is blamed (counted against ``max_worker_deaths``),
        and only when it held one assignment: the calls queued behind it never started, and
        in a call of several the one that killed the worker is not known, so each of those is
        sent again in a call of its own, where a death is its own."""
        trial = job.trial
        slot = self.slots.pop(index, None)
        if slot is not None and slot.calls:
            head = slot.calls[0]  # the oldest call not collected: the one the worker ran
            running = set(self.siblings.get(head, (head,)))
            self.never_started.update(r for r in slot.calls if r not in running)
        started = ref not in self.never_started
        self.never_started.discard(ref)
        batched = len(self.siblings.pop(ref, ())) > 1
        lost = [t for t, h in self.home.items() if h == index]
        for t in lost:
            del self.home[t]
        queued = [*_unsent(slot), *slot.queue] if slot is not None else []
        if slot is not None:  # once per dead worker, not again for each of its calls
            try:
                # Right after a node dies Ray may still count it: a replacement made on that count
                # is ended by _recount once the node is known dead.
                self._recount(capacity())
            except Exception:  # noqa: BLE001 - the GCS may be busy right after a node died
                pass
            if len(self.slots) < self.workers and self._fits(slot.shape):
                self.pool.add(slot.shape)
        for other in queued:  # work that waited for the dead worker goes elsewhere
            self._restart(other, "its worker died before it ran")
        if started and batched:
            job.solo = True
        elif started:
            self.deaths[trial] = self.deaths.get(trial, 0) + 1
        if self.deaths.get(trial, 0) > self.max_worker_deaths:
            self.epoch[trial] = start
            return Segment(trial, start, [], [], worker=index,
                           error=f"WorkerDied: trial {trial} lost its worker {self.deaths[trial]} times "
                                 f"({type(exc).__name__}); giving up on it")
        job.start = start
        self._restart(job, f"its worker process died ({type(exc).__name__})" if started
                      else "its worker process died before it ran")
        return None

    def _take(self, index: int, trial: int, start: int | None) -> Any:
        """A paused trial's saved state, from the worker holding it. If that worker (or its node)
        died, the state is lost: a trial moving to train from ``start`` gets its checkpoint on disk
        or None (retrain from scratch), and the log says so; with ``start=None`` (a spill) None, and
        the restart is logged when the trial is next submitted. The worker's own calls fail, or
        its node is found dead, and are handled then."""
        try:
            return ray.get(self.slots[index].actor.take.remote(trial))
        except WORKER_GONE as exc:
            if start is None:
                return None
            restored = self.store.take(trial) if start > 0 else None
            how = Start.CHECKPOINT if restored is not None else Start.SCRATCH
            self.restarts.append(Restarted(trial, start, how, f"its worker died ({type(exc).__name__})"))
            return restored

    def _restart(self, job: Any, why: str) -> None:
        trial = job.trial
        start = self.epoch.get(trial, 0) if job.start is None else job.start
        job.start = start
        self.spilled_trials.discard(trial)
        if job.restored is None:  # a state already in hand (moving, or restored) is kept
            job.restored = self.store.take(trial) if start > 0 else None
        how = Start.CHECKPOINT if job.restored is not None else (Start.SCRATCH if start > 0 else Start.NEW)
        self.restarts.append(Restarted(trial, start, how, why))
        self._place(job)


def _unsent(slot: Any) -> list:
    """The jobs placed on a worker and not sent to it yet, each set to start where it was placed."""
    out = []
    for job, start, _ in slot.outbox:
        job.start = start
        out.append(job)
    slot.outbox = []
    return out
