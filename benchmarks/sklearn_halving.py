"""halving.sklearn.HalvingSearchCV against scikit-learn's HalvingRandomSearchCV, same candidates.

The issue: "the same candidates through HalvingSearchCV and scikit-learn's
HalvingRandomSearchCV (SGDClassifier on digits; GradientBoostingClassifier with
warm-started n_estimators on breast_cancer): best score, test score, training work
(epochs or estimators fitted) and wall time, ratios in one run."

Workloads ``sgd-cv`` and ``gbc`` (``benchmarks.workloads``): 81 candidates drawn by
both with ``ParameterSampler(space, 81, random_state=seed)`` (checked), a stratified
75/25 train/test split and the same ``StratifiedKFold(3, shuffle=True)`` folds.
scikit-learn's resource is ``max_iter`` (sgd, ``tol=None``) or ``n_estimators``
(gbc), so both follow the same 81/27/9/3 schedule in the same unit; it refits every
survivor from scratch, halving continues training. halving runs ``asha`` and
``sha`` with 2 workers on a local Ray of 2 CPUs, scikit-learn with ``n_jobs=2``.
Ray and joblib's workers are started once beforehand and excluded (a ratio with
Ray's start is given too). Medians of ``--repeats`` (seeds 0, 1, ...; the tools
rotate who goes first).
"""

from __future__ import annotations

import argparse
import os
import tempfile
import warnings
from typing import Any

from .adapters import halving_tune, sklearn_search
from .ray_session import start_ray, stop_ray
from .results import Target
from .table import print_table
from .timing import median
from .workloads import SearchWorkload, make

RATIO_KEYS = ("work", "wall", "wall_with_ray_start", "best_diff", "test_diff")


def add_arguments(ap: argparse.ArgumentParser) -> None:
    ap.add_argument("--quick", action="store_true", help="smoke sizes: 9 candidates, R = 9, one repeat")
    ap.add_argument("--repeats", type=int, default=None, help="runs per tool (default 3; 1 with --quick)")
    ap.add_argument("--workloads", default="sgd-cv,gbc")
    ap.add_argument("--policies", default="asha,sha", help="halving policies to run")
    ap.add_argument("--workers", type=int, default=2)


def _same(a: list[dict], b: list[dict]) -> bool:
    def key(params: dict) -> tuple:
        return tuple(sorted((k, repr(v)) for k, v in params.items()))

    return sorted(map(key, a)) == sorted(map(key, b))


def _repeat(w: SearchWorkload, seed: int, tools: list[str], workers: int, run_root: str) -> dict[str, dict]:
    from sklearn.model_selection import StratifiedKFold, train_test_split

    split = train_test_split(w.X, w.y, test_size=0.25, stratify=w.y, random_state=seed)
    cv = StratifiedKFold(3, shuffle=True, random_state=seed)
    out = {}
    for tool in tools[seed % len(tools):] + tools[: seed % len(tools)]:
        if tool == "sklearn":
            out[tool] = sklearn_search.run_search(w, seed=seed, split=split, cv=cv, workers=workers)
        else:
            out[tool] = halving_tune.run_search(w, tool, seed=seed, split=split, cv=cv, workers=workers,
                                                run_root=run_root)
        o = out[tool]
        print(f"  {w.name} seed {seed} {tool:>7}: best {o['best']:.4f} test {o['test']:.4f} work {o['work']} "
              f"{w.unit} wall {o['wall']:.2f} s", flush=True)
    if not all(_same(out["sklearn"]["params"], out[t]["params"]) for t in tools):
        raise RuntimeError(f"{w.name} seed {seed}: the tools did not get the same candidates")
    return {t: {k: v for k, v in o.items() if k != "params"} for t, o in out.items()}


def _workload(name: str, args: argparse.Namespace, ray_start: float, run_root: str) -> dict[str, Any]:
    w = make(name, quick=args.quick)
    tools = ["sklearn", *args.policies.split(",")]
    runs: dict[str, list[dict]] = {t: [] for t in tools}
    for seed in range(args.repeats):
        for t, o in _repeat(w, seed, tools, args.workers, run_root).items():
            runs[t].append(o)
    med = {t: {k: median(o[k] for o in runs[t]) for k in ("best", "test", "work", "wall", "refit", "loop")}
           for t in tools}
    ratios = {}
    for t in tools[1:]:
        # ratios per seed (same candidates), then their median
        per = [(o["work"] / s["work"], o["wall"] / s["wall"], (o["wall"] + ray_start) / s["wall"],
                o["best"] - s["best"], o["test"] - s["test"]) for o, s in zip(runs[t], runs["sklearn"])]
        ratios[f"halving {t} / sklearn"] = {k: median(p[i] for p in per) for i, k in enumerate(RATIO_KEYS)}
    print_table(f"{name}: {w.n} candidates, R = {w.R}, 3 folds, {args.workers} workers (medians of {args.repeats})",
                ["tool", "best val", "test", f"work ({w.unit})", "wall s", "of which engine loop s"],
                [[t, m["best"], m["test"], m["work"], m["wall"], m["loop"]] for t, m in med.items()])
    print_table(f"{name}: ratios to scikit-learn", ["", *RATIO_KEYS], [[k, *v.values()] for k, v in ratios.items()])
    return {"candidates": w.n, "max_epochs": w.R, "unit": w.unit, "medians": med, "ratios": ratios, "runs": runs}


def run(args: argparse.Namespace) -> tuple[dict, list[Target]]:
    args.repeats = args.repeats or (1 if args.quick else 3)
    warnings.filterwarnings("ignore")  # FutureWarnings of deprecated SGD options, fold warnings...
    os.environ["PYTHONWARNINGS"] = "ignore"  # ...in joblib's worker processes too
    ray_start = start_ray(args.workers, quiet=True)
    joblib_start = sklearn_search.start_joblib(args.workers)
    print(f"Ray start {ray_start:.2f} s, joblib workers {joblib_start:.2f} s (once each; excluded)", flush=True)
    try:
        with tempfile.TemporaryDirectory(prefix="bench-sklearn-") as run_root:
            workloads = {n: _workload(n, args, ray_start, run_root) for n in args.workloads.split(",") if n}
    finally:
        stop_ray()
    return {"params": vars(args), "ray_start_seconds": ray_start, "joblib_start_seconds": joblib_start,
            "workloads": workloads}, []
