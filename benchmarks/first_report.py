"""Time to first report: from launching ``halving run`` (and from calling ``tune()``) to the
first report in the log, against a floor measured the same way.

The issue: "the time from launching ``halving run`` (and from calling ``tune()``) to the
first logged report, against a floor measured the same way: a fresh process that imports
Ray and the trainable's module, starts Ray, and gets one answer from one actor that has
imported that module. Target: first report within 1.3x the floor for the SGD, MLP and CNN
examples."

For each bundled example, every repeat launches three fresh processes, in turn:

* ``floor``: imports Ray and the example's module, starts a local Ray as ``halving`` does
  (loopback), creates one actor that imports the module and answers with the time;
* ``cli``: ``python -m halving.cli run EXAMPLE --trials T --max-epochs E --workers W``
  (what the ``halving`` command runs); its first report's time is read back from its log;
* ``tune``: a script that imports halving and the example and calls ``tune()`` twice on
  the same settings: the first call starts Ray and the workers, the second finds them
  warm (``tune()`` keeps them by default on a Ray it started for this process).

Every time is taken from the moment the parent launched the process (``time.time()`` on
the same machine's clock); a report's time is the one the worker logged at the end of
that epoch. ``floor`` ratios are the medians' ratios. Small ``--trials`` and
``--max-epochs`` keep each run short: only the first report is measured.
"""

from __future__ import annotations

import argparse
import importlib
import importlib.util
import json
import os
import subprocess
import sys
import tempfile
import time
from typing import Any

from .results import Target
from .table import print_table
from .timing import median

TARGET = 1.3
EXAMPLES = ("sgd-digits", "mlp-digits", "cnn-mnist1d")
_MARK = "FIRST_REPORT "


def add_arguments(ap: argparse.ArgumentParser) -> None:
    ap.add_argument("--examples", default=",".join(EXAMPLES), help="bundled examples, comma-separated")
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--trials", type=int, default=4)
    ap.add_argument("--max-epochs", type=int, default=3)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--timeout", type=float, default=300.0, help="seconds one launched process may take")
    ap.add_argument("--child", nargs=3, metavar=("KIND", "EXAMPLE", "LAUNCHED"), help=argparse.SUPPRESS)
    ap.add_argument("--quick", action="store_true", help="smoke run: sgd-digits only, 1 repeat")


# ------------------------------------------------------------------ the children
def _module_of(example: str) -> tuple[str, str]:
    from halving.examples import EXAMPLES as REGISTRY

    module, _, attr = REGISTRY[example].partition(":")
    return module, attr


def _floor(example: str, launched: float) -> dict:
    """A fresh process: import Ray and the module, start Ray, one answer from one actor that imported it."""
    import ray

    module, _ = _module_of(example)
    importlib.import_module(module)
    from halving.backends.ray_cluster import start_local

    start_local(log_to_driver=False)

    @ray.remote(num_cpus=1)
    class Probe:
        def load(self, name: str) -> float:
            importlib.import_module(name)
            return time.time()

    loaded = ray.get(Probe.remote().load.remote(module))
    answered = time.time()
    ray.shutdown()
    return {"floor": answered - launched, "actor_loaded": loaded - launched}


def _first_report(table: Any) -> float:
    return min(table.column("time").to_pylist())


def _tune(example: str, launched: float, args: argparse.Namespace) -> dict:
    """A fresh process calling tune() twice: cold (Ray and workers started by it), then warm."""
    from halving.examples import DEFAULTS

    import halving

    module, attr = _module_of(example)
    mod = importlib.import_module(module)
    imported = time.time()
    kw = {**DEFAULTS[example], "trials": args.trials, "max_epochs": args.max_epochs, "workers": args.workers}
    out: dict[str, Any] = {"imported": imported - launched}
    pids = []
    with tempfile.TemporaryDirectory(prefix="bench-first-") as d:
        for call in ("cold", "warm"):
            t_call = time.time()
            result = halving.tune(getattr(mod, attr), mod.space, run_dir=os.path.join(d, call), **kw)
            done = time.time()
            first = _first_report(result.table())
            out[f"{call}_from_call"] = first - t_call
            out[f"{call}_call_seconds"] = done - t_call
            pids.append(result.backend_stats.get("worker_pids"))
            if call == "cold":
                out["cold_from_launch"] = first - launched
    out["same_worker_pids"] = pids[0] is not None and pids[0] == pids[1]
    return out


# ------------------------------------------------------------------ the parent
def _launch(cmd: list[str], timeout: float) -> tuple[float, subprocess.CompletedProcess | str]:
    launched = time.time()
    try:
        return launched, subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        return launched, f"timed out after {timeout} s"


