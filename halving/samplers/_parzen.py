"""A Parzen estimator: a weighted mixture of product kernels over an ``Encoding``'s space.

One component per observed point (plus, optionally, a prior component: the whole domain),
each a product of one kernel per dimension: a Gaussian truncated to [0, 1] on a bounded
coordinate, a plain Gaussian on an unbounded one, and an Aitchison-Aitken kernel on a
categorical one (the point's own category with probability ``1 - eps``, each other one
with ``eps / (k - 1)``). Bandwidths follow Scott's normal-reference rule per dimension,
never below a floor. Everything is numpy over arrays: at 10,000 points scoring a few
dozen candidates is a few million multiply-adds.
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


class Parzen:
    """The mixture over points ``num`` (n x numeric dims) and ``cat`` (n x categorical dims).

    ``prior_weight`` > 0 adds a component covering the whole domain with that weight (each
    point weighs 1). ``floor`` is the smallest numeric bandwidth (besides the encoding's own,
    e.g. one ``q`` step)."""

    def __init__(self, enc: Encoding, num: np.ndarray, cat: np.ndarray, *, prior_weight: float = 0.0,
                 floor: float = 1e-3) -> None:
        n = len(num)
        self.enc = enc
        dn, dc = num.shape[1], cat.shape[1]
        # Scott's rule: 1.06 sd n^(-1/5) per coordinate, within [floor, 1] (1: the prior's width).
        sd = num.std(axis=0) if n > 1 else np.zeros(dn)
        bw = np.clip(1.06 * sd * max(n, 1) ** -0.2, np.maximum(enc.floor, floor), 1.0)
        k = enc.sizes
        eps = (k - 1) / np.maximum(k, 1) * min(1.0, (n + 1) ** -0.5)
        self.means, self.cats = num, cat
        self.sd = np.broadcast_to(bw, (n, dn))
        self.eps = np.broadcast_to(eps, (n, dc))
        self.weights = np.ones(n)
        if prior_weight > 0:
            self.means = np.vstack([num, enc.centre[None, :]])
            self.cats = np.vstack([cat, np.full((1, dc), -1, dtype=np.int64)])  # -1: matches no category
            self.sd = np.vstack([self.sd, np.ones((1, dn))])
            self.eps = np.vstack([self.eps, ((k - 1) / np.maximum(k, 1))[None, :]])  # uniform over categories
            self.weights = np.append(self.weights, prior_weight)
        self.log_w = np.log(self.weights / self.weights.sum())
        # Mass of each truncated kernel inside [0, 1]: the density is divided by it.
        mass = np.ones_like(self.means)
        b = enc.bounded
        if b.any():
            m, s = self.means[:, b], self.sd[:, b]
            mass[:, b] = np.maximum(_phi((1.0 - m) / s) - _phi(-m / s), 1e-12)
        self.log_norm = (np.log(self.sd) + _LOG_SQRT_2PI + np.log(mass)).sum(axis=1)
        ke = np.maximum(k - 1, 1)
        self.log_own = np.log(np.maximum(1.0 - self.eps, 1e-300))
        self.log_other = np.log(np.maximum(self.eps / ke, 1e-300))

    def sample(self, rng: np.random.Generator, m: int, widen: float = 1.0) -> tuple[np.ndarray, np.ndarray]:
        """``m`` points drawn from the mixture, its bandwidths multiplied by ``widen``."""
        comp = rng.choice(len(self.weights), size=m, p=self.weights / self.weights.sum())
        mu, sd = self.means[comp], self.sd[comp] * widen
        num = mu + sd * rng.standard_normal(mu.shape)
        b = self.enc.bounded
        for _ in range(32):  # redraw what fell outside [0, 1]: a truncated kernel
            out = b[None, :] & ((num < 0.0) | (num > 1.0))
            if not out.any():
                break
            num[out] = mu[out] + sd[out] * rng.standard_normal(int(out.sum()))
        num[:, b] = np.clip(num[:, b], 0.0, 1.0)
        cat = self.cats[comp].copy()
        for j, k in enumerate(self.enc.sizes):
            k = int(k)
            eps = np.minimum(self.eps[comp, j] * widen, (k - 1) / k)
            change = rng.random(m) < eps
            other = rng.integers(0, max(k - 1, 1), size=m)
            other = np.where(other >= cat[:, j], other + 1, other)  # any category but the component's own
            prior = cat[:, j] < 0
            cat[:, j] = np.where(prior, rng.integers(0, k, size=m), np.where(change, other, cat[:, j]))
        return num, cat

    def log_pdf(self, num: np.ndarray, cat: np.ndarray) -> np.ndarray:
        """The mixture's log density at each of the points (rows of ``num``/``cat``)."""
        z = (num[:, None, :] - self.means[None, :, :]) / self.sd[None, :, :]
        log_k = -0.5 * np.einsum("ijk,ijk->ij", z, z) - self.log_norm[None, :] + self.log_w[None, :]
        for j in range(cat.shape[1]):
            same = cat[:, None, j] == self.cats[None, :, j]
            log_k += np.where(same, self.log_own[None, :, j], self.log_other[None, :, j])
        top = log_k.max(axis=1)
        return top + np.log(np.exp(log_k - top[:, None]).sum(axis=1))
