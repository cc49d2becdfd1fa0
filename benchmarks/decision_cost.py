"""What one decision costs as trials grow: ASHA's rule against asha-curve's curve fits.

For each ``--trials`` count n, ``halving.simulate`` runs each ``--policies`` policy on
``halving.synthetic`` curves (n trials, R = ``--max-epochs``, ``--workers`` simulated
workers; making the table is not timed). The figure is CPU microseconds per decision
(the whole loop: engine, backend and policy, over ``len(result.decisions)``), the median
of ``--repeats`` runs. asha-curve fits at most 12 points of a trial's own curve and
calibrates on at most 64 pairs, so its cost per decision should not grow with n beyond
ASHA's sorted-rung O(log n). Target: asha-curve's microseconds per decision at the
largest n at most twice those at the smallest (100x the trials by default).
"""

from __future__ import annotations

import argparse
import statistics
import time

import halving
from halving.synthetic import synthetic_curves

from .results import Target
from .table import print_table

GROWTH_LIMIT = 2.0


def add_arguments(ap: argparse.ArgumentParser) -> None:
    ap.add_argument("--trials", default="1000,10000,100000", help="comma-separated trial counts")
    ap.add_argument("--policies", default="asha,asha-curve", help="comma-separated policies")
    ap.add_argument("--max-epochs", type=int, default=27)
    ap.add_argument("--workers", type=int, default=16)
    ap.add_argument("--repeats", type=int, default=3, help="runs per cell; the median is reported")
    ap.add_argument("--quick", action="store_true", help="smoke sizes: 300 and 3,000 trials, 1 run")


def _cell(policy: str, n: int, args: argparse.Namespace) -> dict:
    curves = synthetic_curves(n, args.max_epochs, 0)
    per_decision, decisions = [], 0
    for _ in range(args.repeats):
        c0 = time.process_time()
        result = halving.simulate(curves, policy=policy, workers=args.workers, seed=0)
        cpu = time.process_time() - c0
        decisions = len(result.decisions)
        per_decision.append(1e6 * cpu / max(1, decisions))
    return {"policy": policy, "trials": n, "decisions": decisions, "us_per_decision": statistics.median(per_decision),
            "runs_us": [round(x, 2) for x in per_decision]}


def run(args: argparse.Namespace) -> tuple[dict, list[Target]]:
    if args.quick:
        args.trials, args.repeats = "300,3000", 1
    counts = [int(x) for x in str(args.trials).split(",") if x]
    if not counts or min(counts) < 1:
        raise SystemExit(f"--trials: positive counts, comma-separated, but got {args.trials!r}")
    policies = [p for p in str(args.policies).split(",") if p]
    rows = []
    for policy in policies:
        for n in counts:
            rows.append(_cell(policy, n, args))
            print(f"  {policy} at {n} trials: {rows[-1]['us_per_decision']:.1f} us per decision", flush=True)
    print_table("CPU microseconds per decision (engine, backend and policy)", ["policy", "trials", "decisions",
                "us_per_decision"], [[r["policy"], r["trials"], r["decisions"], f"{r['us_per_decision']:.1f}"]
                                     for r in rows])
    figures: dict = {"rows": rows}
    targets = []
    curve = {r["trials"]: r["us_per_decision"] for r in rows if r["policy"] == "asha-curve"}
    if len(curve) >= 2:
        growth = curve[max(curve)] / curve[min(curve)]
        figures["asha_curve_growth"] = growth
        targets.append(Target(f"asha-curve us per decision, {max(curve)} trials over {min(curve)}", growth,
                              GROWTH_LIMIT, at_least=False))
        asha = {r["trials"]: r["us_per_decision"] for r in rows if r["policy"] == "asha"}
        if max(curve) in asha:
            figures["asha_curve_over_asha_at_largest"] = curve[max(curve)] / asha[max(curve)]
    return figures, targets
