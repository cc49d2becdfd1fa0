"""How fast halving decides, against Ray Tune's ASHAScheduler, and a 1M-trial simulation.

Part 1 (stream). One deterministic stream of ``--reports`` reports (1,000,000 by
default; 100k+ trials of synthetic learning curves, R = 81 epochs, eta = 3) is
fed to ``policies.ASHAStop`` and to Ray Tune's ``ASHAScheduler``, in this
process, timing only the scheduler calls.

How the stream is made (not timed). ``--concurrency`` trials run at once; at
every step one of them, picked at random, reports its next epoch (its value is
read from its synthetic curve); when the scheduler ends a trial (stop, or R
reached), a new trial takes its place. So the stream depends on the decisions:
it is recorded once by driving ``policies.ASHAStop`` through that loop, as flat
lists (trial, epoch, value, and how many new trials were admitted just before
each report). Then it is replayed, with the clock running, to

* halving: ``policy.next()`` per admitted trial and ``policy.report(trial, epoch, value)``
  per report (``policies.ASHAStop``: ASHA as a stopping rule, the algorithm Ray's
  ``ASHAScheduler`` implements);
* Ray Tune: ``on_trial_add`` per admitted trial, ``on_trial_result`` per report and,
  when it answers STOP, ``on_trial_complete`` (what Tune's controller calls for a
  running trial it stops).

Both must take the same decisions for the replay to be the stream they would
have produced themselves: the index of every report that ended a trial is
collected during each replay and compared with the recording. They agree (Ray's
rule -- stop when the value is below the ``1 - 1/eta`` percentile, linearly
interpolated, of the values recorded at the rung before it; rungs 1, 3, 9, 27;
stop at ``max_t`` -- is exactly ``ASHAStop``'s), and the script says so.

``policies.ASHA`` (with promotion: trials pause at a rung and are resumed) is not
what Ray's scheduler does, so it gets its own stream, recorded and replayed the
same way from the same curves; its rate is shown for information.

Part 2 (simulation). ``halving.simulate(curves, policy="asha", workers=1, eta=3)`` on a
``--sim-trials`` x 81 table (1,000,000 trials by default), timed with
``perf_counter`` around the call (making the table is not timed).

Every time is the median of ``--repeats`` runs (3 by default), measured twice:
wall-clock (``time.perf_counter``, the headline) and this process's CPU time
(``time.process_time``, which other work on a shared machine disturbs less).

Ray's scheduler computes a rung's cutoff with ``np.nanpercentile`` over every
value recorded at that rung, so its cost per decision grows with the number of
trials, while halving's sorted rungs cost O(log n): the ratio grows with
``--reports`` (about 15x at 20k reports, 100x at 100k). At 1M reports one Ray
pass is quadratic in practice: on this project's 2-vCPU machine it had replayed
707,692 reports after 53 minutes of CPU and was slowing (``--ray-repeats`` sets
how many passes); ``--quick`` is a smoke test, its ratio is not the target's.

Run from the repository root::

    PYTHONPATH=. python benchmarks/decide_speed.py [--quick] [--out summary.json]
"""

from __future__ import annotations

import argparse
import cProfile
import gc
import io
import json
import pstats
import sys
import time
from pathlib import Path

import numpy as np

if __package__ in (None, ""):  # run as a script: make the repository importable
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
    from _common import CurveBank, Lap, clock, lap, machine, machine_load, median_of, synthetic_curves, timed  # type: ignore[import-not-found]
else:
    from ._common import CurveBank, Lap, clock, lap, machine, machine_load, median_of, synthetic_curves, timed

import halving
import policies
from policies import DONE, WAIT, Action

MAX_EPOCHS = 81
ETA = 3


# --------------------------------------------------------------------- stream
class Stream:
    """A recorded report stream, as flat Python lists (what the timed loops iterate)."""

    def __init__(self, n: int) -> None:
        self.trial = [0] * n
        self.epoch = [0] * n
        self.value = [0.0] * n
        self.admit = [0] * n  # policy.next() calls made just before this report
        self.ends: list[int] = []  # indices of the reports that ended a trial (not CONTINUE)
        self.n_trials = 0  # trials started
        self.n_next = 0
        self.n_wait = 0
        self.n_decisions = 0

    def __len__(self) -> int:
        return len(self.trial)

    def rows(self):
        return zip(range(len(self.trial)), self.trial, self.epoch, self.value, self.admit)


