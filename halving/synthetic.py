"""Synthetic learning curves for simulations and benchmarks."""

from __future__ import annotations

import numpy as np

__all__ = ["synthetic_curves"]


def synthetic_curves(trials: int, max_epochs: int, seed: int = 0, *, dtype=np.float64) -> np.ndarray:
    """``trials x max_epochs`` accuracy-like curves that rise to a per-trial plateau.

    Plateaus are Beta(5, 2) distributed, rates vary per trial (so curves cross:
    a slow starter can end best), and each epoch has a little noise.
    """
    rng = np.random.default_rng(seed)
    final = rng.beta(5.0, 2.0, size=(trials, 1))
    tau = rng.uniform(1.0, max(2.0, max_epochs / 3.0), size=(trials, 1))
    epochs = np.arange(1, max_epochs + 1, dtype=np.float64)[None, :]
    curves = final * (1.0 - np.exp(-epochs / tau))
    curves += rng.normal(0.0, 0.005, size=curves.shape)
    return curves.astype(dtype, copy=False)
