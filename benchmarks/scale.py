"""Scale in simulation: ASHA and Hyperband on synthetic curves with up to 1,000,000
trials and 1, 10, 100 and 1,000 simulated workers, in virtual time.

Per policy and worker count: wall and CPU seconds of ``halving.simulate``, time per
decision, the virtual makespan, and the speed-up in virtual time against one worker
(the ASHA paper reports near-linear scaling in workers). The curves come from
``halving.synthetic.synthetic_curves``; making them is not timed.
"""

from __future__ import annotations

import argparse

import numpy as np

import halving
from halving.synthetic import synthetic_curves

from .adapters.halving_tune import policy_argument
from .results import Target
from .table import print_table
from .timing import timed


def add_arguments(ap: argparse.ArgumentParser) -> None:
    ap.add_argument("--trials", type=int, default=1_000_000)
    ap.add_argument("--max-epochs", type=int, default=81)
    ap.add_argument("--eta", type=int, default=3)
    ap.add_argument("--workers", default="1,10,100,1000", help="comma-separated worker counts")
    ap.add_argument("--policies", default="asha,hyperband")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--quick", action="store_true", help="20,000 trials")


def _row(curves: np.ndarray, name: str, workers: int, args: argparse.Namespace, base: tuple[int, float] | None,
         best: float) -> dict:
    """One simulation; ``base`` is (workers, makespan) of the policy's first row, the speed-up's reference."""
    policy = policy_argument(name, args.eta, args.seed)
    t, result = timed(lambda: halving.simulate(curves, policy=policy, workers=workers, seed=args.seed))
    makespan = result.virtual_seconds
    first, first_makespan = base or (workers, makespan)
    speedup = first_makespan / makespan
    decisions = len(result.decisions)
    return {"policy": name, "workers": workers, "trials": len(curves), "wall_s": round(t.wall, 3),
            "cpu_s": round(t.cpu, 3), "decisions": decisions, "us_per_decision": round(1e6 * t.cpu / decisions, 2),
            "epochs_used": result.epochs_used, "virtual_makespan": makespan,
            "speedup_vs_first": round(speedup, 2), "efficiency": round(speedup / (workers / first), 3),
            "regret": None if result.best_value is None else round(best - result.best_value, 5)}


def run(args: argparse.Namespace) -> tuple[dict, list[Target]]:
    if args.quick:
        args.trials = 20_000
    workers = [int(w) for w in args.workers.split(",")]
    if not workers or min(workers) < 1:
        raise ValueError(f"--workers must be positive counts, but got {args.workers!r}")
    curves = synthetic_curves(args.trials, args.max_epochs, args.seed)
    best = float(curves[:, -1].max())
    rows = []
    for name in args.policies.split(","):
        base = None
        for w in workers:
            rows.append(_row(curves, name, w, args, base, best))
            base = base or (w, rows[-1]["virtual_makespan"])
            print(f"{name} {w} workers: {rows[-1]['cpu_s']} CPU s", flush=True)
    print_table(f"{args.trials:,} trials, R={args.max_epochs}, eta={args.eta} (speed-up against {workers[0]} worker(s))",
                ["policy", "workers", "wall s", "CPU s", "decisions", "us/decision", "makespan", "speed-up", "eff."],
                [[r["policy"], r["workers"], r["wall_s"], r["cpu_s"], r["decisions"], r["us_per_decision"],
                  r["virtual_makespan"], r["speedup_vs_first"], r["efficiency"]] for r in rows])
    return {"params": vars(args), "rows": rows}, []