def record_stream(policy: policies.Policy, n_reports: int, concurrency: int, bank: CurveBank, seed: int) -> Stream:
    """Drive ``policy`` through the asynchronous loop described above and record what it was fed."""
    policy.start(n_trials=n_reports + concurrency, max_epochs=MAX_EPOCHS, mode="max")
    picks = np.random.default_rng([seed, 1]).random(n_reports).tolist()
    s = Stream(n_reports)
    trained: dict[int, int] = {}
    active: list[list] = []  # [trial, next epoch, granted epoch, curve row]
    idle = concurrency
    pending = 0
    started = 0

    def refill() -> None:
        nonlocal idle, pending, started
        while idle:
            a = policy.next()
            pending += 1
            s.n_next += 1
            if a is WAIT or a is DONE:
                s.n_wait += 1
                return
            if a.new:
                started += 1
            active.append([a.trial, trained.get(a.trial, 0) + 1, a.until, bank.row(a.trial)])
            idle -= 1

    refill()
    report = policy.report
    for i in range(n_reports):
        if not active:
            raise RuntimeError(f"{policy!r} ran out of work after {i} reports")
        j = int(picks[i] * len(active))
        slot = active[j]
        trial, epoch, _, row = slot
        value = row[epoch - 1]
        s.trial[i] = trial
        s.epoch[i] = epoch
        s.value[i] = value
        s.admit[i] = pending
        pending = 0
        out = report(trial, epoch, value)
        trained[trial] = epoch
        slot[1] = epoch + 1
        if out:
            s.n_decisions += len(out)
            d = out[0]
            if d.action is Action.CONTINUE:
                slot[2] = d.until
            else:
                s.ends.append(i)
                active[j] = active[-1]
                active.pop()
                idle += 1
        if idle and out:
            refill()
    s.n_trials = started
    return s


# ----------------------------------------------------------------- replayers
def replay_halving(make_policy, s: Stream, n_trials: int) -> tuple[Lap, list[int]]:
    """Feed ``s`` to a fresh policy: the time of the loop of ``next``/``report`` calls, and the ends."""
    policy = make_policy()
    policy.start(n_trials=n_trials, max_epochs=MAX_EPOCHS, mode="max")
    nxt = policy.next
    report = policy.report
    CONTINUE = Action.CONTINUE
    ends: list[int] = []
    push = ends.append
    rows = s.rows()
    t0 = clock()
    for i, trial, epoch, value, admit in rows:
        while admit:
            nxt()
            admit -= 1
        out = report(trial, epoch, value)
        if out and out[0].action is not CONTINUE:
            push(i)
    return lap(t0), ends


def replay_nothing(s: Stream) -> Lap:
    """The replay loop with calls that do nothing: the share of the loop itself in the rates."""

    def nxt():
        return None

    def report(trial, epoch, value):
        return ()

    ends: list[int] = []
    push = ends.append
    rows = s.rows()
    t0 = clock()
    for i, trial, epoch, value, admit in rows:
        while admit:
            nxt()
            admit -= 1
        out = report(trial, epoch, value)
        if out and out[0] is not None:
            push(i)
    return lap(t0)


class _RayTrial:
    """Stand-in for ``ray.tune.experiment.Trial`` as ASHAScheduler sees it.

    Reading ray/tune/schedulers/async_hyperband.py (Ray 2.x): ``on_trial_add``,
    ``on_trial_result``, ``on_trial_complete`` and ``_Bracket.on_result`` read
    only ``trial.trial_id`` (a plain instance attribute on the real Trial, a str);
    ``tune_controller`` is never used on these paths, so ``None`` is passed. The
    result dict is read for ``time_attr`` and ``metric`` only, and nothing of it
    is kept, so one dict is updated in place per report (cheaper for Ray than the
    fresh, flattened, much larger dict Tune builds per result). Per report the
    scheduler still does all of its own work: the key checks, the max_t check,
    the walk over the rungs and, at a rung, ``np.nanpercentile`` over the values
    recorded there. Per admitted trial it still draws the bracket with
    ``np.random.choice``. Left out is only what Tune's controller does around
    the scheduler (search algorithm, callbacks, checkpoints, actors).
    """

    __slots__ = ("trial_id",)

    def __init__(self, trial_id: str) -> None:
        self.trial_id = trial_id


