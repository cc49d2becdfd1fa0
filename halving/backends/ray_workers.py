"""The worker processes of one experiment: TrialWorker actors, each a slot with the calls
sent to it, the paused trials it holds and the work that must wait for it."""

from __future__ import annotations

import functools
from collections import OrderedDict, deque
from dataclasses import dataclass, field
from typing import Any

import ray

from .protocol import Request
from .ray_pool import code_stamp, give_back, keeping_idle, take_idle
from .worker import CONCURRENCY_GROUPS, TrialWorker

__all__ = ["Slot", "WorkerPool", "WorkerStartError"]


class WorkerStartError(RuntimeError):
    """A worker could not start, or could not load the trainable."""


@dataclass
class Slot:
    actor: Any
    shape: Request  # the resources Ray placed the worker with (cpus set)
    bound: Any = None  # the ref of its bind call, which answers with its node's id
    node: str | None = None  # its node's id, once its bind call has answered
    calls: deque = field(default_factory=deque)  # a ref per assignment sent and not yet collected, oldest first
    outbox: list = field(default_factory=list)  # assignments placed here, sent when the backend next waits
    paused: "OrderedDict[int, None]" = field(default_factory=OrderedDict)  # oldest first
    queue: deque = field(default_factory=deque)  # jobs that must run here (unmovable trials)
    drops: list = field(default_factory=list)  # trials to let go of, sent with the next call
    on_device: "OrderedDict[int, None]" = field(default_factory=OrderedDict)  # paused, state on its GPU

    @property
    def cpus(self) -> float:
        return float(self.shape.cpus or 0.0)

    def held(self) -> int:
        """Assignments this worker holds: sent, or placed here and about to be."""
        return len(self.calls) + len(self.outbox)

    def node_id(self) -> str | None:
        """The node the worker runs on, once Ray placed it and it answered (no wait)."""
        if self.node is None and ray.wait([self.bound], timeout=0)[0]:
            try:
                self.node = ray.get(self.bound)
            except Exception:  # noqa: BLE001 - it died before it bound: its faults say so
                return None
        return self.node


@functools.cache
def _worker_class() -> Any:
    """The actor class, made once per process: Ray exports a class to its cluster once per
    job for each class object, so a new object per experiment would export it again."""
    return ray.remote(concurrency_groups=CONCURRENCY_GROUPS)(TrialWorker)


class WorkerPool:
    """Slots by index; a new slot gets the experiment's trainable before any work."""

    def __init__(self, trainable: Any, metric: str) -> None:
        self.metric = metric
        self.slots: dict[int, Slot] = {}
        self._next = 0
        self._remote = _worker_class()
        self._trainable_ref = ray.put(trainable)
        self._code = code_stamp(trainable)

    def start(self, n: int, shape: Request) -> None:
        """``n`` workers of ``shape`` (idle ones of an earlier experiment first), each asked to
        load the trainable; ``ready`` waits for them."""
        reused = take_idle(shape, n, self._code)
        for i in range(n):
            self.add(shape, reused[i] if i < len(reused) else None)

    def ready(self) -> None:
        """Wait until the workers ``start`` asked for have loaded the trainable; raises
        ``WorkerStartError`` with the cause when one cannot."""
        try:
            ray.get([slot.bound for slot in self.slots.values()])
        except (ray.exceptions.RayActorError, ray.exceptions.RayTaskError) as exc:
            self.close(reuse=False)
            raise WorkerStartError(f"a Ray worker could not start or load the trainable: {exc}") from None

    def add(self, shape: Request, actor: Any = None) -> int:
        index = self._next
        self._next += 1
        if actor is None:
            # Ray sets CUDA_VISIBLE_DEVICES in the worker's process to the GPUs it assigned.
            actor = self._remote.options(num_cpus=shape.cpus, num_gpus=shape.gpus or None,
                                         resources=dict(shape.custom) or None).remote()
        # Training calls run in order: the trainable is bound before any work of this experiment.
        self.slots[index] = Slot(actor, shape, bound=actor.bind.remote(self._trainable_ref, self.metric, index))
        return index

    def on_nodes(self, dead: set[str]) -> list[int]:
        """The slots whose worker is known to run on one of the ``dead`` nodes."""
        out = []
        for index, slot in self.slots.items():
            ready, _ = ray.wait([slot.bound], timeout=0)
            if ready:
                try:
                    node = slot.node or ray.get(slot.bound)
                except Exception:  # noqa: BLE001 - its worker died before it bound: lost too
                    out.append(index)
                    continue
                if node in dead:
                    out.append(index)
        return out

    def unplaced(self) -> list[int]:
        """Slots whose worker has not answered its bind call yet (Ray may not have placed it), newest first."""
        return [i for i in sorted(self.slots, reverse=True) if not ray.wait([self.slots[i].bound], timeout=0)[0]]

    def end(self, index: int) -> Slot:
        """Kill a worker and forget its slot."""
        slot = self.slots.pop(index)
        ray.kill(slot.actor)
        return slot

    def training(self) -> int:
        """Workers with work in progress (or about to be sent)."""
        return sum(1 for s in self.slots.values() if s.calls or s.outbox)

    def cpus(self) -> float:
        return sum(s.cpus for s in self.slots.values())

    def used(self) -> dict[str, float]:
        """Every resource the workers hold, summed."""
        out: dict[str, float] = {}
        for s in self.slots.values():
            for k, v in s.shape.amounts().items():
                out[k] = out.get(k, 0.0) + v
        return out

    def close(self, reuse: bool = True) -> None:
        """Inside ``reuse_workers()``, healthy idle workers wait for this driver's next
        experiment; every other worker ends."""
        reuse = reuse and keeping_idle()
        for slot in self.slots.values():
            if reuse and not slot.held():
                slot.actor.reset.remote()
                give_back(slot.shape, slot.actor, self._code)
            else:
                ray.kill(slot.actor)
        self.slots.clear()
