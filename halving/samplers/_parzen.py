"""A Parzen estimator: a weighted mixture of product kernels over an ``Encoding``'s space.

One component per observed point (each weighing 1) plus, optionally, a prior component
covering the whole domain (weighing ``prior_weight``). A component is a product of one
kernel per dimension: a Gaussian truncated to [0, 1] on a bounded coordinate, a plain
Gaussian on an unbounded one, and an Aitchison-Aitken kernel on a categorical one (the
point's own category with probability ``1 - eps``, each other one with ``eps / (k - 1)``).
Bandwidths follow Scott's normal-reference rule per dimension, never below a floor.

The points' components share their bandwidths, so the density of m candidates under n
points is one matrix product (m x features by features x n) plus per-point constants:
no m x n x d array is ever made, and 10,000 points cost a few milliseconds.
"""

from __future__ import annotations

import math

import numpy as np

from ._encoding import Encoding

__all__ = ["Parzen"]

_LOG_SQRT_2PI = 0.5 * math.log(2 * math.pi)


def _phi(x: np.ndarray) -> np.ndarray:
    """The standard normal CDF, from erf by Abramowitz and Stegun 7.1.26 (error < 1.5e-7):
    numpy has no erf, and the truncation masses it gives only need to be that close."""
    z = np.abs(x) / math.sqrt(2.0)
    t = 1.0 / (1.0 + 0.3275911 * z)
    poly = t * (0.254829592 + t * (-0.284496736 + t * (1.421413741 + t * (-1.453152027 + t * 1.061405429))))
    erf = 1.0 - poly * np.exp(-z * z)
    return 0.5 * (1.0 + np.sign(x) * erf)


def _log_mass(means: np.ndarray, sd: np.ndarray | float, bounded: np.ndarray) -> np.ndarray:
    """log of each kernel's mass inside [0, 1] on the bounded coordinates, summed per row.
    A kernel 6 bandwidths from both ends has all of it (to 1e-9): only the others are computed."""
    out = np.zeros(len(means))
    if not bounded.any():
        return out
    m = means[:, bounded]
    s = np.broadcast_to(sd[bounded] if isinstance(sd, np.ndarray) else sd, m.shape)
    near = (m < 6.0 * s) | (m > 1.0 - 6.0 * s)
    if near.any():
        mn, sn = m[near], s[near]
        term = np.zeros(m.shape)
        term[near] = np.log(np.maximum(_phi((1.0 - mn) / sn) - _phi(-mn / sn), 1e-12))
        out = term.sum(axis=1)
    return out


