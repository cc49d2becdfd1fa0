"""Named learning-curve tables for comparing policies offline, in one registry.

A curve set is ``make(trials, max_epochs, seed) -> (curves, mode)``: a trials x
epochs array (column j is the metric after epoch j+1) and the metric's direction.
Generated families stress where learning curves cross (slow starters that end best,
early-good curves that saturate, noise); ``branin`` and ``hartmann6`` are
``halving.testfunctions`` tabulated on sampled configs; recorded sets are the benchmark workloads'
own curves, every configuration trained to ``max_epochs`` in this process (no Ray),
cached in the system's temporary directory; ``*-table`` sets are rows of the wide
workloads' tables that ``sampler_surrogate`` trained once and keeps in
``benchmarks/results/surrogate-WORKLOAD.json``. Add a set by adding an entry to ``CURVE_SETS``.
"""

from __future__ import annotations

import os
import tempfile
from dataclasses import dataclass
from typing import Callable

import numpy as np

from halving.synthetic import synthetic_curves

__all__ = ["CURVE_SETS", "CurveSet", "make"]


@dataclass(frozen=True)
class CurveSet:
    make: Callable[[int, int, int], np.ndarray]
    note: str
    mode: str = "max"
    recorded: bool = False  # trains models: slower, and needs the workload's packages


def _epochs(max_epochs: int) -> np.ndarray:
    return np.arange(1, max_epochs + 1, dtype=np.float64)[None, :]


def _noisy(n: int, R: int, seed: int) -> np.ndarray:
    rng = np.random.default_rng([seed, 1])
    return synthetic_curves(n, R, seed) + rng.normal(0.0, 0.03, size=(n, R))


def _late_bloomers(n: int, R: int, seed: int) -> np.ndarray:
    """Most curves saturate within a few epochs; one in five rises late (a sigmoid in log-epochs)
    to a higher plateau, so at the first rungs it looks worse than the early ones."""
    rng = np.random.default_rng([seed, 2])
    t = _epochs(R)
    early = rng.beta(5.0, 2.0, size=(n, 1)) * 0.85 * (1.0 - np.exp(-t / rng.uniform(0.5, 2.0, size=(n, 1))))
    mid = rng.uniform(R / 6.0, R / 2.0, size=(n, 1))
    late = rng.uniform(0.75, 1.0, size=(n, 1)) / (1.0 + (mid / t) ** rng.uniform(1.5, 3.0, size=(n, 1)))
    bloom = rng.random((n, 1)) < 0.2
    return np.where(bloom, late, early) + rng.normal(0.0, 0.005, size=(n, R))


def _saturating(n: int, R: int, seed: int) -> np.ndarray:
    """Power laws ``a - b * t**-c``: fast (large c) curves lead early and stop; slow ones keep rising."""
    rng = np.random.default_rng([seed, 3])
    c = rng.uniform(0.3, 2.0, size=(n, 1))
    a = rng.uniform(0.6, 1.0, size=(n, 1))
    b = a * rng.uniform(0.4, 0.9, size=(n, 1)) * (0.5 + 1.5 * (c < 0.8))
    return a - b * _epochs(R) ** -c + rng.normal(0.0, 0.005, size=(n, R))


def _parallel(n: int, R: int, seed: int) -> np.ndarray:
    """One shape scaled per trial: curves never cross, so a rung's order is the final order (ASHA's best case)."""
    rng = np.random.default_rng([seed, 4])
    return rng.beta(5.0, 2.0, size=(n, 1)) * (1.0 - np.exp(-_epochs(R) / 4.0))


def _loss(n: int, R: int, seed: int) -> np.ndarray:
    """Losses (mode min) decaying to a per-trial floor at per-trial rates, with noise."""
    rng = np.random.default_rng([seed, 5])
    floor = rng.gamma(2.0, 0.1, size=(n, 1))
    start = floor + rng.uniform(1.0, 2.5, size=(n, 1))
    tau = rng.uniform(1.0, R / 2.0, size=(n, 1))
    return floor + (start - floor) * np.exp(-_epochs(R) / tau) + rng.normal(0.0, 0.01, size=(n, R))


def _noop(n: int, R: int, seed: int) -> np.ndarray:
    """The ``noop``/``busy`` workloads' curves (a saturating trend plus hash-like noise) on sampled configs."""
    from . import workloads

    cfgs = workloads.sample_configs(workloads.CURVE_SPACE, n, seed)
    return np.array([[workloads.curve(c, e) for e in range(1, R + 1)] for c in cfgs])


