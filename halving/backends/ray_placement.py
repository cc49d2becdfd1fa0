"""Resource arithmetic of the Ray backend: what a worker of some shape needs, whether it fits
on the live nodes beside the workers already there, and how many would fit. Pure: no Ray
calls, so it is tested on hand-made nodes.

A *shape* is a ``Request`` whose ``cpus`` is set: the amounts a worker actor is created
with (``num_cpus``, ``num_gpus``, ``resources``). Ray places a worker on one node, so a shape
fits only where one node has all of it; the totals over nodes bound the rest.
"""

from __future__ import annotations

from typing import Iterable, Mapping, Sequence

from ..errors import UserError
from .protocol import Request

__all__ = ["PlacementError", "amounts", "check_feasible", "count_fitting", "covers", "describe_node", "fits_now",
           "shape_of"]

EPS = 1e-9


class PlacementError(UserError):
    """A trial asks for more than any node of the cluster has: refused before any trial starts."""


def shape_of(need: Request, base_cpus: float) -> Request:
    """The worker shape for a request: ``cpus=None`` becomes ``base_cpus``."""
    return need if need.cpus is not None else Request(base_cpus, need.gpus, need.custom)


def amounts(shape: Request) -> dict[str, float]:
    return shape.amounts()


def covers(have: Request, need: Request) -> bool:
    """Does a worker of shape ``have`` hold at least everything ``need`` asks for?"""
    held = have.amounts()
    return all(held.get(k, 0.0) >= v - EPS for k, v in need.amounts().items())


def _room(node: Mapping[str, float], used: Mapping[str, float], need: Mapping[str, float]) -> bool:
    return all(node.get(k, 0.0) - used.get(k, 0.0) >= v - EPS for k, v in need.items())


def fits_now(shape: Request, nodes: Sequence[Mapping[str, float]], placed: Mapping[int, Sequence[Request]],
             unplaced: Iterable[Request]) -> bool:
    """Can a worker of ``shape`` be placed now? ``placed``: the shapes of the workers known to
    run on node i; ``unplaced``: workers whose node is not known yet, which count against the
    totals (they will take room somewhere)."""
    need = shape.amounts()
    total: dict[str, float] = {}
    used_total: dict[str, float] = {}
    per_node: list[dict[str, float]] = []
    for i, node in enumerate(nodes):
        for k, v in node.items():
            total[k] = total.get(k, 0.0) + v
        used: dict[str, float] = {}
        for s in placed.get(i, ()):
            for k, v in s.amounts().items():
                used[k] = used.get(k, 0.0) + v
                used_total[k] = used_total.get(k, 0.0) + v
        per_node.append(used)
    for s in unplaced:
        for k, v in s.amounts().items():
            used_total[k] = used_total.get(k, 0.0) + v
    if not _room(total, used_total, need):
        return False
    return any(_room(node, used, need) for node, used in zip(nodes, per_node))


def count_fitting(shape: Request, nodes: Sequence[Mapping[str, float]]) -> int | None:
    """How many workers of ``shape`` the nodes hold at once; None when it asks for nothing."""
    need = shape.amounts()
    if not need:
        return None
    n = 0
    for node in nodes:
        n += int(min(node.get(k, 0.0) / v for k, v in need.items()) + EPS)
    return n


def describe_node(node: Mapping[str, float]) -> str:
    shown = {k: v for k, v in node.items() if not k.startswith("node:") and k not in (
        "memory", "object_store_memory") and not k.startswith("accelerator_type:")}
    return ", ".join(f"{v:g} {k}" for k, v in sorted(shown.items())) or "nothing"


def check_feasible(needs: Sequence[Request], base_cpus: float, nodes: Sequence[Mapping[str, float]]) -> None:
    """Every rung's request fits on at least one node, else ``PlacementError`` naming the rung,
    what it asks for and what the nodes offer."""
    for rung, need in enumerate(needs):
        shape = shape_of(need, base_cpus)
        want = shape.amounts()
        if any(_room(node, {}, want) for node in nodes):
            continue
        offers = "; ".join(f"node {i}: {describe_node(n)}" for i, n in enumerate(nodes)) or "no live node"
        short = sorted(k for k, v in want.items() if max((n.get(k, 0.0) for n in nodes), default=0.0) < v - EPS)
        missing = f" (no node has enough {', '.join(short)})" if short else " (no single node has all of it)"
        raise PlacementError(f"a trial on rung {rung} asks for {shape.describe()}, more than any node of the "
                             f"cluster has{missing}; the nodes offer {offers}. Ask for less (cpus=, gpus=, "
                             "resources=) or add a node that has it")