def _child(kind: str, example: str, args: argparse.Namespace) -> dict:
    cmd = [sys.executable, "-m", "benchmarks", "first_report", "--trials", str(args.trials), "--max-epochs",
           str(args.max_epochs), "--workers", str(args.workers), "--child", kind, example, "LAUNCHED"]
    launched = time.time()
    cmd[-1] = repr(launched)
    try:
        out = subprocess.run(cmd, capture_output=True, text=True, timeout=args.timeout)
    except subprocess.TimeoutExpired:
        return {"error": f"timed out after {args.timeout} s"}
    for line in reversed(out.stdout.splitlines()):
        if line.startswith(_MARK):
            return json.loads(line[len(_MARK):])
    return {"error": (out.stderr or out.stdout)[-2000:]}


def _cli(example: str, args: argparse.Namespace) -> dict:
    from halving.eventlog import read_events

    with tempfile.TemporaryDirectory(prefix="bench-first-cli-") as d:
        run_dir = os.path.join(d, "run")
        launched, out = _launch([sys.executable, "-m", "halving.cli", "run", example, "--trials", str(args.trials),
                                 "--max-epochs", str(args.max_epochs), "--workers", str(args.workers),
                                 "--run-dir", run_dir, "--quiet"], args.timeout)
        ended = time.time()
        if isinstance(out, str) or out.returncode != 0:
            return {"error": out if isinstance(out, str) else (out.stderr or out.stdout)[-2000:]}
        events = read_events(run_dir).to_pydict()
        first = {k: min(t for t, kind in zip(events["time"], events["kind"]) if kind == want)
                 for k, want in (("report", "report"), ("started", "experiment_started"))}
    return {"cli": first["report"] - launched, "log_started": first["started"] - launched,
            "process_seconds": ended - launched}


def examples_importable() -> dict[str, str]:
    """The bundled examples are ``halving.examples`` only once the package is installed (the
    README's ``pip install -e .`` maps examples/ to it); a bare source checkout is refused."""
    try:
        if importlib.util.find_spec("halving.examples") is not None:
            return {}
    except ModuleNotFoundError:
        pass
    raise SystemExit("first_report launches `halving run EXAMPLE`, which needs halving installed: "
                     "run `pip install -e .` first")


def run(args: argparse.Namespace) -> tuple[dict | None, list[Target]]:
    if args.child:
        kind, example, launched = args.child
        r = _floor(example, float(launched)) if kind == "floor" else _tune(example, float(launched), args)
        print(_MARK + json.dumps(r), flush=True)
        return None, []
    if args.quick:
        args.examples, args.repeats = "sgd-digits", 1
    env = examples_importable()
    names = [n.strip() for n in args.examples.split(",") if n.strip()]
    runs: dict[str, dict[str, list[dict]]] = {n: {"floor": [], "cli": [], "tune": []} for n in names}
    for rep in range(args.repeats):
        for n in names:
            # Alternated, so that a slow spell of the machine does not fall on one kind only.
            for kind in ("floor", "cli", "tune")[:: 1 if rep % 2 == 0 else -1]:
                r = _cli(n, args) if kind == "cli" else _child(kind, n, args)
                runs[n][kind].append(r)
                print(f"[repeat {rep + 1}/{args.repeats}] {n} {kind}: {r}", flush=True)
    summary: dict[str, Any] = {}
    targets: list[Target] = []
    rows = []
    for n in names:
        s = {k: median(r.get(k) for r in runs[n][kind]) for kind, keys in
             (("floor", ("floor", "actor_loaded")), ("cli", ("cli", "log_started", "process_seconds")),
              ("tune", ("cold_from_launch", "cold_from_call", "warm_from_call", "imported")))
             for k in keys}
        s["cli_over_floor"] = s["cli"] / s["floor"]
        s["tune_cold_over_floor"] = s["cold_from_launch"] / s["floor"]
        s["same_worker_pids_every_repeat"] = all(r.get("same_worker_pids") for r in runs[n]["tune"])
        summary[n] = s
        rows.append([n, s["floor"], s["cli"], s["cli_over_floor"], s["cold_from_launch"],
                     s["tune_cold_over_floor"], s["cold_from_call"], s["warm_from_call"]])
        targets.append(Target(f"{n}: first report of halving run / floor", s["cli_over_floor"], TARGET,
                              at_least=False))
        targets.append(Target(f"{n}: first report of a fresh tune() / floor", s["tune_cold_over_floor"], TARGET,
                              at_least=False))
    print_table(f"Seconds to the first report (medians of {args.repeats}; --trials {args.trials} --max-epochs "
                f"{args.max_epochs} --workers {args.workers})",
                ["example", "floor", "halving run", "/ floor", "tune() from launch", "/ floor",
                 "tune() from its call", "2nd tune() from its call"], rows)
    return {"params": vars(args), "environment": env, "summary": summary, "runs": runs}, targets
