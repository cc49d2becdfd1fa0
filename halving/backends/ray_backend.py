"""Trials as Ray actors: a pool of long-lived worker actors, reused across trials.

A worker trains a trial from its current epoch up to the granted epoch and
returns every epoch's metrics in one round trip. A paused trial stays in its
worker's memory; a promotion resumes it there, warm. When that worker is busy
(or the trial needs a worker of another size) and the trial can be saved
(class trainables; function trainables that report ``checkpoint=``), its
state moves through the object store; otherwise the promotion waits for its
home worker. Nothing is retrained from scratch unless its state was lost with
a dead worker or driver, and then the log says so.

Workers are sized by what trials ask for (``Request``: CPUs, GPUs, custom Ray
resources, per rung). By default each has one CPU (a fraction when more
workers than CPUs are asked for). A trial trains only on a worker holding at
least what its rung asks for: promoted to a rung that asks for more, it moves
to a worker created with more (warm where its state can travel, else from
scratch, and the log says which); idle workers of another shape are retired
(their paused trials spilled to checkpoints) to make room, so Ray's resource
accounting always matches what runs. A request no node can hold is refused
when the backend starts, before any trial.

On a GPU worker a paused trial's state is moved off the device (its
``offload()`` hook, else ``save()``, or a function's ``checkpoint=``) once more
than ``paused_on_device`` paused trials hold it, so that the trials training
there have the device; the log records each move and why.
"""

from __future__ import annotations

import time
from collections import deque
from dataclasses import dataclass
from typing import Any, Protocol

import ray
from ray import cloudpickle

from .checkpoints import CheckpointStore
from .protocol import Event, Moved, Request, Restarted, Segment, Start
from .ray_batches import MAX_BATCH, Pace, cut
from .ray_cluster import capacity
from .ray_faults import WORKER_GONE, FaultHandling
from .ray_placement import check_feasible, count_fitting, covers, fits_now, shape_of
from .ray_workers import Slot, WorkerPool

__all__ = ["RayBackend"]

@dataclass
class _Job:
    trial: int
    start: int | None  # None: extend, from where the trial's last call ended
    until: int
    shape: Request  # the worker it needs: at least this much of every resource
    restored: Any = None
    solo: bool = False  # sent in a call of its own: its batch's worker died, the culprit is not known


class Settings(Protocol):
    """What the backend reads of an experiment's spec."""

    metric: str
    lookahead: int
    paused_in_memory: int
    paused_on_device: int
    trial_timeout: float | None
    sampler: Any  # its ``observes``: does it learn from reports?

    def requests(self, rungs: int) -> list[Request]: ...


