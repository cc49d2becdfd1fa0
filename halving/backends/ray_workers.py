"""The worker processes of one experiment: TrialWorker actors, each a slot with the calls
sent to it, the paused trials it holds and the work that must wait for it."""

from __future__ import annotations

from collections import OrderedDict, deque
from dataclasses import dataclass, field
from typing import Any

import ray

from .ray_pool import code_stamp, give_back, keeping_idle, take_idle
from .worker import CONCURRENCY_GROUPS, TrialWorker

__all__ = ["Slot", "WorkerPool", "WorkerStartError"]


class WorkerStartError(RuntimeError):
    """A worker could not start, or could not load the trainable."""


@dataclass
class Slot:
    actor: Any
    cpus: float
    bound: Any = None  # the ref of its bind call, which answers with its node's id
    calls: deque = field(default_factory=deque)  # refs of the run calls sent and not yet collected, oldest first
    paused: "OrderedDict[int, None]" = field(default_factory=OrderedDict)  # oldest first
    queue: deque = field(default_factory=deque)  # jobs that must run here (unmovable trials)
    drops: list = field(default_factory=list)  # trials to let go of, sent with the next call


class WorkerPool:
    """Slots by index; a new slot gets the experiment's trainable before any work."""

    def __init__(self, trainable: Any, metric: str) -> None:
        self.metric = metric
        self.slots: dict[int, Slot] = {}
        self._next = 0
        self._remote = ray.remote(concurrency_groups=CONCURRENCY_GROUPS)(TrialWorker)
        self._trainable_ref = ray.put(trainable)
        self._code = code_stamp(trainable)

    def start(self, n: int, cpus: float) -> None:
        """``n`` workers of ``cpus`` CPUs (idle ones of an earlier experiment first); raises
        ``WorkerStartError`` with the cause when one cannot load the trainable."""
        reused = take_idle(cpus, n, self._code)
        for i in range(n):
            self.add(cpus, reused[i] if i < len(reused) else None)
        try:
            ray.get([slot.bound for slot in self.slots.values()])
        except (ray.exceptions.RayActorError, ray.exceptions.RayTaskError) as exc:
            self.close(reuse=False)
            raise WorkerStartError(f"a Ray worker could not start or load the trainable: {exc}") from None

    def add(self, cpus: float, actor: Any = None) -> int:
        index = self._next
        self._next += 1
        if actor is None:
            actor = self._remote.options(num_cpus=cpus).remote()
        # Training calls run in order: the trainable is bound before any work of this experiment.
        self.slots[index] = Slot(actor, cpus, bound=actor.bind.remote(self._trainable_ref, self.metric, index))
        return index

    def on_nodes(self, dead: set[str]) -> list[int]:
        """The slots whose worker is known to run on one of the ``dead`` nodes."""
        out = []
        for index, slot in self.slots.items():
            ready, _ = ray.wait([slot.bound], timeout=0)
            if ready:
                try:
                    node = ray.get(slot.bound)
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
        """Workers with a call in progress."""
        return sum(1 for s in self.slots.values() if s.calls)

    def cpus(self) -> float:
        return sum(s.cpus for s in self.slots.values())

    def close(self, reuse: bool = True) -> None:
        """Inside ``reuse_workers()``, healthy idle workers wait for this driver's next
        experiment; every other worker ends."""
        reuse = reuse and keeping_idle()
        for slot in self.slots.values():
            if reuse and not slot.calls:
                slot.actor.reset.remote()
                give_back(slot.cpus, slot.actor, self._code)
            else:
                ray.kill(slot.actor)
        self.slots.clear()
