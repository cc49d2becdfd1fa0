"""How fast halving decides, against Ray Tune's ASHAScheduler, and a 1M-trial simulation.

Part 1 (stream): one deterministic stream of ``--reports`` reports (1,000,000 by
default; R=81, eta=3, ``--concurrency`` trials running; see ``report_stream``) is
recorded from ``policies.ASHAStop`` and replayed, timing only the scheduler calls,
to ``policies.ASHAStop`` (ASHA as a stopping rule: the algorithm Ray's
``ASHAScheduler`` implements) and to Ray Tune's ``ASHAScheduler`` in this process.
Both must end the same trials; the result says whether they did. ``policies.ASHA``
(with promotion, another algorithm) gets its own stream from the same curves.
Target: halving at least 100x Ray Tune's reports per second.

Part 2 (simulation): ``halving.simulate(curves, policy="asha", workers=1)`` on a
``--sim-trials`` x 81 table (making the table is not timed). Target: under 30 s
for 1,000,000 trials.

Times are medians of ``--repeats``, wall-clock and CPU. Ray's scheduler recomputes
a rung's percentile over every value recorded there, so its cost per report grows
with the number of trials: the ratio grows with ``--reports``, and one Ray pass
over 1M reports takes the better part of an hour on 2 cores (``--ray-repeats``).
"""

from __future__ import annotations

import argparse
import cProfile
import io
import pstats
import time
from typing import Any, Callable

import halving
import policies
from halving.synthetic import synthetic_curves

from .adapters import ray_tune
from .curve_bank import CurveBank
from .report_stream import Stream, record, replay_halving, replay_nothing
from .results import Target
from .table import print_table
from .timing import Lap, median, timed

MAX_EPOCHS = 81
ETA = 3
RATIO_VS_RAY = 100.0
SIM_SECONDS = 30.0


def add_arguments(ap: argparse.ArgumentParser) -> None:
    ap.add_argument("--reports", type=int, default=1_000_000, help="reports in the stream")
    ap.add_argument("--concurrency", type=int, default=64, help="trials running at once in the stream")
    ap.add_argument("--sim-trials", type=int, default=1_000_000, help="trials of the simulation")
    ap.add_argument("--repeats", type=int, default=3, help="runs per measurement; medians are reported")
    ap.add_argument("--ray-repeats", type=int, default=None, help="runs of the Ray Tune side (default: --repeats)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--quick", action="store_true", help="smoke sizes: 20k reports, 20k simulated trials, 1 run")
    ap.add_argument("--skip", action="append", default=[], choices=["ray", "promotion", "sim"],
                    help="leave a part out (repeatable)")
    ap.add_argument("--profile", action="store_true", help="print cProfile of the halving replays instead of timing")


def _laps(label: str, fn: Callable[[], Lap], repeats: int) -> dict[str, Any]:
    laps = []
    for r in range(repeats):
        laps.append(fn())
        print(f"  {label} run {r + 1}/{repeats}: {laps[-1].wall:.3f} s (CPU {laps[-1].cpu:.3f} s)", flush=True)
    return {"seconds": [t.wall for t in laps], "cpu_seconds": [t.cpu for t in laps],
            "median_seconds": median(t.wall for t in laps), "median_cpu_seconds": median(t.cpu for t in laps)}


def _halving(make: Callable[[], policies.Policy], s: Stream, n_trials: int) -> Callable[[], Lap]:
    def once() -> Lap:
        t, ends = replay_halving(make, s, n_trials, MAX_EPOCHS)
        if ends != s.ends:
            raise RuntimeError("halving's replay ended trials the recording did not: the replay is not deterministic")
        return t

    return once


def _simulation(args: argparse.Namespace) -> dict[str, Any]:
    curves = synthetic_curves(args.sim_trials, MAX_EPOCHS, args.seed)
    info: dict[str, Any] = {}

    def once() -> Lap:
        t, res = timed(lambda: halving.simulate(curves, policy="asha", workers=1, seed=args.seed))
        info.update(decisions=len(res.decisions), epochs_used=res.epochs_used, best_trial=res.best_trial)
        return t

    out = {"trials": args.sim_trials, **_laps(f"halving.simulate {args.sim_trials:,} trials", once, args.repeats)}
    out.update(info, decisions_per_second=info["decisions"] / out["median_seconds"])
    return out


def _profile(fn: Callable[[], Any], top: int = 15) -> str:
    prof = cProfile.Profile()
    prof.enable()
    fn()
    prof.disable()
    buf = io.StringIO()
    pstats.Stats(prof, stream=buf).sort_stats("tottime").print_stats(top)
    return buf.getvalue()