def replay_ray(s: Stream, seed: int) -> tuple[Lap, list[int]]:
    from ray.tune.schedulers import ASHAScheduler, TrialScheduler

    sched = ASHAScheduler(
        time_attr="training_iteration",
        metric="acc",
        mode="max",
        max_t=MAX_EPOCHS,
        grace_period=1,
        reduction_factor=ETA,
    )
    trials = [_RayTrial(f"3f2a9c1e_{j:05d}") for j in range(s.n_trials)]
    np.random.seed(seed)  # on_trial_add draws a bracket with np.random.choice
    add = sched.on_trial_add
    on_result = sched.on_trial_result
    complete = sched.on_trial_complete
    STOP = TrialScheduler.STOP
    result = {"training_iteration": 0, "acc": 0.0}
    ends: list[int] = []
    push = ends.append
    rows = s.rows()
    nt = 0
    t0 = clock()
    for i, trial, epoch, value, admit in rows:
        while admit:
            add(None, trials[nt])
            nt += 1
            admit -= 1
        result["training_iteration"] = epoch
        result["acc"] = value
        t = trials[trial]
        if on_result(None, t, result) == STOP:
            complete(None, t, result)
            push(i)
    return lap(t0), ends


def ray_version() -> str | None:
    try:
        import ray
    except ImportError:
        return None
    return ray.__version__


# ------------------------------------------------------------------- helpers
def _fmt_rate(x: float | None) -> str:
    return "-" if x is None else f"{x:,.0f}"


def _runs(label: str, fn, repeats: int) -> list[Lap]:
    laps = []
    for r in range(repeats):
        t = fn()
        laps.append(t)
        print(f"  {label} run {r + 1}/{repeats}: {t.wall:.3f} s (CPU {t.cpu:.3f} s)", flush=True)
    return laps


def _walls(laps: list[Lap]) -> list[float]:
    return [t.wall for t in laps]


def _cpus(laps: list[Lap]) -> list[float]:
    return [t.cpu for t in laps]


def _area(filename: str) -> str:
    f = filename.replace("\\", "/")
    for key, name in (("/policies/", "policies/"), ("/halving/", "halving/"),
                      ("/benchmarks/", "benchmark driver")):
        if key in f:
            return name
    return "builtins/other" if f.startswith("~") or "<" in f else "other Python"


def _profile(fn, top: int = 15) -> str:
    """cProfile of ``fn()``: the ``top`` functions by tottime, then tottime summed by area."""
    prof = cProfile.Profile()
    prof.enable()
    fn()
    prof.disable()
    buf = io.StringIO()
    stats = pstats.Stats(prof, stream=buf)
    stats.sort_stats("tottime").print_stats(top)
    areas: dict[str, float] = {}
    for (filename, _, _), (_, _, tottime, _, _) in stats.stats.items():  # type: ignore[attr-defined]
        areas[_area(filename)] = areas.get(_area(filename), 0.0) + tottime
    total = sum(areas.values()) or 1.0
    buf.write("tottime by area: " + ", ".join(
        f"{k} {v:.2f} s ({100 * v / total:.0f}%)" for k, v in sorted(areas.items(), key=lambda kv: -kv[1])) + "\n")
    return buf.getvalue()


