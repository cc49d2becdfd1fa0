"""Shared parameters and bookkeeping of the rung-based policies (SH, ASHA, Hyperband)."""

from __future__ import annotations

from typing import Sequence

from ._base import Policy, check_int, rung_levels

__all__ = ["RungPolicy"]


class RungPolicy(Policy):
    """A policy whose decision points are rungs at ``min_epochs * eta**k`` epochs.

    Parameters
    ----------
    eta:
        Reduction factor, referred to as η in the papers: roughly one in
        ``eta`` trials of a rung goes on to the next rung. At least 2.
    min_epochs:
        Epochs of the first rung, referred to as r (or r_min). At least 1.
    max_epochs:
        Optional R; when given here it is checked now, and must match the
        engine's ``max_epochs``.
    """

    reads_every_epoch = False

    def __init__(self, eta: int = 3, min_epochs: int = 1, *, max_epochs: int | None = None) -> None:
        super().__init__()
        check_int("eta", eta)
        if eta < 2:
            raise ValueError(f"eta must be >= 2, but got eta={eta!r}")
        check_int("min_epochs", min_epochs, low=1)
        if max_epochs is not None:
            check_int("max_epochs", max_epochs, low=1)
            if min_epochs > max_epochs:
                raise ValueError(
                    f"min_epochs must be <= max_epochs, but got min_epochs={min_epochs!r} > max_epochs={max_epochs!r}"
                )
        self.eta = eta
        self.min_epochs = min_epochs
        self._fixed_max = max_epochs
        # Set by Hyperband for a bracket: its own levels, trial ids and index.
        self._levels_override: list[int] | None = None
        self._trial_ids: Sequence[int] | None = None
        self._bracket: int | None = None

    def params(self) -> dict:
        return {"eta": self.eta, "min_epochs": self.min_epochs}

    def _setup(self) -> None:
        if self._fixed_max is not None and self._fixed_max != self.max_epochs:
            raise ValueError(
                f"{type(self).__name__} was built with max_epochs={self._fixed_max!r}, "
                f"but the experiment has max_epochs={self.max_epochs!r}"
            )
        if self.min_epochs > self.max_epochs:
            raise ValueError(
                f"min_epochs must be <= max_epochs, but got min_epochs={self.min_epochs!r} "
                f"> max_epochs={self.max_epochs!r}"
            )
        self.levels = self._levels_override or rung_levels(self.min_epochs, self.max_epochs, self.eta)
        self.top = len(self.levels) - 1  # index of the level R: reaching it completes a trial
        self.n_started = 0
        self.running = 0
        self._setup_rungs()

    def _setup_rungs(self) -> None:  # pragma: no cover - overridden
        pass

    def _rung_reached(self, trial: int, epoch: int) -> int | None:
        """The rung index ``trial`` reached with ``epoch``, or None before its decision point."""
        k = self.target[trial]
        level = self.levels[k]
        if epoch < level:
            return None
        if epoch > level:
            raise ValueError(f"trial {trial} reported epoch {epoch} past its granted epoch {level}")
        return k

    def _new_trial_id(self) -> int:
        j = self.n_started
        self.n_started += 1
        return j if self._trial_ids is None else self._trial_ids[j]
