"""Quality per budget on real training: every tool samples its own configurations, under
the same total epochs.

The issue: "quality per budget on real training (SGD and MLP on digits with wider
spaces where the sampler matters, the CNN on MNIST-1D, the MLP on Fashion-MNIST):
halving tpe/bohb with ASHA and Hyperband against halving random and against Optuna
TPESampler with HyperbandPruner, plus Syne Tune's BOHB and the dehb package where
they install here; equal total epochs for every tool. Target: best validation (and
test) accuracy at least every peer's on every workload, and above halving random on
at least two of them."

Workloads (``benchmarks.workloads``): sgd-wide and mlp-wide (the digits models over
the wide spaces ``SGD_WIDE_SPACE``/``MLP_WIDE_SPACE``), cnn and fashion (their
benchmark spaces). Tools, each sampling from the same space translated into its own
(R = ``--max-epochs``, eta = ``--eta``, min epochs 1):

* halving: ``tune(policy="asha" | "hyperband", sampler=S, budget=B)`` for each sampler S of
  ``--samplers`` (``random`` is tune()'s default), ``--workers`` Ray workers. ASHA gets
  ``trials=B``, more than B epochs can start, so the budget is what ends its run; Hyperband
  gets the trials of as many whole Hyperband iterations as B epochs pay for (started
  together, its brackets would otherwise spend B on their lowest rungs).
  With ``--in-process``, the search runs under ``halving.simulate`` with the workload trained
  in this process (``adapters.halving_in_process``): the same training, scheduled on
  ``--workers`` simulated workers in virtual time where every epoch costs one unit, so a
  seed's run is exactly repeatable. On Ray, epochs of different configs take different
  times and reports arrive in that order, so the two modes are different experiments on the
  same models: their figures are not pooled;
* Optuna: ``TPESampler(seed)`` with ``HyperbandPruner``, ask-and-tell, one trial at a time;
* Syne Tune: ``BOHB`` (ASHA with its KDE searcher), its scheduler driven in this process;
* dehb: ``DEHB`` through ask/tell, one worker (promotions continue from their state).

Peers train in this process with BLAS and torch at one thread (like one Ray worker),
through an ``EpochBudget``: each stops when B epochs are trained. Syne Tune and dehb
are optional; absent, each is recorded as "not installed: <how to install>".

Per run: best validation accuracy among the trials that trained all R epochs, the test
accuracy of that trial, epochs trained, trials started, trials reaching R, and the best
value at R against epochs spent. Per workload: medians over the seeds (and every seed's
value), and for each halving sampler-and-policy variant the difference to each peer and
to halving random under the same policy. Quality is not timed, so the machine's load
does not bias it (``TIMED = False``: targets are judged whatever the load).
"""

from __future__ import annotations

import argparse
import contextlib
import math
import tempfile
import time
import warnings

import numpy as np

import halving
import policies

from .adapters import (NotInstalled, Outcome, dehb_search, halving_in_process, halving_tune, optuna_study,
                       syne_tune_bohb)
from .ray_session import start_ray, stop_ray
from .results import Target
from .table import print_table
from .timing import median
from .workloads import ModelWorkload, Unavailable, make

#: Quality is not a time: a loaded machine trains the same epochs to the same accuracies.
TIMED = False
WORKLOADS = ("sgd-wide", "mlp-wide", "cnn", "fashion")
POLICIES = ("asha", "hyperband")
PEERS = {"optuna": ("TPESampler+HyperbandPruner", None),
         "syne_tune": ("BOHB", syne_tune_bohb),
         "dehb": ("DEHB", dehb_search)}
METRIC, TEST = "val_accuracy", "test_accuracy"


def add_arguments(ap: argparse.ArgumentParser) -> None:
    ap.add_argument("--workloads", "--workload", default=",".join(WORKLOADS),
                    help=f"comma-separated, of {','.join(WORKLOADS)} (and sgd, mlp); default all")
    ap.add_argument("--seeds", type=int, default=5, help="seeds of every workload (0..N-1)")
    ap.add_argument("--budget", type=int, default=None,
                    help="total epochs of every tool's run (default: one Hyperband iteration, 357 at R=27, eta=3)")
    ap.add_argument("--max-epochs", type=int, default=27, help="R: the epochs of a fully trained trial")
    ap.add_argument("--eta", type=int, default=3)
    ap.add_argument("--workers", type=int, default=2, help="halving's Ray workers")
    ap.add_argument("--cpus", type=int, default=2, help="CPUs of the local Ray")
    ap.add_argument("--samplers", "--sampler", default="random,tpe,bohb",
                    help="halving's samplers (tune(sampler=...)), comma-separated; 'random' is its default")
    ap.add_argument("--peers", default=",".join(PEERS), help=f"comma-separated, of {','.join(PEERS)}")
    ap.add_argument("--max-minutes", type=float, default=60.0,
                    help="skip a (workload, seed) block that would end later than this from the start")
    ap.add_argument("--in-process", action="store_true",
                    help="halving's runs train in this process under halving.simulate (virtual time, one unit "
                         "per epoch, --workers simulated workers, no Ray): exactly repeatable per seed, so many "
                         "seeds are cheap")
    ap.add_argument("--quick", action="store_true",
                    help="smoke run: sgd-wide, 1 seed, R=3, budget 30")
    ap.add_argument("--plot", default=None, help="also draw best value at R against epochs spent to this PNG")