class Parzen:
    """The mixture over points ``num`` (n x numeric dims) and ``cat`` (n x categorical dims).

    ``floor`` is the smallest numeric bandwidth (besides the encoding's own, e.g. one ``q``
    step)."""

    def __init__(self, enc: Encoding, num: np.ndarray, cat: np.ndarray, *, prior_weight: float = 0.0,
                 floor: float = 1e-3) -> None:
        n = len(num)
        self.enc, self.n, self.num, self.cat = enc, n, num, cat
        # Scott's rule: 1.06 sd n^(-1/5) per coordinate, within [floor, 1] (1: the prior's width).
        spread = num.std(axis=0) if n > 1 else np.zeros(num.shape[1])
        self.sd = np.clip(1.06 * spread * max(n, 1) ** -0.2, np.maximum(enc.floor, floor), 1.0)
        k = enc.sizes
        self.uniform_eps = (k - 1) / np.maximum(k, 1)  # eps at which a kernel is uniform over categories
        self.eps = self.uniform_eps * min(1.0, (n + 1) ** -0.5)
        self.prior_weight = prior_weight
        total = n + prior_weight
        self.log_w_point = -math.log(total) if n else -math.inf
        self.log_w_prior = math.log(prior_weight / total) if prior_weight > 0 else -math.inf
        # log k_i(x) = -|x/s|^2 / 2 + (x/s).(mu_i/s) + same_ij * delta_j + const_i + const
        ke = np.maximum(k - 1, 1)
        self.log_other = np.log(np.maximum(self.eps / ke, 1e-300))
        self.delta = np.log(np.maximum(1.0 - self.eps, 1e-300)) - self.log_other
        self.offsets = np.concatenate([[0], np.cumsum(k)[:-1]]).astype(np.int64) if len(k) else np.zeros(0, np.int64)
        scaled = num / self.sd
        self.points = np.ascontiguousarray(np.hstack([scaled, self._onehot(cat)]).T)  # features x n: einsum's fast layout
        self.point_const = (-0.5 * np.einsum("ij,ij->i", scaled, scaled) - _log_mass(num, self.sd, enc.bounded)
                            + self.log_w_point)
        self.const = -np.log(self.sd).sum() - _LOG_SQRT_2PI * len(self.sd) + self.log_other.sum()

    def _onehot(self, cat: np.ndarray) -> np.ndarray:
        out = np.zeros((len(cat), int(self.enc.sizes.sum())))
        for j, off in enumerate(self.offsets):
            out[np.arange(len(cat)), off + cat[:, j]] = 1.0
        return out

    def sample(self, rng: np.random.Generator, m: int, widen: float = 1.0) -> tuple[np.ndarray, np.ndarray]:
        """``m`` points drawn from the mixture, its bandwidths multiplied by ``widen``."""
        enc, n = self.enc, self.n
        weights = np.append(np.ones(n), self.prior_weight) if self.prior_weight > 0 else np.ones(n)
        comp = rng.choice(len(weights), size=m, p=weights / weights.sum())
        prior = comp == n  # the prior component: centred on the domain, width 1, uniform categories
        safe = np.where(prior, 0, comp)
        mu = np.where(prior[:, None], enc.centre[None, :], self.num[safe]) if n else np.tile(enc.centre, (m, 1))
        sd = np.where(prior[:, None], 1.0, self.sd[None, :] * widen)
        num = mu + sd * rng.standard_normal(mu.shape)
        b = enc.bounded
        for _ in range(32):  # redraw what fell outside [0, 1]: a truncated kernel
            out = b[None, :] & ((num < 0.0) | (num > 1.0))
            if not out.any():
                break
            num[out] = mu[out] + sd[out] * rng.standard_normal(int(out.sum()))
        num[:, b] = np.clip(num[:, b], 0.0, 1.0)
        cat = self.cat[safe].copy() if n else np.zeros((m, len(enc.sizes)), dtype=np.int64)
        for j, k in enumerate(enc.sizes):
            k = int(k)
            change = rng.random(m) < min(self.eps[j] * widen, self.uniform_eps[j])
            other = rng.integers(0, max(k - 1, 1), size=m)
            other = np.where(other >= cat[:, j], other + 1, other)  # any category but the component's own
            cat[:, j] = np.where(prior, rng.integers(0, k, size=m), np.where(change, other, cat[:, j]))
        return num, cat

    def log_pdf(self, num: np.ndarray, cat: np.ndarray) -> np.ndarray:
        """The mixture's log density at each of the points (rows of ``num``/``cat``)."""
        out = np.full(len(num), -np.inf)
        if self.n:
            scaled = num / self.sd
            features = np.hstack([scaled, self._onehot(cat) * np.repeat(self.delta, self.enc.sizes)[None, :]])
            # einsum, not @: numpy's own loop, single-threaded. A multi-threaded BLAS is 10-30x
            # slower for this shape on a busy machine, and its reduction order is not promised.
            log_k = np.einsum("mf,fn->mn", features, self.points)
            log_k += self.point_const[None, :]
            top = log_k.max(axis=1)
            log_k -= top[:, None]
            out = top + np.log(np.exp(log_k).sum(axis=1)) - 0.5 * np.einsum("ij,ij->i", scaled, scaled) + self.const
        if self.prior_weight > 0:
            centre = self.enc.centre[None, :]
            z = num - centre
            log_p = (-0.5 * (z * z).sum(axis=1) - _LOG_SQRT_2PI * num.shape[1] - _log_mass(centre, 1.0, self.enc.bounded)
                     - np.log(self.enc.sizes.astype(float)).sum() + self.log_w_prior)
            out = np.logaddexp(out, log_p)
        return out