class RayBackend(FaultHandling):
    """A pool of TrialWorker actors; concurrency is bounded by the engine's ``workers``."""

    def __init__(self, trainable: Any, spec: Settings, *, workers: int, class_trainable: bool,
                 checkpoints: CheckpointStore | None = None, max_worker_deaths: int = 3) -> None:
        self.metric = spec.metric
        self.workers = workers
        # Assignments a worker holds beyond the one it trains: Ray queues them on the actor, which
        # starts the next as soon as the current returns, without waiting for the driver.
        self.depth = 1 + spec.lookahead
        self.class_trainable = class_trainable
        self.store = checkpoints or CheckpointStore(None)
        self.max_paused = spec.paused_in_memory
        self.max_worker_deaths = max_worker_deaths
        self.trial_timeout = spec.trial_timeout
        self.spent: dict[int, float] = {}  # trial -> seconds its calls took so far
        self.max_on_device = spec.paused_on_device
        cluster = capacity()
        self.nodes = set(cluster.alive)  # ids of the nodes alive at the last look
        self.node_resources = dict(cluster.nodes)  # node id -> its resources
        self.capacity = cluster.cpus or 1.0
        self.max_node_cpus = cluster.max_node_cpus or 1.0
        # More workers than CPUs: each gets a share, so that all of them can be placed.
        self.base_cpus = 1.0 if workers <= self.capacity else self.capacity / workers
        # Every rung's request (a per-rung list's entries all appear by its length) must fit on
        # some node: refused here, before the first trial, rather than waiting for good.
        needs = spec.requests(max([len(v) for v in _per_rung(spec)], default=1))
        check_feasible(needs, self.base_cpus, list(self.node_resources.values()))
        self.first_shape = shape_of(needs[0], self.base_cpus)
        # Concurrency: `workers`, and no more first-rung trials than the cluster holds at once.
        fitting = count_fitting(self.first_shape, list(self.node_resources.values()))
        self.workers = workers if fitting is None else max(1, min(workers, fitting))
        self.pool = WorkerPool(trainable, spec.metric)
        self.slots = self.pool.slots  # the same dict: placement reads it on every call
        self.pool.start(self.workers, self.first_shape)
        self.home: dict[int, int] = {}  # trial -> slot holding its state
        self.configs: dict[int, dict] = {}
        self.epoch: dict[int, int] = {}  # trial -> epoch its last call will end at
        self.active: set[int] = set()  # trials submitted and not yet released
        self.pending: deque[_Job] = deque()  # waiting for a worker of the right size
        self.inflight: dict[Any, tuple[_Job, int, int, float]] = {}  # ref -> (job, slot, start, sent at)
        self.spilled_trials: set[int] = set()  # paused trials this run spilled to checkpoints
        self.deaths: dict[int, int] = {}
        self.restarts: list[Restarted] = []  # trials this backend started again, for the engine to log
        self.round_trips = 0  # calls sent to workers (a batch of assignments is one)
        # Assignments a worker may hold per call of lookahead (``ray_batches``): 1 until they
        # are known to be short. With lookahead=0 a worker holds one assignment, so a run with
        # one worker is sequential (and reproducible); a trial_timeout needs a call per
        # assignment, to know which trial a call that does not return is stuck in; a sampler
        # that learns from reports would propose more trials knowing less.
        batching = spec.lookahead > 0 and spec.trial_timeout is None and not spec.sampler.observes
        self.pace = Pace(MAX_BATCH if batching else 1)
        self.siblings: dict[Any, list] = {}  # ref -> the refs of its batch call (answered together)
        self.never_started: set = set()  # refs of calls queued behind the one a dead worker ran
        self.bounding: set[int] = set()  # workers whose paused trials to bound at the next send
        self.forgetting: list[int] = []  # trials whose checkpoints to remove at the next send
        self.warm_promotions = 0
        self.migrations = 0
        self.checkpointed: set[int] = set()  # function trials that reported checkpoint=
        self.resized = 0  # trials moved to a worker holding more resources
        self.moves: list[Moved] = []  # moves to report to the engine (it logs them)
        self.offloading: dict[Any, tuple[int, int, int]] = {}  # offload call ref -> (trial, slot, epoch)

    def ready(self) -> None:
        """Wait for the workers to load the trainable (they start in the constructor, so the
        caller can prepare its log meanwhile); raises ``WorkerStartError`` when one cannot."""
        self.pool.ready()

    def stats(self) -> dict:
        """What the backend did, for ``Result.backend_stats``."""
        return {"round_trips": self.round_trips, "warm_promotions": self.warm_promotions,
                "migrations": self.migrations, "resized": self.resized, "spilled": self.store.spilled,
                "workers": self.workers}

    # --- the engine's Backend protocol ------------------------------------
    def free_slots(self) -> int:
        return self.workers * self.depth * self.pace.batch - len(self.active)

    def running(self) -> int:
        return len(self.active)

    def now(self) -> float:
        return time.time()

    def submit(self, trial: int, config: dict, start: int, until: int, need: Request = Request()) -> Start:
        self.active.add(trial)
        self.configs[trial] = config
        job = _Job(trial, start, until, shape_of(need, self.base_cpus))
        home = self.home.get(trial)
        if home is not None:
            self.slots[home].paused.pop(trial, None)
            self.slots[home].on_device.pop(trial, None)
            return Start.MOVED if self._place(job) else Start.WARM
        how = Start.NEW
        if start > 0:
            spilled = trial in self.spilled_trials
            self.spilled_trials.discard(trial)
            job.restored = self.store.take(trial)
            how = Start.SPILLED if spilled else Start.CHECKPOINT if job.restored is not None else Start.SCRATCH
        self._place(job)
        return how

    def extend(self, trial: int, until: int, need: Request = Request()) -> None:
        self._place(_Job(trial, None, until, shape_of(need, self.base_cpus)))

    def release(self, trial: int, keep: bool) -> None:
        self.active.discard(trial)
        home = self.home.get(trial)
        if not keep:
            if home is not None:
                del self.home[trial]
                slot = self.slots.get(home)
                if slot is not None:
                    slot.paused.pop(trial, None)
                    slot.on_device.pop(trial, None)
                    # No call of its own: the worker lets go of it before its next assignment
                    # (a stopped trial holds only memory meanwhile; reset/kill end it anyway).
                    slot.drops.append(trial)
            self.spilled_trials.discard(trial)
            self.forgetting.append(trial)  # once the decision that ended it is logged
            self.configs.pop(trial, None)
            return
        if home is not None:
            slot = self.slots[home]
            slot.paused[trial] = None
            if slot.shape.gpus > 0:
                slot.on_device[trial] = None
            self.bounding.add(home)  # at the next send: a promotion in between may resume it warm

    def wait(self) -> list[Event]:
        """Send the work placed since the last call (the engine has logged it), then block until
        at least one assignment returns, or a trial had to be started again or moved."""
        self._pump()
        while True:
            self._check_capacity()
            ready, _ = ray.wait(list(self.inflight), num_returns=1, timeout=self._poll_seconds())
            if ready:
                ready = self.siblings.get(ready[0], ready)  # a batch call answers for all its assignments
            out: list[Event] = [seg for ref in ready if (seg := self._collect(ref)) is not None]
            if not ready:
                out = self._time_out_overdue()
            out += self._lost_nodes()  # also while other nodes answer: a dead node's calls never do
            if self.restarts:
                out.extend(self.restarts)
                self.restarts = []
            if self.offloading:
                self._offloaded()
            if self.moves:
                out.extend(self.moves)
                self.moves = []
            if out:
                self._pump(send=False)  # sent at the next wait(), once the engine logged what came back
                return out
            self._pump()

    def _collect(self, ref: Any) -> Segment | None:
        job, index, start, sent = self.inflight.pop(ref)
        now = time.time()
        self.spent[job.trial] = self.spent.get(job.trial, 0.0) + now - sent
        try:
            seg = ray.get(ref)
        except WORKER_GONE as exc:
            return self._worker_died(job, index, start, exc, ref)  # None: the trial was sent again
        self.siblings.pop(ref, None)
        if seg.values:
            self.pace.observe(seg.seconds, len(seg.values))
        slot = self.slots.get(index)
        if slot is not None:
            slot.calls.remove(ref)
            if slot.calls:
                # The call queued behind this one starts training now: its clock starts here.
                head = slot.calls[0]
                j, i, s, _ = self.inflight[head]
                self.inflight[head] = (j, i, s, now)
        if seg.checkpointed:
            self.checkpointed.add(job.trial)
        if seg.error is not None or seg.missing is not None or seg.finished:
            self.home.pop(job.trial, None)
        return seg

    # --- placement -----------------------------------------------------------
    def _movable(self, trial: int, index: int) -> bool:
        """Can the trial's state leave its worker? Known from its last segment: no remote call."""
        return self.class_trainable or trial in self.checkpointed

    def _place(self, job: _Job) -> bool:
        """Run ``job`` now where it can, else queue it. True when the trial's state moved
        from the worker that held it to another."""
        trial = job.trial
        home = self.home.get(trial)
        if home is not None:
            slot = self.slots[home]
            fits = covers(slot.shape, job.shape)
            if fits and self._room(slot) and not slot.queue:
                self.warm_promotions += job.start is not None
                self._call(home, job)
                return False
            if fits and (not self._movable(trial, home) or self.depth > 1):
                # Its state lives in a thread on its home: wait there. A trial that could move
                # waits too when other work is queued on every worker anyway.
                slot.queue.append(job)
                return False
            if job.start is None:
                job.start = self.epoch[trial]
            del self.home[trial]
            slot.paused.pop(trial, None)
            slot.on_device.pop(trial, None)
            if not fits:
                self.resized += 1
                why = f"its rung asks for {job.shape.describe()}; worker {home} holds {slot.shape.describe()}"
                if not self._movable(trial, home):
                    # Never train with less than asked: start again on a worker that holds it.
                    slot.drops.append(trial)
                    job.restored = self.store.take(trial) if job.start > 0 else None
                    how = Start.CHECKPOINT if job.restored is not None else Start.SCRATCH
                    self.restarts.append(Restarted(trial, job.start, how, why + ", and its state cannot move "
                                                   "(a function trainable that reports no checkpoint=)"))
                    self._place_new(job)
                    return False
                self.moves.append(Moved(trial, job.start, "worker", why,
                                        {"from": home, "from_shape": slot.shape.amounts(),
                                         "to_shape": job.shape.amounts()}))
            # Move the state: saved and dropped on its old worker, restored on another.
            job.restored = self._take(home, trial, job.start)
            self.migrations += 1
            self._place_new(job)
            return True
        self._place_new(job)
        return False

    def _place_new(self, job: _Job) -> None:
        index = self._acquire(job.shape)
        if index is None:
            self.pending.append(job)
        else:
            self._call(index, job)

    def _acquire(self, shape: Request) -> int | None:
        """A worker of ``shape`` for a job: an idle one, a new one where the cluster has room,
        else one whose current call the job can wait behind (``lookahead``); None when all are full."""
        if self.pool.training() >= self.workers:
            idle = []  # `workers` trials train already: the job can only wait behind one of them
        else:
            idle = [i for i, s in self.slots.items() if not s.held() and not s.queue]
        same = [i for i in idle if self.slots[i].shape == shape]
        if same:
            return min(same, key=lambda i: (len(self.slots[i].paused), i))
        room = self._fits(shape)
        for i in sorted((i for i in idle if self.slots[i].shape != shape),
                        key=lambda i: len(self.slots[i].paused)):
            if room:
                break
            if self._retire(i, f"its worker {i} ({self.slots[i].shape.describe()}) was ended to make room "
                               f"for one holding {shape.describe()}"):
                room = self._fits(shape)
        if room and self.pool.training() < self.workers:
            return self.pool.add(shape)
        behind = [i for i, s in self.slots.items()
                  if s.shape == shape and s.held() < self.depth * self.pace.batch and not s.queue]
        if behind:
            return min(behind, key=lambda i: (self._busy_for(i), len(self.slots[i].paused), i))
        return None

    def _fits(self, shape: Request) -> bool:
        """Would Ray place one more worker of ``shape`` now, beside the workers there are?"""
        ids = list(self.node_resources)
        where = {node: i for i, node in enumerate(ids)}
        placed: dict[int, list[Request]] = {}
        unplaced = []
        for slot in self.slots.values():
            node = slot.node_id()
            if node in where:
                placed.setdefault(where[node], []).append(slot.shape)
            else:
                unplaced.append(slot.shape)
        return fits_now(shape, [self.node_resources[n] for n in ids], placed, unplaced)

    def _room(self, slot: Slot) -> bool:
        """Can ``slot`` take an assignment now? Behind the ones it holds (``lookahead`` calls of
        ``batch`` each), or when idle, if fewer than ``workers`` workers train: concurrency never
        exceeds ``workers``."""
        n = slot.held()
        return n < self.depth * self.pace.batch if n else self.pool.training() < self.workers

    def _busy_for(self, index: int) -> float:
        """Seconds until the worker is expected to be through the calls it holds (by epochs granted)."""
        now = time.time()
        left = 0.0
        slot = self.slots[index]
        for n, ref in enumerate(slot.calls):
            job, _, start, sent = self.inflight[ref]
            need = (job.until - start) * self.pace.epoch_seconds
            left += max(0.0, sent + need - now) if n == 0 else need
        return left + sum((job.until - start) * self.pace.epoch_seconds for job, start, _ in slot.outbox)

    def _retire(self, index: int, why: str) -> bool:
        """Spill every paused trial of an idle worker, then end it; False if one cannot move."""
        slot = self.slots[index]
        if any(not self._movable(t, index) for t in slot.paused):
            return False
        for trial in list(slot.paused):
            self.moves.append(Moved(trial, self.epoch.get(trial, 0), "spill", why, {"worker": index}))
            self._spill(trial, index)
        self.pool.end(index)
        return True

    def _call(self, index: int, job: _Job) -> None:
        """Give ``job`` to the worker at ``index``: it is sent at the next ``_send``."""
        slot = self.slots[index]
        start = self.epoch[job.trial] if job.start is None else job.start
        trial = job.trial
        # A worker already holding the trial has its config: it is sent with a trial's first call only.
        config = None if self.home.get(trial) == index and job.restored is None else self.configs[trial]
        self.home[trial] = index
        self.epoch[trial] = job.until
        slot.outbox.append((job, start, config))

    def _send(self) -> None:
        """Send each worker what was placed on it, cut into calls (``ray_batches.cut``). Nothing
        is sent before: the engine logs its assignments before it waits, and work starts only then."""
        forgetting, self.forgetting = self.forgetting, []
        for trial in forgetting:
            if trial not in self.active:  # not submitted again meanwhile
                self.store.forget(trial)
        bounding, self.bounding = self.bounding, set()
        for index in bounding:
            if index in self.slots:  # before the new calls: a spill waits behind what the worker runs
                self._bound_device(index)
                self._bound_memory(index)
        for index, slot in self.slots.items():
            if not slot.outbox:
                continue
            cpus = max(1, int(slot.cpus))
            placed, slot.outbox = slot.outbox, []
            for part in cut(placed, self.pace.epoch_seconds, self.pace.batch):
                drops, slot.drops = slot.drops, []
                if len(part) == 1:
                    job, start, config = part[0]
                    refs = [slot.actor.run.remote(job.trial, config, start, job.until, cpus, job.restored, drops)]
                else:
                    refs = slot.actor.run_batch.options(num_returns=len(part)).remote(
                        [(job.trial, config, start, job.until, job.restored) for job, start, config in part],
                        cpus, drops)
                    for ref in refs:
                        self.siblings[ref] = refs
                self.round_trips += 1
                now = time.time()
                for (job, start, _), ref in zip(part, refs):
                    slot.calls.append(ref)
                    self.inflight[ref] = (job, index, start, now)

    def _pump(self, send: bool = True) -> None:
        """Place queued work on workers that became free, and send what was placed."""
        for index, slot in list(self.slots.items()):
            while slot.queue and self._room(slot):
                self._call(index, slot.queue.popleft())
        for _ in range(len(self.pending)):
            job = self.pending.popleft()
            self._place(job)
        if send:
            self._send()

    # --- memory bound and checkpoints -------------------------------------
    def _bound_memory(self, index: int) -> None:
        """Past ``max_paused`` paused trials on a worker, spill the oldest to checkpoints."""
        slot = self.slots[index]
        if not self.store.enabled or len(slot.paused) <= self.max_paused:
            return
        if not self.class_trainable and not self.checkpointed:
            return  # nothing here can be saved: no scan of the paused trials
        excess = len(slot.paused) - self.max_paused
        # Function trials without checkpoints can only stay where they are.
        for trial in [t for t in slot.paused if self._movable(t, index)][:excess]:
            self._spill(trial, index)

    def _bound_device(self, index: int) -> None:
        """Past ``paused_on_device`` paused trials holding a GPU worker's device, move the oldest
        off it. The call is ordered after the worker's queued training calls, before any later
        one (its resumption among them); the engine logs the outcome (``_offloaded``)."""
        slot = self.slots[index]
        while len(slot.on_device) > self.max_on_device:
            trial, _ = slot.on_device.popitem(last=False)
            self.offloading[slot.actor.offload.remote(trial)] = (trial, index, self.epoch.get(trial, 0))

    def _offloaded(self) -> None:
        """The offload calls that answered, as moves for the log."""
        ready, _ = ray.wait(list(self.offloading), num_returns=len(self.offloading), timeout=0)
        for ref in ready:
            trial, index, epoch = self.offloading.pop(ref)
            try:
                info = ray.get(ref)
            except WORKER_GONE:
                continue  # the worker died: its calls report that
            if info is None:
                continue  # the trial had left the worker meanwhile
            what = info.pop("what")
            why = info.pop("why")
            self.moves.append(Moved(trial, epoch, what, why, {"worker": index, **info}))

    def _spill(self, trial: int, index: int) -> None:
        slot = self.slots[index]
        state = self._take(index, trial, None)  # pickled bytes
        slot.paused.pop(trial, None)
        slot.on_device.pop(trial, None)
        del self.home[trial]
        if state is not None:
            self.store.save(trial, state)
            self.spilled_trials.add(trial)

    # --- the end ----------------------------------------------------------------
    def fetch_model(self, trial: int) -> Any:
        home = self.home.get(trial)
        if home is None:
            state = self.store.take(trial)
            if state is None:
                return None
            # Load the state into a worker and ask it for the model there.
            index = self._acquire(self.first_shape)
            if index is None:
                index = next(iter(self.slots))
            ray.get(self.slots[index].actor.load.remote(trial, self.configs.get(trial, {}), state))
            home = self.home[trial] = index
        blob = ray.get(self.slots[home].actor.model.remote(trial))
        return None if blob is None else cloudpickle.loads(blob)

    def close(self, reuse: bool = True) -> None:
        """Let go of every trial and of the workers (see ``WorkerPool.close``)."""
        for trial in self.forgetting:  # the engine logged its last decisions before it closes
            self.store.forget(trial)
        self.forgetting = []
        self.pool.close(reuse)


def _per_rung(spec: Settings) -> list[tuple]:
    """The spec's per-rung lists (cpus, gpus, custom resources given as lists)."""
    values = [getattr(spec, "cpus", None), getattr(spec, "gpus", 0), *getattr(spec, "resources", {}).values()]
    return [v for v in values if isinstance(v, tuple)]