def _test_function(name: str) -> Callable[[int, int, int], np.ndarray]:
    def table(n: int, R: int, seed: int) -> np.ndarray:
        """The function's curves (``max_epochs=R``, its default noise) on ``n`` configs sampled from its
        space as ``tune()`` samples them (config i from (seed, i))."""
        from halving import testfunctions
        from halving.space import Space

        fn = testfunctions.get(name, max_epochs=R)
        return np.array([[fn.curve(c, e) for e in range(1, R + 1)] for c in Space(fn.space).sample(n, seed)])

    return table


def _recorded(name: str) -> Callable[[int, int, int], np.ndarray]:
    def record(n: int, R: int, seed: int) -> np.ndarray:
        """Every sampled configuration of the workload trained to R epochs; the validation metric per epoch."""
        from . import workloads

        path = os.path.join(tempfile.gettempdir(), f"halving-curves-{name}-{n}-{R}-{seed}.npy")
        if os.path.exists(path):
            return np.load(path)
        w = workloads.make(name)
        rows = []
        for cfg in workloads.sample_configs(w.space, n, seed):
            state = w.start(cfg)
            rows.append([w.epoch(state, e)[w.metric] for e in range(1, R + 1)])
        curves = np.array(rows, dtype=np.float64)
        np.save(path, curves)
        return curves

    return record


def _trained_table(workload: str) -> Callable[[int, int, int], np.ndarray]:
    def rows(n: int, R: int, seed: int) -> np.ndarray:
        """``n`` rows of the workload's surrogate table (drawn without replacement by ``seed``), first R epochs."""
        import json

        from .sampler_surrogate import table_path

        path = table_path(workload)
        if not path.exists():
            raise FileNotFoundError(f"{path.name} is missing: make it with python -m benchmarks sampler_surrogate "
                                    f"--workload {workload}")
        curves = np.asarray(json.loads(path.read_text())["curves"], dtype=np.float64)
        if n > len(curves) or R > curves.shape[1]:
            raise ValueError(f"{path.name} holds {len(curves)} trials of {curves.shape[1]} epochs, but {n} trials "
                             f"of {R} epochs were asked for")
        pick = np.sort(np.random.default_rng([seed, 7]).choice(len(curves), size=n, replace=False))
        return curves[pick, :R]

    return rows


CURVE_SETS: dict[str, CurveSet] = {
    "synthetic": CurveSet(synthetic_curves, "halving.synthetic: plateaus Beta(5,2), rates vary, noise 0.005"),
    "noisy": CurveSet(_noisy, "halving.synthetic with noise 0.03 per epoch"),
    "late-bloomers": CurveSet(_late_bloomers, "80% saturate within ~2 epochs, 20% rise late to higher plateaus"),
    "saturating": CurveSet(_saturating, "power laws a - b t^-c: fast curves lead early and stop rising"),
    "parallel": CurveSet(_parallel, "one shape scaled per trial: curves never cross"),
    "loss": CurveSet(_loss, "losses (mode min) decaying at per-trial rates to per-trial floors", mode="min"),
    "noop": CurveSet(_noop, "the noop workload's curves: saturating trend plus hash-like noise 0.01"),
    "branin": CurveSet(_test_function("branin"), "halving.testfunctions.branin: fidelity e/R shifts the "
                       "landscape, noise sd 2/sqrt(e)", mode="min"),
    "hartmann6": CurveSet(_test_function("hartmann6"), "halving.testfunctions.hartmann6: fidelity e/R lowers "
                          "each alpha by 0.1(1-e/R), noise sd 0.1/sqrt(e)", mode="min"),
    "sgd": CurveSet(_recorded("sgd"), "recorded: the sgd workload (SGDClassifier on digits), val accuracy",
                    recorded=True),
    "mlp": CurveSet(_recorded("mlp"), "recorded: the mlp workload (MLPClassifier on digits), val accuracy",
                    recorded=True),
    **{f"{w}-table": CurveSet(_trained_table(w), f"trained: the {w} workload ({what}), val accuracy, from "
                              f"benchmarks/results/surrogate-{w}.json")
       for w, what in (("sgd-wide", "SGDClassifier on digits, wide space"),
                       ("mlp-wide", "MLPClassifier on digits, wide space"),
                       ("cnn", "a 1-D CNN on MNIST-1D"), ("fashion", "an MLP on Fashion-MNIST"))},
}


def make(name: str, trials: int, max_epochs: int, seed: int = 0) -> tuple[np.ndarray, str]:
    """The curve set ``name`` as (curves, mode)."""
    if name not in CURVE_SETS:
        raise ValueError(f"unknown curve set {name!r}: choose from {', '.join(CURVE_SETS)}")
    entry = CURVE_SETS[name]
    return np.asarray(entry.make(trials, max_epochs, seed), dtype=np.float64), entry.mode
