"""Scale in simulation: ASHA and Hyperband on synthetic curves with up to 1,000,000
trials and 1, 10, 100 and 1,000 simulated workers, in virtual time.

Prints, per policy and worker count: wall and CPU seconds of the engine, time per
decision, the virtual makespan, and the speed-up in virtual time against one
worker (the ASHA paper reports near-linear scaling in workers).

    python benchmarks/scale.py                    # 1,000,000 trials (several minutes)
    python benchmarks/scale.py --trials 20000     # a quick look
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import numpy as np  # noqa: E402

import halving  # noqa: E402
from _common import machine, timed  # noqa: E402
from halving.synthetic import synthetic_curves  # noqa: E402


def main(argv: list[str] | None = None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--trials", type=int, default=1_000_000)
    ap.add_argument("--max-epochs", type=int, default=81)
    ap.add_argument("--eta", type=int, default=3)
    ap.add_argument("--workers", default="1,10,100,1000")
    ap.add_argument("--policies", default="asha,hyperband")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--quick", action="store_true", help="20,000 trials")
    ap.add_argument("--out", type=Path, help="write the numbers as JSON")
    args = ap.parse_args(argv)
    n = 20_000 if args.quick else args.trials
    workers = [int(w) for w in args.workers.split(",")]
    curves = synthetic_curves(n, args.max_epochs, args.seed)
    true_best = float(curves[:, -1].max())
    rows = []
    print(f"{n} trials, R={args.max_epochs}, eta={args.eta}; machine: {machine()['cpu']}, "
          f"load {machine()['loadavg_at_start']}", flush=True)
    print(f"{'policy':<10} {'workers':>7} {'wall s':>8} {'cpu s':>8} {'decisions':>10} {'us/dec':>7} "
          f"{'makespan':>10} {'speed-up':>9} {'eff.':>5} {'regret':>8}", flush=True)
    for name in args.policies.split(","):
        base = None
        for w in workers:
            t, result = timed(lambda: halving.simulate(curves, policy=name, workers=w, seed=args.seed,
                                                       eta=args.eta))
            makespan = result.virtual_seconds
            base = makespan if base is None else base
            speedup = base / makespan
            decisions = len(result.decisions)
            row = {
                "policy": name, "workers": w, "trials": n, "wall_s": round(t.wall, 3), "cpu_s": round(t.cpu, 3),
                "decisions": decisions, "us_per_decision": round(1e6 * t.cpu / decisions, 2),
                "epochs_used": result.epochs_used, "virtual_makespan": makespan,
                "speedup_vs_1_worker": round(speedup, 2) if workers[0] == 1 else None,
                "efficiency": round(speedup / w, 3) if workers[0] == 1 else None,
                "regret": None if result.best_value is None else round(true_best - result.best_value, 5),
            }
            rows.append(row)
            print(f"{name:<10} {w:>7} {t.wall:>8.2f} {t.cpu:>8.2f} {decisions:>10} {row['us_per_decision']:>7} "
                  f"{makespan:>10.0f} {speedup:>9.1f} {speedup / w:>5.2f} {row['regret']!s:>8}", flush=True)
            del result
    out = {"machine": machine(), "rows": rows}
    if args.out:
        args.out.write_text(json.dumps(out, indent=2))
    return out


if __name__ == "__main__":
    main()
