"""What one proposal costs at 10,000 observations: halving's TPE and BOHB against Optuna's TPE.

Each sampler is started on a six-dimension space (log, quantised, integer, normal and
categorical dimensions plus a constant) and fed ``--observations`` trials, as an ASHA run
with eta=3 makes them: every trial reports at epoch 1, a third reach 3, a ninth reach 9
(BOHB models the highest of those levels with enough points; TPE ranks trials by how far
they got, then by value). ``--running`` trials are running with no report yet: the constant
liar counts them. Then ``--proposals`` new trials are proposed one by one (each proposal
is for another trial: another random stream), each timed alone; the figures are the
median and 90th percentile in milliseconds, wall clock and CPU. Feeding the observations
is timed too (microseconds per ``created`` + ``observe``).

The peer is Optuna's ``TPESampler`` (``constant_liar=True``, multivariate, the same
space as Optuna distributions) on a study holding the same number of finished trials,
timed per ``study.ask()`` with ``--running`` trials asked and not told. Target: a
halving proposal in under 10 ms at 10,000 observations (TPE and BOHB).
"""

from __future__ import annotations

import argparse
import statistics
import time
from typing import Any

import numpy as np

from halving import samplers as S
from halving import space as hs
from halving.space import Space

from .results import Target
from .table import print_table

LIMIT_MS = 10.0
SPACE = {"lr": hs.loguniform(1e-5, 1.0), "width": hs.qloguniform(8, 1024, 8), "layers": hs.randint(1, 8),
         "dropout": hs.quniform(0.0, 0.6, 0.05), "shift": hs.normal(0.0, 1.0),
         "act": hs.choice(["relu", "tanh", "gelu", "silu"]), "name": "mlp"}


def add_arguments(ap: argparse.ArgumentParser) -> None:
    ap.add_argument("--observations", type=int, nargs="+", default=[1_000, 10_000],
                    help="trials reported before the proposals are timed (one measurement each)")
    ap.add_argument("--proposals", type=int, default=30, help="proposals timed per measurement")
    ap.add_argument("--running", type=int, default=64, help="trials running with no report (the liar's)")
    ap.add_argument("--skip", action="append", default=[], choices=["optuna", "bohb", "tpe"],
                    help="leave a sampler out (repeatable)")
    ap.add_argument("--quick", action="store_true", help="smoke sizes: 1,000 observations, 5 proposals")


def _value(config: dict) -> float:
    return (-(np.log10(config["lr"]) + 2.5) ** 2 - 0.1 * (np.log2(config["width"] / 128)) ** 2
            - 0.05 * (config["layers"] - 3) ** 2 - (config["dropout"] - 0.2) ** 2 - 0.1 * config["shift"] ** 2
            + (0.3 if config["act"] == "gelu" else 0.0))


def _epochs(t: int) -> list[int]:
    return [1, 3, 9] if t % 9 == 0 else [1, 3] if t % 3 == 0 else [1]


def _percentile(values: list[float], q: float) -> float:
    return float(np.percentile(values, q))


def _halving(name: str, n_obs: int, args: argparse.Namespace) -> dict[str, Any]:
    space = Space(SPACE)
    sampler = S.make(name, **({"random_fraction": 0.0} if name == "bohb" else {}))
    n_total = n_obs + args.running + args.proposals
    sampler.start(space, seed=0, mode="max", n_trials=n_total, levels=(1, 3, 9))
    t0 = time.perf_counter()
    for t in range(n_obs):  # the configs are random ones: the feeding, not the proposals, is timed here
        config = space.config(t, 1)
        sampler.created(t, config)
        for epoch in _epochs(t):
            sampler.observe(t, epoch, _value(config) - 0.5 / epoch)
    feed = time.perf_counter() - t0
    running = set()
    for t in range(n_obs, n_obs + args.running):
        sampler.created(t, space.config(t, 1))
        running.add(t)
    wall, cpu, models = [], [], set()
    for t in range(n_obs + args.running, n_total):
        w0, c0 = time.perf_counter(), time.process_time()
        p = sampler.propose(t, running)
        wall.append((time.perf_counter() - w0) * 1e3)
        cpu.append((time.process_time() - c0) * 1e3)
        models.add(f"{p.model} on {p.n_obs} obs, {p.pending} pending")
    return {"sampler": f"halving {name}", "observations": n_obs, "median_ms": statistics.median(wall),
            "p90_ms": _percentile(wall, 90), "median_cpu_ms": statistics.median(cpu),
            "feed_us_per_trial": feed / n_obs * 1e6, "models": sorted(models)}


