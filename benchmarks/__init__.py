"""halving's benchmarks: every tool on the same workloads, in one run, reported as ratios.

Run one with ``python -m benchmarks NAME [options]`` from the repository root
(``python -m benchmarks --help`` lists them, ``python -m benchmarks NAME --help``
its options). Each run writes its figures, the command, the date, the machine's
load, the versions and the machine to ``benchmarks/results/NAME.json`` (or
``--out``). Modules: ``workloads`` (the registry every benchmark shares),
``adapters`` (one per tool), ``results`` (the JSON writer), one module per benchmark.
"""

from __future__ import annotations

__all__ = ["BENCHMARKS"]

#: Benchmark name -> what it measures (its module is ``benchmarks.NAME``).
BENCHMARKS: dict[str, str] = {
    "overhead": "results/s of halving ASHA against Ray Tune's ASHAScheduler on a no-work trainable",
    "utilisation": "share of worker time spent training, with 50 ms epochs (Ray Tune for reference)",
    "wall": "wall time and accuracy on sgd/mlp digits: halving ASHA, Ray Tune ASHA, Optuna SH pruner",
    "compare_peers": "every halving policy against Ray Tune, Optuna and scikit-learn on the same configurations",
    "decide_speed": "decisions per second on a recorded report stream (against Ray Tune's ASHA) and a simulation",
    "scale": "halving.simulate of ASHA and Hyperband with up to 1,000,000 trials and 1,000 workers",
    "sklearn_halving": "halving.sklearn.HalvingSearchCV against scikit-learn's HalvingRandomSearchCV",
    "quality": "best val/test accuracy per epoch budget, each tool sampling its own configurations",
}
