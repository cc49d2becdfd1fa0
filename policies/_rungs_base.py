"""Shared parameters and bookkeeping of the rung-based policies (SH, ASHA, Hyperband)."""

from __future__ import annotations

from dataclasses import dataclass

from ._base import Assignment, Policy, check_int, rung_levels

__all__ = ["Bracket", "RungPolicy"]


@dataclass(frozen=True)
class Bracket:
    """One Hyperband bracket, as the successive-halving policy that runs it sees it.

    ``index`` is the bracket's s in Li et al. (2018), shown in the reason of
    each of its decisions; ``levels`` its rungs in epochs, ``r_s * eta**i`` up
    to R; ``trials`` the experiment's trial ids it holds, in the order it
    starts them. Hyperband builds its brackets with these; nothing else needs to.
    """

    index: int
    levels: tuple[int, ...]
    trials: tuple[int, ...]

    def __post_init__(self) -> None:
        check_int("index", self.index, low=0)
        for name in ("levels", "trials"):
            value = getattr(self, name)
            if not isinstance(value, tuple) or not value:
                raise TypeError(f"{name} must be a non-empty tuple of ints, but got {name}={value!r}")
            for item in value:
                check_int(name, item, low=0 if name == "trials" else 1)
        if any(a >= b for a, b in zip(self.levels, self.levels[1:])):
            raise ValueError(f"levels must increase, but got levels={self.levels!r}")


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
    bracket:
        Set by Hyperband for one of its brackets (a ``Bracket``): the rungs
        are then its levels, whose first must be ``min_epochs`` and last R,
        and the policy runs its trials alone, as Optuna's ``bracket_id``.
    """

    reads_every_epoch = False

    def __init__(
        self, eta: int = 3, min_epochs: int = 1, *, max_epochs: int | None = None, bracket: Bracket | None = None
    ) -> None:
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
        if bracket is not None:
            if not isinstance(bracket, Bracket):
                raise TypeError(f"bracket must be a Bracket or None, but got bracket={bracket!r}")
            if bracket.levels[0] != min_epochs:
                raise ValueError(
                    f"min_epochs must be the bracket's first level {bracket.levels[0]}, "
                    f"but got min_epochs={min_epochs!r}"
                )
        self.eta = eta
        self.min_epochs = min_epochs
        self._fixed_max = max_epochs
        self.bracket = bracket
        # Read on every decision: the index alone, not through the Bracket.
        self._bracket = None if bracket is None else bracket.index

    def params(self) -> dict:
        out: dict = {"eta": self.eta, "min_epochs": self.min_epochs}
        if self.bracket is not None:
            out["bracket"] = self.bracket
        return out

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
        if self.bracket is None:
            self.levels = rung_levels(self.min_epochs, self.max_epochs, self.eta)
        else:
            self._check_bracket(self.bracket)
            self.levels = list(self.bracket.levels)
        self.top = len(self.levels) - 1  # index of the level R: reaching it completes a trial
        self.n_started = 0
        self.running = 0
        self.target: dict[int, int] = {}  # running trial -> index of the level it trains to
        self._setup_rungs()

    def _check_bracket(self, bracket: Bracket) -> None:
        if bracket.levels[-1] != self.max_epochs:
            raise ValueError(
                f"a bracket's last level must be max_epochs={self.max_epochs!r}, but got levels={bracket.levels!r}"
            )
        if len(bracket.trials) != self.n_trials:
            raise ValueError(
                f"n_trials must be the bracket's {len(bracket.trials)} trials, but got n_trials={self.n_trials!r}"
            )

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

    def _start_new_trial(self) -> Assignment:
        """The next trial that never ran, to train up to the first rung."""
        j = self.n_started
        self.n_started += 1
        trial = j if self.bracket is None else self.bracket.trials[j]
        self.target[trial] = 0
        self.running += 1
        return Assignment(trial, self.levels[0], new=True)