def _ray(stop: Stream, args: argparse.Namespace) -> dict[str, Any]:
    ends: list[int] = []

    def once() -> Lap:
        nonlocal ends
        t, ends = ray_tune.replay_asha(stop.rows(), stop.n_trials, max_t=MAX_EPOCHS, eta=ETA, seed=args.seed)
        return t

    out = _laps("Ray Tune ASHAScheduler", once, args.ray_repeats)
    out["same_decisions"] = ends == stop.ends
    return out


def run(args: argparse.Namespace) -> tuple[dict, list[Target]]:
    if args.quick:
        args.reports, args.sim_trials, args.repeats = min(args.reports, 20_000), min(args.sim_trials, 20_000), 1
    args.ray_repeats = args.ray_repeats or args.repeats
    if min(args.reports, args.sim_trials, args.repeats, args.ray_repeats, args.concurrency) < 1:
        raise ValueError("--reports, --sim-trials, --repeats, --ray-repeats and --concurrency must be at least 1, "
                         f"but got {args.reports}, {args.sim_trials}, {args.repeats}, {args.ray_repeats}, "
                         f"{args.concurrency}")
    skip, n_trials = set(args.skip), args.reports + args.concurrency
    bank = CurveBank(MAX_EPOCHS, args.seed, prefetch=max(args.reports // 3, 1))
    t_rec = time.perf_counter()
    stop = record(policies.ASHAStop(eta=ETA, min_epochs=1), args.reports, args.concurrency, bank, args.seed)
    print(f"stream: {len(stop):,} reports, {stop.n_trials:,} trials, {len(stop.ends):,} ended; recorded in "
          f"{time.perf_counter() - t_rec:.1f} s (not timed)", flush=True)
    promo = None if "promotion" in skip else record(policies.ASHA(eta=ETA, min_epochs=1), args.reports,
                                                    args.concurrency, bank, args.seed)
    asha_stop, asha = (lambda: policies.ASHAStop(eta=ETA, min_epochs=1)), (lambda: policies.ASHA(eta=ETA, min_epochs=1))
    if args.profile:
        print(_profile(_halving(asha_stop, stop, n_trials)))
        return {"params": vars(args), "profile_only": True}, []
    parts: dict[str, Any] = {"stream": {"reports": len(stop), "trials": stop.n_trials, "ended": len(stop.ends)}}
    parts["replay_loop_alone"] = _laps("replay loop, no-op calls", lambda: replay_nothing(stop), args.repeats)
    parts["halving_asha_stop"] = _laps("halving ASHAStop", _halving(asha_stop, stop, n_trials), args.repeats)
    if promo is not None:
        parts["halving_asha_promotion"] = {"trials": promo.n_trials, "reports": len(promo),
                                           **_laps("halving ASHA", _halving(asha, promo, n_trials), args.repeats)}
    if "sim" not in skip:
        parts["simulation"] = _simulation(args)
    if "ray" not in skip:
        parts["ray_tune_asha_scheduler"] = _ray(stop, args)  # last: by far the slowest
    return {"params": vars(args), **parts}, _report(parts, len(stop))


def _report(parts: dict[str, Any], n: int) -> list[Target]:
    rows, targets = [], []
    for key in ("halving_asha_stop", "ray_tune_asha_scheduler", "halving_asha_promotion", "replay_loop_alone"):
        if key in parts:
            p = parts[key]
            p["reports_per_second"] = p.get("reports", n) / p["median_seconds"]
            p["reports_per_cpu_second"] = p.get("reports", n) / p["median_cpu_seconds"]
            rows.append([key, p["median_seconds"], p["reports_per_second"], p["median_cpu_seconds"],
                         p["reports_per_cpu_second"]])
    print_table(f"{n:,}-report stream, R={MAX_EPOCHS}, eta={ETA}", ["scheduler", "seconds", "reports/s", "CPU s",
                                                                      "reports/CPU s"], rows)
    if "ray_tune_asha_scheduler" in parts:
        h, r = parts["halving_asha_stop"], parts["ray_tune_asha_scheduler"]
        parts["ratio_halving_over_ray"] = h["reports_per_second"] / r["reports_per_second"]
        parts["cpu_ratio_halving_over_ray"] = h["reports_per_cpu_second"] / r["reports_per_cpu_second"]
        print(f"halving ASHAStop / Ray ASHAScheduler: {parts['ratio_halving_over_ray']:,.1f}x wall; decisions "
              f"{'identical' if r['same_decisions'] else 'DIFFERENT'}")
        targets.append(Target(f"halving reports/s over Ray Tune ASHAScheduler's ({n:,} reports)",
                              parts["ratio_halving_over_ray"], RATIO_VS_RAY, at_least=True))
    if "simulation" in parts:
        sim = parts["simulation"]
        print(f"halving.simulate asha, {sim['trials']:,} trials: {sim['median_seconds']:.2f} s")
        if sim["trials"] >= 1_000_000:
            targets.append(Target("halving.simulate of 1,000,000 trials, seconds", sim["median_seconds"],
                                  SIM_SECONDS, at_least=False))
    return targets
