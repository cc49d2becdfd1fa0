"""Samplers compared over many seeds on a surrogate of a real workload: a table of randomly
drawn configurations each trained for all R epochs, looked up by nearest neighbour.

The table (``--configs`` configurations of ``--workload``, drawn with seed 12345 and trained
in this process, one thread, every epoch's validation accuracy kept) is written beside the
result, ``benchmarks/results/surrogate-WORKLOAD.json`` (a temporary directory with
``--quick``), and read back by later runs with the same sizes. A proposed configuration gets the curve of the table's row with the same
categorical values that is nearest in the unit space of its numeric dimensions (the
samplers' own encoding); with no row of those categorical values, the row differing in
the fewest. Each
variant ``policy:sampler`` (a ``bandwidth_factor=F`` suffix sets TPE's or BOHB's widening)
runs ``halving.simulate`` for ``--seeds`` seeds under the quality benchmark's budget (one
Hyperband iteration, 357 epochs at R=27, eta=3) on 2 simulated workers; the figures are the
median, mean and 10th percentile of the best value at R. It ranks samplers on one
workload's landscape in seconds; it is not a peer comparison (``quality`` is).
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import time
import warnings
from pathlib import Path

import numpy as np

import halving
from halving import samplers as S
from halving.samplers._encoding import Encoding
from halving.space import Space

from .adapters import one_thread
from .quality import halving_trials, hyperband_iteration
from .results import Target
from .table import print_table
from .workloads import make

TIMED = False
RESULTS = Path(__file__).resolve().parent / "results"
TABLE_SEED = 12345
DEFAULT_VARIANTS = ("asha:random,asha:tpe,asha:tpe:bandwidth_factor=1,asha:bohb,"
                    "hyperband:random,hyperband:tpe,hyperband:tpe:bandwidth_factor=1,hyperband:bohb")


def add_arguments(ap: argparse.ArgumentParser) -> None:
    ap.add_argument("--workload", default="cnn", help="a quality workload (cnn, sgd-wide, mlp-wide, fashion)")
    ap.add_argument("--configs", type=int, default=600, help="rows of the surrogate table")
    ap.add_argument("--seeds", type=int, default=200)
    ap.add_argument("--max-epochs", type=int, default=27)
    ap.add_argument("--variants", default=DEFAULT_VARIANTS,
                    help="comma-separated policy:sampler[:name=value]; default: random, tpe (and tpe unwidened), bohb")
    ap.add_argument("--quick", action="store_true", help="smoke run: sgd-wide, 40 configs, R=3, 5 seeds")


def table_path(workload: str, scratch: bool = False) -> Path:
    """Where the workload's table is kept (``scratch``: the temporary directory, for smoke runs)."""
    return (Path(tempfile.gettempdir()) if scratch else RESULTS) / f"surrogate-{workload}.json"


def train_table(workload: str, n: int, max_epochs: int) -> dict:
    """``n`` configurations drawn with ``TABLE_SEED``, each trained for ``max_epochs`` epochs."""
    with tempfile.TemporaryDirectory(prefix="surrogate-") as scratch:
        w = make(workload, scratch=scratch)
        configs = Space.from_spec(w.space).sample(n, TABLE_SEED)
        curves = []
        with one_thread(w), warnings.catch_warnings():
            warnings.simplefilter("ignore")
            for k, config in enumerate(configs):
                state = w.start(config)
                curves.append([w.epoch(state, e)[w.metric] for e in range(1, max_epochs + 1)])
                if (k + 1) % 100 == 0:
                    print(f"trained {k + 1} of {n} configurations", flush=True)
    return {"workload": workload, "configs": n, "max_epochs": max_epochs, "seed": TABLE_SEED, "curves": curves}


class Surrogate:
    """The curve of the nearest table row: fewest categorical values differing first, then
    the nearest in the unit space of the numeric dimensions."""

    def __init__(self, spec: dict, table: dict) -> None:
        space = Space.from_spec(spec)
        self.enc = Encoding(space)
        configs = space.sample(table["configs"], table["seed"])
        self.curves = np.asarray(table["curves"], dtype=float)
        encoded = [self.enc.encode(c) for c in configs]
        self.num = np.asarray([n for n, _ in encoded], dtype=float).reshape(len(configs), -1)
        self.cat = np.asarray([c for _, c in encoded], dtype=np.int64).reshape(len(configs), -1)
        self.mismatch = self.num.shape[1] + 1.0  # one differing category outweighs any numeric distance

    def __call__(self, config: dict) -> np.ndarray:
        num, cat = self.enc.encode(config)
        d = ((self.num - num) ** 2).sum(axis=1) + self.mismatch * (self.cat != cat).sum(axis=1)
        return self.curves[int(np.argmin(d))]


def sampler_of(text: str) -> str | S.Sampler:
    """``tpe`` or ``tpe:bandwidth_factor=1``: a name, or a sampler built with those parameters."""
    name, *settings = text.split(":")
    if not settings:
        return name
    params = {}
    for s in settings:
        key, sep, value = s.partition("=")
        if not sep:
            raise SystemExit(f"--variants: {text!r}: write a parameter as name=value")
        params[key] = float(value) if "." in value or "e" in value else int(value)
    return S.make(name, **params)


def run(args: argparse.Namespace) -> tuple[dict, list[Target]]:
    if args.quick:
        args.workload, args.configs, args.max_epochs, args.seeds = "sgd-wide", 40, 3, 5
    budget = hyperband_iteration(args.max_epochs, 3)[1]
    path = table_path(args.workload, scratch=args.quick)
    table = json.loads(path.read_text()) if path.exists() else None
    if table is None or (table["configs"], table["max_epochs"]) != (args.configs, args.max_epochs):
        t0 = time.perf_counter()
        table = train_table(args.workload, args.configs, args.max_epochs)
        print(f"trained the table in {time.perf_counter() - t0:.0f} s; writing {path}", flush=True)
        path.write_text(json.dumps(table))
    with tempfile.TemporaryDirectory(prefix="surrogate-") as scratch:
        spec = make(args.workload, scratch=scratch).space
    curve = Surrogate(spec, table)
    finals = np.asarray(table["curves"])[:, -1]
    rows = []
    for variant in (v.strip() for v in args.variants.split(",") if v.strip()):
        policy, _, sampler = variant.partition(":")
        best = [halving.simulate(curve, space=spec, trials=halving_trials(policy, budget, args.max_epochs, 3),
                                 max_epochs=args.max_epochs, mode="max", policy=policy, sampler=sampler_of(sampler),
                                 workers=2, seed=seed, budget=budget, eta=3).best_value for seed in range(args.seeds)]
        rows.append({"variant": variant, "median": statistics.median(best), "mean": statistics.mean(best),
                     "p10": float(np.quantile(best, 0.1)), "per_seed": best})
        print(f"{variant}: median {rows[-1]['median']:.4f}, mean {rows[-1]['mean']:.4f}, "
              f"p10 {rows[-1]['p10']:.4f}", flush=True)
    cols = ["variant", "median", "mean", "p10"]
    print_table(f"{args.workload} surrogate ({args.configs} configs; table's best {finals.max():.4f}, "
                f"99th percentile {np.quantile(finals, 0.99):.4f}); best value at R over {args.seeds} seeds",
                cols, [[r[c] for c in cols] for r in rows])
    return {"params": vars(args), "table": path.name,
            "table_best": float(finals.max()), "table_p99": float(np.quantile(finals, 0.99)), "rows": rows}, []

