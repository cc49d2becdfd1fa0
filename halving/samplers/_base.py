"""What a sampler is: the seam between the engine and whatever proposes configurations.

A sampler proposes trial ``i``'s configuration. Its state is a pure function of the calls
the engine made, in order: ``created`` (a trial's configuration, proposed or read back from
the log) and ``observe`` (a finite report). ``propose`` reads that state and changes nothing,
and draws only from generators seeded by ``(seed, trial)``: so the same calls in the same
order give the same proposals, in the live run and when a resume replays the log.
"""

from __future__ import annotations

from typing import Any, Collection, Mapping, NamedTuple, Sequence

from ..space import Space

__all__ = ["Proposal", "Sampler"]


class Proposal(NamedTuple):
    """A configuration and where it came from: ``model`` names what produced it
    (``"random"``, ``"grid"``, ``"tpe"``, ``"kde@epoch 9"``...), ``n_obs`` how many
    observations it was fitted on and ``pending`` how many running trials it counted as
    lies; ``detail`` adds model-specific facts. ``origin()`` is what the log records
    beside the configuration. A named tuple: one is made per trial, a million in a
    large simulation."""

    config: dict
    model: str
    n_obs: int = 0
    pending: int = 0
    detail: Mapping[str, Any] | None = None

    def origin(self, sampler: str) -> dict:
        out = {"sampler": sampler, "model": self.model, "n_obs": self.n_obs, "pending": self.pending}
        if self.detail:
            out.update(self.detail)
        return out


class Sampler:
    """Base class of samplers. A subclass implements ``propose``; one that learns from
    reports sets ``observes = True`` and gets ``created`` and ``observe`` calls (the engine
    makes none to a sampler that does not observe). ``params()`` returns its constructor's
    arguments: the experiment is logged with them and rebuilt from them on resume."""

    name: str = "sampler"
    observes: bool = False

    def params(self) -> dict[str, Any]:
        """The constructor arguments that rebuild this sampler (JSON-able)."""
        return {}

    def start(self, space: Space | None, *, seed: int, mode: str, n_trials: int,
              levels: Sequence[int] = ()) -> None:
        """Called once before any other call. ``levels``: the epochs at which the policy
        compares trials (its rungs), empty when it has none. Raise ``ValueError`` or
        ``TypeError`` to refuse the experiment."""
        self.space, self.seed, self.mode, self.n_trials, self.levels = space, seed, mode, n_trials, tuple(levels)

    def propose(self, trial: int, running: Collection[int]) -> Proposal:
        """Trial ``trial``'s configuration. ``running``: the trials training now (the engine's
        view, the same in a replay). Must not change the sampler's state."""
        raise NotImplementedError

    def created(self, trial: int, config: dict) -> None:
        """Trial ``trial`` exists with ``config`` (proposed now, or read from the log)."""

    def observe(self, trial: int, epoch: int, value: float) -> None:
        """Trial ``trial`` reported the finite ``value`` of the metric after ``epoch`` epochs."""

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in self.params().items())
        return f"{type(self).__name__}({args})"