def _optuna(n_obs: int, args: argparse.Namespace) -> dict[str, Any]:
    import optuna
    from optuna.distributions import CategoricalDistribution, FloatDistribution, IntDistribution

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    dists = {"lr": FloatDistribution(1e-5, 1.0, log=True), "width": IntDistribution(8, 1024, step=8),
             "layers": IntDistribution(1, 7), "dropout": FloatDistribution(0.0, 0.6, step=0.05),
             "shift": FloatDistribution(-4.0, 4.0), "act": CategoricalDistribution(["relu", "tanh", "gelu", "silu"])}
    space = Space(SPACE)
    trials = []
    for t in range(n_obs):
        c = space.config(t, 1)
        params = {"lr": c["lr"], "width": int(min(max(round(c["width"] / 8) * 8, 8), 1024)), "layers": c["layers"],
                  "dropout": min(max(c["dropout"], 0.0), 0.6), "shift": float(np.clip(c["shift"], -4, 4)),
                  "act": c["act"]}
        trials.append(optuna.trial.create_trial(params=params, distributions=dists, value=_value(c),
                                                intermediate_values={e: _value(c) - 0.5 / e for e in _epochs(t)}))
    sampler = optuna.samplers.TPESampler(seed=0, constant_liar=True, multivariate=True)
    study = optuna.create_study(direction="maximize", sampler=sampler)
    study.add_trials(trials)
    for _ in range(args.running):  # asked, never told: running
        trial = study.ask()
        for k, d in dists.items():
            trial._suggest(k, d)
    wall, cpu = [], []
    for _ in range(args.proposals):
        w0, c0 = time.perf_counter(), time.process_time()
        trial = study.ask()
        for k, d in dists.items():
            trial._suggest(k, d)
        wall.append((time.perf_counter() - w0) * 1e3)
        cpu.append((time.process_time() - c0) * 1e3)
    return {"sampler": "optuna tpe", "observations": n_obs, "median_ms": statistics.median(wall),
            "p90_ms": _percentile(wall, 90), "median_cpu_ms": statistics.median(cpu), "feed_us_per_trial": None,
            "models": ["TPESampler(multivariate, constant_liar)"]}


def run(args: argparse.Namespace) -> tuple[dict, list[Target]]:
    if args.quick:
        args.observations, args.proposals = [1_000], 5
    rows = []
    for n in args.observations:
        for name in ("tpe", "bohb"):
            if name not in args.skip:
                rows.append(_halving(name, n, args))
                print(f"  {rows[-1]['sampler']} at {n}: {rows[-1]['median_ms']:.2f} ms", flush=True)
        if "optuna" not in args.skip:
            rows.append(_optuna(n, args))
            print(f"  optuna tpe at {n}: {rows[-1]['median_ms']:.2f} ms", flush=True)
    print_table(f"proposal cost, {args.running} trials running", ["sampler", "observations", "median_ms", "p90_ms", "median_cpu_ms", "feed_us_per_trial"],
                [[r[k] for k in ("sampler", "observations", "median_ms", "p90_ms", "median_cpu_ms",
                                 "feed_us_per_trial")] for r in rows])
    top = max(args.observations)
    at_top = {r["sampler"]: r for r in rows if r["observations"] == top}
    figures: dict[str, Any] = {"params": vars(args), "rows": rows}
    targets = [Target(f"{name} proposal median ms at {top} observations", at_top[name]["median_ms"], LIMIT_MS, False)
               for name in ("halving tpe", "halving bohb") if name in at_top]
    if "optuna tpe" in at_top:
        for name in ("halving tpe", "halving bohb"):
            if name in at_top:
                figures[f"optuna_over_{name.split()[1]}_at_{top}"] = (at_top["optuna tpe"]["median_ms"]
                                                                      / at_top[name]["median_ms"])
    return figures, targets