# ---------------------------------------------------------------------- main
def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--reports", type=int, default=1_000_000, help="reports in the stream (default 1,000,000)")
    ap.add_argument("--trials-hint", type=int, default=None,
                    help="curves generated up front for the stream (more are made on demand; default reports/3); "
                         "the number of trials is set by the decisions and printed")
    ap.add_argument("--concurrency", type=int, default=64, help="trials running at once in the stream (default 64)")
    ap.add_argument("--sim-trials", type=int, default=1_000_000, help="trials of the simulation (default 1,000,000)")
    ap.add_argument("--repeats", type=int, default=3, help="runs per measurement; medians are reported (default 3)")
    ap.add_argument("--ray-repeats", type=int, default=None,
                    help="runs of the Ray Tune side (default: --repeats); at 1M reports one run takes tens of minutes")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--quick", action="store_true", help="CI smoke sizes: 20k reports, 20k simulated trials, 1 run")
    ap.add_argument("--skip", action="append", default=[], choices=["ray", "promotion", "sim"],
                    help="leave a part out (repeatable)")
    ap.add_argument("--profile", action="store_true",
                    help="instead of timing, print cProfile (top 15 by tottime) of the halving replays and the simulation")
    ap.add_argument("--out", type=Path, default=None, help="write a JSON summary here")
    args = ap.parse_args(argv)
    if args.quick:
        args.reports = min(args.reports, 20_000)
        args.sim_trials = min(args.sim_trials, 20_000)
        args.repeats = 1
    if args.ray_repeats is None:
        args.ray_repeats = args.repeats
    if min(args.reports, args.sim_trials, args.repeats, args.ray_repeats, args.concurrency) < 1:
        ap.error("--reports, --sim-trials, --repeats, --ray-repeats and --concurrency must be >= 1")
    skip = set(args.skip)
    rv = ray_version() if "ray" not in skip else None
    if rv is None and "ray" not in skip:
        print("ray[tune] is not installed: skipping the Ray Tune side (pip install 'halving[bench]')")
        skip.add("ray")

    summary: dict = {
        "benchmark": "decide_speed",
        "machine": machine(),
        "ray": rv,
        "params": {
            "reports": args.reports,
            "concurrency": args.concurrency,
            "max_epochs": MAX_EPOCHS,
            "eta": ETA,
            "sim_trials": args.sim_trials,
            "repeats": args.repeats,
            "ray_repeats": args.ray_repeats,
            "seed": args.seed,
        },
    }

    def save() -> None:  # after every part, so a long run that is cut short keeps what it measured
        if args.out is not None:
            summary["loadavg_now"] = machine_load()
            args.out.write_text(json.dumps(summary, indent=2) + "\n")

    # ---- the streams (not timed) --------------------------------------------
    hint = args.trials_hint if args.trials_hint is not None else args.reports // 3
    bank = CurveBank(MAX_EPOCHS, args.seed, prefetch=max(hint, 1))
    t_rec = time.perf_counter()
    stop_stream = record_stream(policies.ASHAStop(eta=ETA, min_epochs=1), args.reports, args.concurrency, bank, args.seed)
    t_rec = time.perf_counter() - t_rec
    n_trials_arg = args.reports + args.concurrency
    if stop_stream.n_wait or stop_stream.n_next != stop_stream.n_trials:
        raise RuntimeError("the stopping stream admitted something other than new trials; cannot replay it to Ray")
    print(
        f"stream: {len(stop_stream):,} reports, {stop_stream.n_trials:,} trials, "
        f"{len(stop_stream.ends):,} ended (stopped or reached R), {stop_stream.n_decisions:,} decisions; "
        f"recorded in {t_rec:.1f} s (not timed)",
        flush=True,
    )
    promo_stream = None
    if "promotion" not in skip:
        promo_stream = record_stream(policies.ASHA(eta=ETA, min_epochs=1), args.reports, args.concurrency, bank, args.seed)
        print(
            f"promotion stream: {len(promo_stream):,} reports, {promo_stream.n_trials:,} trials, "
            f"{promo_stream.n_next:,} next() calls, {promo_stream.n_decisions:,} decisions",
            flush=True,
        )
    del bank

    def asha_stop() -> policies.Policy:
        return policies.ASHAStop(eta=ETA, min_epochs=1)

    def asha() -> policies.Policy:
        return policies.ASHA(eta=ETA, min_epochs=1)

    if args.profile:
        print(f"\n== cProfile: halving ASHAStop replay of the {len(stop_stream):,}-report stream ==")
        print(_profile(lambda: replay_halving(asha_stop, stop_stream, n_trials_arg)))
        if promo_stream is not None:
            print(f"== cProfile: halving ASHA (promotion) replay of its {len(promo_stream):,}-report stream ==")
            print(_profile(lambda: replay_halving(asha, promo_stream, n_trials_arg)))
        if "sim" not in skip:
            curves = synthetic_curves(args.sim_trials, MAX_EPOCHS, args.seed)
            print(f"== cProfile: halving.simulate(policy='asha', workers=1), {args.sim_trials:,} trials x {MAX_EPOCHS} ==")
            print(_profile(lambda: halving.simulate(curves, policy="asha", workers=1, seed=args.seed, eta=ETA)))
        return 0

    # ---- part 1: halving on the stream --------------------------------------
    n = len(stop_stream)
    # rows of the table: (name, reports, wall-clock laps, CPU laps)
    rows: list[tuple[str, int, list[Lap]]] = []
    loop_laps = _runs("replay loop, no-op calls", lambda: replay_nothing(stop_stream), args.repeats)

    def run_stop() -> Lap:
        t, ends = replay_halving(asha_stop, stop_stream, n_trials_arg)
        if ends != stop_stream.ends:
            raise RuntimeError("halving's replay ended trials the recording did not: the replay is not deterministic")
        return t

    stop_laps = _runs("halving ASHAStop", run_stop, args.repeats)
    rows.append(("halving policies.ASHAStop", n, stop_laps))
    summary["stream"] = {
        "reports": n,
        "trials": stop_stream.n_trials,
        "ended": len(stop_stream.ends),
        "loop_seconds": _walls(loop_laps),
        "halving_asha_stop_seconds": _walls(stop_laps),
        "halving_asha_stop_cpu_seconds": _cpus(stop_laps),
    }
    save()

    promo_laps: list[Lap] = []
    if promo_stream is not None:

        def run_promo() -> Lap:
            t, ends = replay_halving(asha, promo_stream, n_trials_arg)
            if ends != promo_stream.ends:
                raise RuntimeError("halving's replay of the promotion stream is not deterministic")
            return t

        promo_laps = _runs("halving ASHA (promotion)", run_promo, args.repeats)
        summary["stream"]["halving_asha_promotion_seconds"] = _walls(promo_laps)
        summary["stream"]["halving_asha_promotion_cpu_seconds"] = _cpus(promo_laps)
        summary["stream"]["promotion_trials"] = promo_stream.n_trials
        save()

    # ---- part 2: the simulation ---------------------------------------------
    sim = None
    if "sim" not in skip:
        t_gen = time.perf_counter()
        curves = synthetic_curves(args.sim_trials, MAX_EPOCHS, args.seed)
        t_gen = time.perf_counter() - t_gen
        print(f"simulation table: {curves.shape[0]:,} x {curves.shape[1]} float64 ({curves.nbytes / 1e6:,.0f} MB), "
              f"made in {t_gen:.1f} s (not timed)", flush=True)
        sim_info: dict = {}

        def run_sim() -> Lap:
            sim_info.clear()
            t, res = timed(lambda: halving.simulate(curves, policy="asha", workers=1, seed=args.seed, eta=ETA))
            sim_info.update(
                decisions=len(res.decisions),
                reports=res.reports.n_reports,
                epochs_used=res.epochs_used,
                best_trial=res.best_trial,
                n_completed=res.n_completed,
            )
            del res
            gc.collect()
            return t

        sim_laps = _runs(f"halving.simulate {args.sim_trials:,} trials", run_sim, args.repeats)
        sim = {
            "trials": args.sim_trials,
            "seconds": _walls(sim_laps),
            "cpu_seconds": _cpus(sim_laps),
            "median_seconds": median_of(_walls(sim_laps)),
            "median_cpu_seconds": median_of(_cpus(sim_laps)),
            **sim_info,
        }
        sim["decisions_per_second"] = sim["decisions"] / sim["median_seconds"]
        sim["reports_per_second"] = sim["reports"] / sim["median_seconds"]
        summary["simulation"] = sim
        save()
        del curves

    # ---- part 1, Ray Tune's side (last: it is by far the slowest) -----------
    if "ray" not in skip:
        ray_laps: list[Lap] = []
        ray_ends: list[int] = []
        for r in range(args.ray_repeats):
            t, ray_ends = replay_ray(stop_stream, args.seed)
            ray_laps.append(t)
            print(f"  Ray Tune ASHAScheduler run {r + 1}/{args.ray_repeats}: {t.wall:.3f} s (CPU {t.cpu:.3f} s)",
                  flush=True)
            summary["stream"]["ray_seconds"] = _walls(ray_laps)
            summary["stream"]["ray_cpu_seconds"] = _cpus(ray_laps)
            save()
        same = ray_ends == stop_stream.ends
        rows.append(("Ray Tune ASHAScheduler", n, ray_laps))
        summary["stream"]["same_decisions"] = same
        if not same:
            first = next((k for k, (a, b) in enumerate(zip(ray_ends, stop_stream.ends)) if a != b), None)
            print(
                f"WARNING: Ray ended {len(ray_ends):,} trials, halving {len(stop_stream.ends):,}; "
                f"first difference at end #{first}: the two rates are of slightly different streams"
            )
    if promo_stream is not None:
        rows.append(("halving policies.ASHA (promotion) *", len(promo_stream), promo_laps))

    # ---- table --------------------------------------------------------------
    print()
    print(f"Part 1: {n:,}-report stream, {stop_stream.n_trials:,} trials, R={MAX_EPOCHS}, eta={ETA}, "
          f"{args.concurrency} running; medians of {args.repeats} runs"
          + (f" (Ray: {args.ray_repeats})" if "ray" not in skip else ""))
    print(f"  {'scheduler':38s} {'seconds':>10s} {'reports/s':>14s} {'CPU s':>10s} {'reports/CPU s':>14s}")
    rates: dict[str, float] = {}
    cpu_rates: dict[str, float] = {}
    for name, count, laps in rows + [("(replay loop alone, no-op calls)", n, loop_laps)]:
        wall, cpu = median_of(_walls(laps)), median_of(_cpus(laps))
        print(f"  {name:38s} {wall:10.3f} {_fmt_rate(count / wall):>14s} {cpu:10.3f} {_fmt_rate(count / cpu):>14s}")
        rates[name.rstrip(" *")] = count / wall
        cpu_rates[name.rstrip(" *")] = count / cpu
    summary["stream"]["reports_per_second"] = rates
    summary["stream"]["reports_per_cpu_second"] = cpu_rates
    if "Ray Tune ASHAScheduler" in rates:
        ratio = rates["halving policies.ASHAStop"] / rates["Ray Tune ASHAScheduler"]
        cpu_ratio = cpu_rates["halving policies.ASHAStop"] / cpu_rates["Ray Tune ASHAScheduler"]
        summary["stream"]["ratio_halving_over_ray"] = ratio
        summary["stream"]["cpu_ratio_halving_over_ray"] = cpu_ratio
        verdict = "identical" if summary["stream"]["same_decisions"] else "DIFFERENT"
        print(f"  ratio halving ASHAStop / Ray ASHAScheduler: {ratio:,.1f}x wall, {cpu_ratio:,.1f}x CPU "
              f"(target >= 100x; decisions {verdict})")
    if promo_stream is not None:
        print(f"  * ASHA with promotion is another algorithm: its own stream ({promo_stream.n_trials:,} trials), "
              "same curves, same loop")
    if sim is not None:
        w = sim["median_seconds"]
        print()
        print(f"Part 2: halving.simulate(policy='asha', eta={ETA}, workers=1), {sim['trials']:,} trials x {MAX_EPOCHS}; "
              f"median of {args.repeats} runs")
        print(f"  {w:.2f} s (CPU {sim['median_cpu_seconds']:.2f} s; target < 30 s at 1M trials); "
              f"{sim['decisions']:,} decisions ({_fmt_rate(sim['decisions_per_second'])}/s); "
              f"{sim['reports']:,} reports ({_fmt_rate(sim['reports_per_second'])}/s)")
    if args.out is not None:
        save()
        print(f"\nwrote {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