def tool_list(samplers: list[str], peers: list[str]) -> list[tuple[str, str, str]]:
    """``(tool, policy, sampler)`` of every run of a block, halving's first."""
    runs = [("halving", p, s) for s in samplers for p in POLICIES]
    return runs + [(peer, PEERS[peer][0], "own") for peer in peers]


def hyperband_iteration(max_epochs: int, eta: int) -> tuple[int, int]:
    """The trials of one Hyperband iteration and the epochs they train (promoted trials resume:
    a rung costs its trials times the epochs from the previous rung)."""
    trials = epochs = 0
    for _, n, levels in policies.hyperband_brackets(max_epochs, eta):
        trials += n
        prev = 0
        for level in levels:
            epochs += n * (level - prev)
            n, prev = max(1, n // eta), level
    return trials, epochs


def halving_trials(policy: str, budget: int, max_epochs: int, eta: int) -> int:
    if policy == "hyperband":
        trials, epochs = hyperband_iteration(max_epochs, eta)
        return trials * math.ceil(budget / epochs)
    return budget


def _curve(o: Outcome, max_epochs: int, sign: float) -> list[tuple[int, float]]:
    """halving's best value at R against epochs spent, from its reports in time order."""
    cols = o.table.to_pydict()
    rows = sorted(zip(cols["time"], cols["epoch"], cols[METRIC]), key=lambda r: r[0])  # stable: log order in ties
    best, out = None, []
    for k, (_, epoch, v) in enumerate(rows, 1):
        if epoch == max_epochs and (best is None or sign * v > sign * best):
            best = v
            out.append((k, v))
    return out


def run_one(w: ModelWorkload, tool: str, policy: str, sampler: str, seed: int, args: argparse.Namespace) -> Outcome:
    kw = {"budget": args.budget, "max_epochs": args.max_epochs, "eta": args.eta, "seed": seed}
    if tool == "halving":
        trials = halving_trials(policy, args.budget, args.max_epochs, args.eta)
        if args.in_process:
            o = halving_in_process.run(w, halving_tune.policy_argument(policy, args.eta, seed), trials=trials,
                                       workers=args.workers, sampler=sampler, **kw)
        else:
            o = halving_tune.run(w, policy, trials=trials, workers=args.workers, sampler=sampler, **kw)
        cols = o.table.to_pydict()
        o.extra.setdefault("trials_started", len(set(cols["trial"])))
        o.extra["curve"] = _curve(o, args.max_epochs, 1.0)
        return o
    if tool == "optuna":
        return optuna_study.run_sampled(w, **kw)
    return PEERS[tool][1].run(w, **kw)


def _run_logged(w: ModelWorkload, tool: str, policy: str, sampler: str, seed: int, args: argparse.Namespace) -> dict:
    head = f"[{w.name} seed {seed}] {tool} {policy}" + (f" sampler={sampler}" if tool == "halving" else "")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # scikit-learn's convergence and overflow warnings of poor configs
            o = run_one(w, tool, policy, sampler, seed, args)
        r = {**o.summary(METRIC, TEST), "sampler": sampler}
        for k in ("engine_wall", "round_trips", "configs"):
            r.pop(k, None)
        print(f"{head}: best val {r['best_val']}, test {r['test']}, epochs {r['epochs']}, "
              f"trials {r.get('trials_started')}, at R {r['reached_R']}, wall {r['wall']:.1f} s", flush=True)
    except Exception as exc:  # noqa: BLE001 - one failed run must not end the benchmark
        r = {"tool": tool, "policy": policy, "sampler": sampler, "wall": None, "best_val": None, "test": None,
             "epochs": None, "error": f"{type(exc).__name__}: {exc}"[:500]}
        print(f"{head}: FAILED {r['error']}", flush=True)
    return {"workload": w.name, "seed": seed, **r}


def label(r: dict) -> str:
    return f"halving {r['policy']} {r['sampler']}" if r["tool"] == "halving" else f"{r['tool']} {r['policy']}"


def summarise(runs: list[dict]) -> list[dict]:
    """Per workload and tool: medians over seeds, with every seed's value."""
    rows = []
    for wname in dict.fromkeys(r["workload"] for r in runs):
        groups: dict[str, list[dict]] = {}
        for r in runs:
            if r["workload"] == wname and r.get("best_val") is not None:
                groups.setdefault(label(r), []).append(r)
        for name, g in groups.items():
            rows.append({"workload": wname, "tool": name, "seeds": len(g),
                         "best_val": median(r["best_val"] for r in g), "test": median(r["test"] for r in g),
                         "epochs": median(r["epochs"] for r in g),
                         "trials_started": median(r["trials_started"] for r in g),
                         "reached_R": median(r["reached_R"] for r in g),
                         "per_seed_best_val": {r["seed"]: r["best_val"] for r in g},
                         "per_seed_test": {r["seed"]: r["test"] for r in g}})
    return rows


#: Seeds a side needs for a gap interval (equal distributions then give one excluding 0 about 3.5% of the time).
MIN_SEEDS_FOR_INTERVAL = 5


def median_gap_interval(a: list[float], b: list[float], *, level: float = 0.95, draws: int = 4000,
                        seed: int = 0) -> tuple[float, float] | None:
    """A bootstrap interval of ``median(a) - median(b)``: each side's seeds resampled with
    replacement ``draws`` times (from a generator seeded by ``seed``, so a result file's
    interval is repeatable). None when either side has fewer than ``MIN_SEEDS_FOR_INTERVAL``
    values: below that a percentile bootstrap of a median covers far less than ``level``
    (with 2 seeds a side, two samples of one distribution are "told apart" 30% of the time)."""
    if min(len(a), len(b)) < MIN_SEEDS_FOR_INTERVAL:
        return None
    rng = np.random.default_rng(seed)
    xa, xb = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    gaps = (np.median(xa[rng.integers(0, len(xa), (draws, len(xa)))], axis=1)
            - np.median(xb[rng.integers(0, len(xb), (draws, len(xb)))], axis=1))
    lo, hi = np.quantile(gaps, [(1 - level) / 2, (1 + level) / 2])
    return float(lo), float(hi)


#: Accuracies are counts over at most 10,000 examples, kept as float32 by some workloads: two
#: medians of equal counts can differ by ~1e-8 (0.834 + 0.835 against 0.832 + 0.837, halved).
#: Gaps are rounded to this many decimals, so such a tie is a tie and not a loss.
GAP_DECIMALS = 6


def _gap(a: float, b: float) -> float:
    return round(a - b, GAP_DECIMALS) + 0.0  # + 0.0: no -0.0 in the tables


def comparisons(rows: list[dict], samplers: list[str]) -> list[dict]:
    """For each workload and halving variant: its median best val and test minus each peer's
    and minus halving random's under the same policy, with a bootstrap 95% interval of the
    val gap to the best peer when both rows hold every seed's value (5 or more). An interval
    that holds 0 says the seeds do not tell the two apart. It is not adjusted for picking the
    best peer by the same medians, nor for the number of comparisons: read it as a guide."""
    by = {(r["workload"], r["tool"]): r for r in rows}
    out = []
    for wname in dict.fromkeys(r["workload"] for r in rows):
        peers = [r for r in rows if r["workload"] == wname and not r["tool"].startswith("halving")]
        for s in samplers:
            for p in POLICIES:
                h = by.get((wname, f"halving {p} {s}"))
                if h is None:
                    continue
                base = by.get((wname, f"halving {p} random"))
                best_peer = max(peers, key=lambda q: q["best_val"]) if peers else None
                interval = None
                if best_peer is not None and all("per_seed_best_val" in r for r in (h, best_peer)):
                    interval = median_gap_interval(list(h["per_seed_best_val"].values()),
                                                   list(best_peer["per_seed_best_val"].values()))
                out.append({"workload": wname, "halving": f"{p} {s}",
                            "val_minus_best_peer": _gap(h["best_val"], max(q["best_val"] for q in peers)) if peers else None,
                            "test_minus_best_peer": _gap(h["test"], max(q["test"] for q in peers)) if peers else None,
                            "best_peer_val": best_peer["tool"] if best_peer else None,
                            "val_gap_95": None if interval is None else [round(x, 4) for x in interval],
                            "val_minus_random": None if base is None or s == "random" else _gap(h["best_val"], base["best_val"]),
                            "test_minus_random": None if base is None or s == "random" else _gap(h["test"], base["test"])})
    return out


def targets(comps: list[dict], n_workloads: int, samplers: list[str]) -> list[Target]:
    """Per halving variant with a model-based sampler: on how many workloads its median best val
    (and test) is at least every peer's, and above halving random's."""
    out = []
    for s in (x for x in samplers if x != "random"):
        for p in POLICIES:
            cs = [c for c in comps if c["halving"] == f"{p} {s}"]
            if not cs:
                continue
            for what in ("val", "test"):
                ahead = [c for c in cs if c[f"{what}_minus_best_peer"] is not None]
                out.append(Target(f"halving {p} {s}: workloads where its median best {what} >= every peer's",
                                  float(sum(c[f"{what}_minus_best_peer"] >= 0 for c in ahead)), float(n_workloads),
                                  at_least=True))
            out.append(Target(f"halving {p} {s}: workloads where its median best val > halving {p} random's",
                              float(sum((c["val_minus_random"] or 0) > 0 for c in cs)), 2.0, at_least=True))
    return out


def _peers_installed(peers: list[str], skipped: list[str]) -> tuple[list[str], dict[str, str]]:
    kept, versions = [], {}
    for peer in peers:
        if peer not in PEERS:
            raise SystemExit(f"unknown peer {peer!r}: choose from {', '.join(PEERS)}")
        module = PEERS[peer][1]
        if module is None:
            kept.append(peer)
            continue
        try:
            versions[peer] = module.version()
            kept.append(peer)
        except NotInstalled as exc:
            skipped.append(f"{peer}: {exc}")
            print(skipped[-1], flush=True)
    return kept, versions


def _blocks(workloads: dict[str, ModelWorkload], tools: list[tuple[str, str, str]], args: argparse.Namespace,
            skipped: list[str]) -> list[dict]:
    began, runs, took = time.perf_counter(), [], {}
    for seed in range(args.seeds):
        for name, w in workloads.items():
            elapsed = time.perf_counter() - began
            if name in took and elapsed + median(took[name]) > 60 * args.max_minutes:
                skipped.append(f"{name} seed {seed}: about {median(took[name]):.0f} s more would pass --max-minutes "
                               f"({elapsed:.0f} s gone)")
                print(skipped[-1], flush=True)
                continue
            b0 = time.perf_counter()
            with contextlib.nullcontext() if args.in_process else halving.reuse_workers():
                # halving's runs of a block share their worker processes
                runs += [_run_logged(w, *t, seed, args) for t in tools if t[0] == "halving"]
            runs += [_run_logged(w, *t, seed, args) for t in tools if t[0] != "halving"]
            took.setdefault(name, []).append(time.perf_counter() - b0)
    return runs


def run(args: argparse.Namespace) -> tuple[dict, list[Target]]:
    if args.quick:
        args.workloads, args.seeds, args.max_epochs, args.budget = "sgd-wide", 1, 3, 30
    if args.budget is None:
        args.budget = hyperband_iteration(args.max_epochs, args.eta)[1]
    names = [n.strip() for n in args.workloads.split(",") if n.strip()]
    samplers = [s.strip() for s in args.samplers.split(",") if s.strip()]
    for s in samplers:  # a sampler this halving does not know stops the run before anything trains
        try:
            halving_tune.sampler_argument(s)
        except ValueError as exc:
            raise SystemExit(f"--samplers: {exc}") from None
    if args.budget < args.max_epochs:
        raise SystemExit(f"--budget {args.budget} is less than --max-epochs {args.max_epochs}: no trial could finish")
    skipped: list[str] = []
    peers, peer_versions = _peers_installed([p.strip() for p in args.peers.split(",") if p.strip()], skipped)
    tools = tool_list(samplers, peers)
    with tempfile.TemporaryDirectory(prefix="quality-") as scratch:
        workloads = {}
        for n in names:
            try:
                workloads[n] = make(n, scratch=scratch)
            except Unavailable as exc:
                skipped.append(str(exc))
                print(exc, flush=True)
        if args.in_process:
            runs = _blocks(workloads, tools, args, skipped)
        else:
            start_ray(args.cpus, quiet=True)
            try:
                runs = _blocks(workloads, tools, args, skipped)
            finally:
                stop_ray()
    rows = summarise(runs)
    cols = ["workload", "tool", "seeds", "best_val", "test", "epochs", "trials_started", "reached_R"]
    print_table(f"budget {args.budget} epochs per run, R={args.max_epochs}, eta={args.eta}; medians over seeds",
                cols, [[r[c] for c in cols] for r in rows])
    comps = comparisons(rows, samplers)
    ccols = ["workload", "halving", "val_minus_best_peer", "val_gap_95", "test_minus_best_peer", "best_peer_val",
             "val_minus_random", "test_minus_random"]
    print_table("halving variant minus the best peer, and minus halving random (same policy); medians",
                ccols, [[c[k] for k in ccols] for c in comps])
    if args.plot:
        from .plot import quality_plot

        quality_plot(args.plot, runs, args.budget)
    return {"params": vars(args), "peer_versions": peer_versions, "skipped": skipped, "summary": rows,
            "comparisons": comps, "runs": runs}, targets(comps, len({r["workload"] for r in rows}), samplers)
