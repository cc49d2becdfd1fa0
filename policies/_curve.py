"""ASHA whose rungs rank paused trials by a prediction of their value at R (``asha-curve``)."""

from __future__ import annotations

import math
from typing import Sequence

from ._asha import ASHA
from ._base import Action, Decision, Reason, _EMPTY, check_int
from ._rung import BestFirst, SortedScores, TopShare

__all__ = ["ASHACurve", "fit_curve"]

#: Exponents c of the curve family ``s(t) = a - b * t**-c`` tried per fit (the best by squared error);
#: c = 0 stands for its limit ``a + b * log(t)``, a curve still rising as fast in log-epochs (a late bloomer).
EXPONENTS = (0.0, 0.5, 1.0, 2.0)


def _x(t: float, c: float) -> float:
    return math.log(t) if c == 0.0 else -(t ** -c)
#: Points of a trial's curve a fit reads at most, spread evenly over its window: a fit costs O(1).
MAX_POINTS = 12
#: Calibration pairs a rung keeps at most; its gate is tested at calibration, 2x, 4x... up to this.
MAX_PAIRS = 64


def fit_curve(epochs: Sequence[int], scores: Sequence[float], at: Sequence[int]) -> tuple[list[float], float]:
    """Fit ``s(t) = a - b * t**-c`` (``a + b log t`` for c = 0) to the points by least squares for each c of
    ``EXPONENTS`` (closed form in a and b) and keep the c with the smallest error.

    Returns the fitted curve's gains from the last point's epoch to each epoch
    of ``at``, and the standard error of the gain to ``at[-1]``: the linear
    fit's prediction error at that epoch (with at least one degree of freedom)
    combined with the spread of the other exponents' gains (model uncertainty).
    """
    n = len(epochs)
    last = epochs[-1]
    best = None
    gains_by_c = []
    for c in EXPONENTS:
        xs = [_x(t, c) for t in epochs]
        mx = sum(xs) / n
        my = sum(scores) / n
        sxx = sum((x - mx) ** 2 for x in xs)
        if sxx <= 0.0:
            return [0.0] * len(at), 0.0
        b = sum((x - mx) * (y - my) for x, y in zip(xs, scores)) / sxx
        a = my - b * mx
        sse = sum((y - a - b * x) ** 2 for x, y in zip(xs, scores))
        x_last = _x(last, c)
        gains = [b * (_x(t, c) - x_last) for t in at]
        x_end = _x(at[-1], c)
        # Variance of the fitted gain b * (x_end - x_last): the slope's variance times the span squared.
        var = sse / max(n - 2, 1) / sxx * (x_end - x_last) ** 2
        gains_by_c.append(gains[-1])
        if best is None or sse < best[0]:
            best = (sse, gains, var)
    _, gains, var = best
    spread = (max(gains_by_c) - min(gains_by_c)) / 2.0
    return gains, math.sqrt(var + spread * spread)


