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
    "curve_promotion": "asha-curve (curve-aware promotion) against ASHA at equal budget on generated and recorded curves",
    "decision_cost": "microseconds per decision of ASHA and asha-curve as trials grow (is asha-curve O(log n)?)",
    "sampler_speed": "milliseconds per TPE / BOHB proposal at 10,000 observations, against Optuna's TPESampler",
    "sklearn_halving": "halving.sklearn.HalvingSearchCV against scikit-learn's HalvingRandomSearchCV",
    "many_workers": "one driver and up to 32 workers on a local multi-node Ray: utilisation, driver CPU per result",
    "first_report": "seconds from launching `halving run` (or calling tune()) to the first report, against a floor",
    "testfunctions": "policies x samplers on Branin and Hartmann-6 through the function-driven simulation: "
                     "regret against budget over 100 seeds, with a plot",
    "quality": "best val/test accuracy per epoch budget, each tool sampling its own configurations",
    "sampler_surrogate": "samplers over many seeds on a nearest-neighbour surrogate of a real workload's trained "
                         "configurations",
}