class ASHACurve(ASHA):
    """ASHA that ranks a rung's paused trials by their predicted value at R.

    Where ASHA promotes the best paused trial of a rung by its value there,
    this ranks them by ``value + lam * gain - kappa * lam * se``: ``gain`` is
    what the trial's own curve, fitted when it pauses (``fit_curve``: a power
    law ``a - b * t**-c`` or log-linear, over its last epochs), still gains up to R, ``se`` the
    fit's standard error, and ``lam`` how much of a predicted gain the trials
    trained further really gained, by least squares over their pairs
    (predicted, observed gain up to the next rung), clipped to [0, 2].

    A rung ranks by value, exactly as ASHA, until ``calibration`` trials have
    gone from it to the next rung, and then switches to the prediction only if
    that ranks those trials' values at the next rung better (more concordant
    pairs) than their values at the rung did; the test is repeated at twice,
    four times... as many trials (up to 64) until it passes. On a switch the
    rung's entries are ranked again once, and ``lam`` is frozen, so keys of one
    rung stay comparable. A rung whose level is below ``min_points`` epochs
    (the first, with ``min_epochs=1``) has too few points to fit and always
    ranks by value.

    Every pause and promotion reason carries the prediction at R and its
    standard error (``Reason.predicted``, ``Reason.uncertainty``).

    Parameters
    ----------
    eta, min_epochs, max_epochs:
        As ``ASHA``.
    kappa:
        Width of the confidence bound subtracted from the prediction, in
        standard errors: 0 ranks by the prediction itself, larger values
        distrust extrapolations from short or noisy curves. At least 0.
    min_points:
        Fewest points of a trial's curve a fit reads (at least 3: two
        parameters and one degree of freedom for its error).
    calibration:
        Trials that went on from a rung before it may rank by prediction. At least 2.
    """

    name = "asha-curve"
    # The fit reads the curve's points, not only the rung's value.
    reads_every_epoch = True

    def __init__(self, eta: int = 3, min_epochs: int = 1, *, kappa: float = 1.0, min_points: int = 3,
                 calibration: int = 8, max_epochs: int | None = None) -> None:
        super().__init__(eta, min_epochs, max_epochs=max_epochs)
        if isinstance(kappa, bool) or not isinstance(kappa, (int, float)) or not math.isfinite(kappa):
            raise TypeError(f"kappa must be a finite number, but got kappa={kappa!r}")
        if kappa < 0:
            raise ValueError(f"kappa must be >= 0, but got kappa={kappa!r}")
        check_int("min_points", min_points, low=3)
        check_int("calibration", calibration, low=2)
        if calibration > MAX_PAIRS:
            raise ValueError(f"calibration must be <= {MAX_PAIRS}, but got calibration={calibration!r}")
        self.kappa = float(kappa)
        self.min_points = min_points
        self.calibration = calibration

    def params(self) -> dict:
        return {**super().params(), "kappa": self.kappa, "min_points": self.min_points,
                "calibration": self.calibration}

    def _setup_rungs(self) -> None:
        super()._setup_rungs()
        top = self.top
        # The window of a fit at rung k: its last epochs, from the previous level (or 1) to its level.
        self.window = [max(1, self.levels[k - 1]) if k else 1 for k in range(top)]
        self.fits = [self.levels[k] - self.window[k] + 1 >= self.min_points for k in range(top)]
        self.points: dict[int, list[float]] = {}  # trial -> scores of epochs window..trained of its next rung
        self.first: dict[int, int] = {}  # trial -> epoch of its first kept point
        # At a pause at rung k: (value, gain to the next level, se, gain to R, se) of the fit; None when unfit.
        self.fit: dict[int, tuple[float, float, float, float, float] | None] = {}
        self.lam: list[float | None] = [None] * top  # frozen once rung k ranks by prediction
        # Rung k's calibration pairs (value, predicted gain to next level, se, value there), until it switches
        # or gives up; and every entry's fit, to rank them again on a switch.
        self.pairs: list[list[tuple[float, float, float, float]] | None] = [[] if f else None for f in self.fits]
        self.entries: list[dict[int, tuple] | None] = [{} if f else None for f in self.fits]
        self.next_test = [self.calibration] * top
        self.gates: list[str] = ["value"] * top  # what rung k ranks by, for reasons

    # ------------------------------------------------------------------ reports
    def report(self, trial: int, epoch: int, value: float) -> Sequence[Decision]:
        k = self.target[trial]
        level = self.levels[k]
        score = self.direction.score(value)
        if k < self.top and self.fits[k] and epoch >= self.window[k]:
            pts = self.points.get(trial)
            if pts is None:
                self.points[trial] = pts = []
                self.first[trial] = epoch
            pts.append(score)
        if epoch < level:
            return _EMPTY
        # The trial trained further: its earlier rung's prediction becomes a calibration pair.
        prior = self.fit.pop(trial, None)
        if prior is not None and k >= 1:
            self._calibrate(k - 1, prior, score)
        if k == self.top:
            self._forget(trial)
            return super().report(trial, epoch, value)
        fit = self._fit(trial, k, score)
        if k + 1 < self.top and self.fits[k + 1]:  # the next fit's window starts at this level
            self.points[trial] = [score]
            self.first[trial] = epoch
        else:
            self.points.pop(trial, None)
            self.first.pop(trial, None)
        lam = self.lam[k]
        if lam is None:
            out = super().report(trial, epoch, value)
        else:
            out = self._pause_at(trial, epoch, k, self._key(fit, lam))
        if fit is None:
            return out
        self.fit[trial] = fit
        entries = self.entries[k]
        if entries is not None:
            entries[trial] = fit
        shown = 1.0 if lam is None else lam
        d = out[0]
        why = d.reason._replace(predicted=self.direction.sign * (fit[0] + shown * fit[3]),
                                uncertainty=shown * fit[4], detail=self._how(k))
        return (d._replace(reason=why),)

    def _pause_at(self, trial: int, epoch: int, k: int, key: float) -> tuple[Decision]:
        """ASHA's pause at rung k, with the entry's key given rather than its value."""
        del self.target[trial]
        self.running -= 1
        entry = (-key, trial)
        top = self.rungs[k]
        top.add(entry)
        self.waiting[k].add(entry)
        self.checked[k] = False
        return (Decision(trial, epoch, Action.PAUSE, Reason("rung-reached", rung=k, compared=len(top),
                                                            bracket=self._bracket)),)

    def _key(self, fit: tuple | None, lam: float) -> float:
        if fit is None:  # cannot happen on a rung that fits; kept total for safety
            raise RuntimeError("a rung that ranks by prediction paused a trial without a fit")
        value, _, _, gain, se = fit
        return value + lam * (gain - self.kappa * se)

    def _fit(self, trial: int, k: int, score: float) -> tuple[float, float, float, float, float] | None:
        pts = self.points.get(trial)
        if not self.fits[k] or pts is None or len(pts) < self.min_points:
            return None
        first = self.first[trial]
        n = len(pts)
        if n > MAX_POINTS:  # evenly spread, always the first and the last
            idx = sorted({round(i * (n - 1) / (MAX_POINTS - 1)) for i in range(MAX_POINTS)})
        else:
            idx = range(n)
        epochs = [first + i for i in idx]
        scores = [pts[i] for i in idx]
        nxt = self.levels[k + 1]
        (g_next, g_end), se_end = fit_curve(epochs, scores, (nxt, self.max_epochs))
        _, se_next = fit_curve(epochs, scores, (nxt,)) if nxt != self.max_epochs else (None, se_end)
        return (score, g_next, se_next, g_end, se_end)

    def _forget(self, trial: int) -> None:
        self.points.pop(trial, None)
        self.first.pop(trial, None)
        self.fit.pop(trial, None)

    def remove(self, trial: int, epoch: int) -> Sequence[Decision]:
        self._forget(trial)
        return super().remove(trial, epoch)

    # -------------------------------------------------------------- calibration
    def _calibrate(self, k: int, fit: tuple, reached: float) -> None:
        """A trial went on from rung k and reached ``reached`` at the next level."""
        pairs = self.pairs[k]
        if pairs is None:
            return
        value, g_next, se_next, _, _ = fit
        pairs.append((value, g_next, se_next, reached))
        if len(pairs) < self.next_test[k]:
            return
        lam = self._gate(pairs)
        if lam is not None:
            self._switch(k, lam)
        elif 2 * self.next_test[k] <= MAX_PAIRS:
            self.next_test[k] *= 2
        else:  # the prediction never ranked better: the rung ranks by value for good
            self.pairs[k] = self.entries[k] = None
            self.gates[k] = "value (prediction did not rank better)"

    def _gate(self, pairs: list[tuple[float, float, float, float]]) -> float | None:
        """``lam`` if the calibrated prediction ranks the pairs' next-level values better than their values."""
        sgg = sum(g * g for _, g, _, _ in pairs)
        if sgg <= 0.0:
            return None
        lam = sum(g * (r - v) for v, g, _, r in pairs) / sgg
        lam = min(2.0, max(0.0, lam))
        if lam == 0.0:
            return None
        kappa = self.kappa
        keys = [v + lam * (g - kappa * se) for v, g, se, _ in pairs]
        values = [v for v, _, _, _ in pairs]
        reached = [r for _, _, _, r in pairs]
        return lam if _concordance(keys, reached) > _concordance(values, reached) else None

    def _switch(self, k: int, lam: float) -> None:
        """Rung k ranks by prediction from now on: its entries are ranked again, once."""
        entries = self.entries[k]
        self.lam[k] = lam
        self.gates[k] = f"prediction (gain x{lam:.3g}, calibrated on {len(self.pairs[k])} trials)"
        self.pairs[k] = self.entries[k] = None
        waiting_before = self.waiting[k]
        top, waiting, gone = TopShare(self.eta), BestFirst(), SortedScores()
        for trial, fit in entries.items():
            key = self._key(fit, lam)
            top.add((-key, trial))
            if trial in waiting_before:
                waiting.add((-key, trial))
            else:
                gone.add(key, trial)
        self.rungs[k], self.waiting[k], self.gone[k] = top, waiting, gone
        self.checked[k] = False

    def _how(self, k: int) -> str:
        return f"rung ranks by {self.gates[k]}"

    def _promotion_reason(self, k: int, trial: int, reason: Reason) -> Reason:
        fit = self.fit.get(trial)
        if fit is None:
            return reason
        lam = self.lam[k]
        shown = 1.0 if lam is None else lam
        rule = reason.rule if lam is None else "predicted-top-k"
        return reason._replace(rule=rule, predicted=self.direction.sign * (fit[0] + shown * fit[3]),
                               uncertainty=shown * fit[4], detail=self._how(k))


def _concordance(keys: Sequence[float], truth: Sequence[float]) -> int:
    """Concordant minus discordant pairs (Kendall's numerator); at most ``MAX_PAIRS**2 / 2`` steps."""
    n = len(keys)
    total = 0
    for i in range(n):
        ki, ti = keys[i], truth[i]
        for j in range(i + 1, n):
            a = (ki - keys[j]) * (ti - truth[j])
            total += (a > 0) - (a < 0)
    return total
