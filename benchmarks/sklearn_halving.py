"""halving.sklearn.HalvingSearchCV against scikit-learn's HalvingRandomSearchCV, same candidates.

The issue: "the same candidates through ``HalvingSearchCV`` and scikit-learn's
``HalvingRandomSearchCV`` (SGDClassifier on digits; GradientBoostingClassifier
with warm-started ``n_estimators`` on breast_cancer): best score, test score,
training work (epochs or estimators fitted) and wall time, ratios in one run."

Workloads (each: a stratified 75/25 train/test split of the data seeded by the
repeat; the search sees only the training part, through the same
``StratifiedKFold(3, shuffle=True)`` folds for both tools):

* ``sgd``: ``SGDClassifier`` on digits (pixels / 16), 81 candidates, R = 27
  epochs. halving: ``resource="partial_fit"`` (an epoch is one ``partial_fit``
  pass, continued across rungs). scikit-learn: ``resource="max_iter"`` with
  ``min_resources=1, max_resources=27, factor=3`` on ``SGDClassifier(tol=None)``,
  so that a candidate at ``n_resources=k`` is fit from scratch for exactly k
  epochs (``tol=None``: no early stop, the work is what is counted). That gives
  scikit-learn the same rungs in the same unit: 81, 27, 9, 3 candidates at 1, 3,
  9, 27 epochs. ``n_resources="n_samples"`` (its default) would change the data,
  not the training length, and not be comparable.
* ``gbc``: ``GradientBoostingClassifier(n_estimators=81)`` on breast_cancer, 81
  candidates, R = 27 epochs of 3 trees (halving grows ``n_estimators`` with
  ``warm_start=True``). scikit-learn: ``resource="n_estimators"``,
  ``min_resources=3, max_resources=81, factor=3``: 81, 27, 9, 3 candidates at 3,
  9, 27, 81 trees, each fit from scratch.

The candidates are the same: both draw ``ParameterSampler(space, 81,
random_state=seed)`` (checked on every run). halving runs with ``policy="asha"``
(its default: asynchronous, with promotion) and ``policy="sha"`` (synchronous
successive halving: scikit-learn's schedule exactly), ``workers=2`` on a local Ray
with 2 CPUs; scikit-learn with ``n_jobs=2``. Both refit the best candidate on the
whole training part (R epochs, or 81 trees) and are scored on the test part.

Columns: best validation score (``best_score_``, mean over the folds, at the
last rung), test accuracy of ``best_estimator_``, training work of the search
(fold-epochs for sgd, trees fitted for gbc, summed over candidates and folds;
both refits add the same amount, not counted), wall seconds of ``fit`` (Ray
started once beforehand and excluded, as DESIGN.md asks against an in-process
peer; its start-up time is given, and a ratio that includes it; joblib's worker
processes are likewise started once beforehand). For halving, "engine loop" is
the part of ``fit`` spent in halving's engine (``result_.wall_seconds``): the
rest is starting the fit's worker actors (each imports scikit-learn), putting
the data in the object store, and the refit. Medians of
``--repeats`` runs (seeds 0, 1, ...; the tools rotate who goes first).

Run from the repository root::

    python benchmarks/sklearn_halving.py [--quick] [--repeats 3] [--workloads sgd,gbc] [--out sklearn.json]
"""

from __future__ import annotations

import argparse
import os
import sys
import time
import warnings

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from _common import machine_load  # noqa: E402
from _peers import median, print_table, save_json, tempdir  # noqa: E402

import numpy as np  # noqa: E402
from scipy.stats import loguniform, randint, uniform  # noqa: E402
from sklearn.datasets import load_breast_cancer, load_digits  # noqa: E402
from sklearn.ensemble import GradientBoostingClassifier  # noqa: E402
from sklearn.experimental import enable_halving_search_cv  # noqa: E402,F401
from sklearn.linear_model import SGDClassifier  # noqa: E402
from sklearn.model_selection import HalvingRandomSearchCV, StratifiedKFold, train_test_split  # noqa: E402

from halving.sklearn import HalvingSearchCV  # noqa: E402

SGD_SPACE = {
    "loss": ["hinge", "log_loss", "modified_huber"],
    "penalty": ["l2", "l1", "elasticnet"],
    "alpha": loguniform(1e-6, 1e-1),
    "learning_rate": ["constant", "optimal", "invscaling", "adaptive"],
    "eta0": loguniform(1e-4, 1e-1),
}

GBC_SPACE = {
    "learning_rate": loguniform(0.01, 1.0),
    "max_depth": [1, 2, 3, 4],
    "subsample": uniform(0.5, 0.5),
    "min_samples_leaf": randint(1, 30),
    "max_features": ["sqrt", 0.5, None],
}


def workload(name: str, quick: bool) -> dict:
    """Data, estimators and schedule of one workload; ``unit`` names the work."""
    n, R = (9, 9) if quick else (81, 27)
    if name == "sgd":
        X, y = load_digits(return_X_y=True)
        return {"X": X / 16.0, "y": y, "space": SGD_SPACE, "n": n, "R": R, "unit": "fold-epochs",
                "ours": SGDClassifier(random_state=0),
                "theirs": SGDClassifier(random_state=0, tol=None, max_iter=R),
                "resource": "max_iter", "min_resources": 1, "max_resources": R}
    if name == "gbc":
        X, y = load_breast_cancer(return_X_y=True)
        per_epoch = 3
        return {"X": X, "y": y, "space": GBC_SPACE, "n": n, "R": R, "unit": "trees",
                "ours": GradientBoostingClassifier(n_estimators=per_epoch * R, random_state=0),
                "theirs": GradientBoostingClassifier(random_state=0),
                "resource": "n_estimators", "min_resources": per_epoch, "max_resources": per_epoch * R}
    raise ValueError(f"unknown workload {name!r}")


def run_halving(w: dict, policy: str, seed: int, split: tuple, cv, workers: int, run_root: str) -> dict:
    X_tr, X_te, y_tr, y_te = split
    search = HalvingSearchCV(w["ours"], w["space"], policy=policy, n_candidates=w["n"], max_epochs=w["R"],
                             cv=cv, random_state=seed, workers=workers, run_dir=run_root)
    t0 = time.perf_counter()
    search.fit(X_tr, y_tr)
    wall = time.perf_counter() - t0
    return {"best": search.best_score_, "test": search.score(X_te, y_te), "work": search.resources_used_,
            "wall": wall, "refit": search.refit_time_, "epochs": search.epochs_used_,
            "loop": search.result_.wall_seconds,
            "n_candidates": search.n_candidates_, "n_resources": search.n_resources_,
            "params": search.cv_results_["params"], "best_params": search.best_params_}


def run_sklearn(w: dict, seed: int, split: tuple, cv, workers: int) -> dict:
    X_tr, X_te, y_tr, y_te = split
    search = HalvingRandomSearchCV(w["theirs"], w["space"], n_candidates=w["n"], factor=3, resource=w["resource"],
                                   min_resources=w["min_resources"], max_resources=w["max_resources"], cv=cv,
                                   random_state=seed, n_jobs=workers, refit=True)
    t0 = time.perf_counter()
    search.fit(X_tr, y_tr)
    wall = time.perf_counter() - t0
    res = search.cv_results_
    n_splits = cv.get_n_splits()
    # scikit-learn adds the resource (max_iter / n_estimators) to each candidate's params.
    first = [{k: v for k, v in p.items() if k != w["resource"]}
             for p, it in zip(res["params"], res["iter"]) if it == 0]
    return {"best": search.best_score_, "test": search.score(X_te, y_te),
            "work": int(np.sum(res["n_resources"])) * n_splits, "wall": wall, "refit": search.refit_time_,
            "loop": None,
            "n_candidates": search.n_candidates_, "n_resources": search.n_resources_,
            "params": first, "best_params": search.best_params_}


def _same(a: list[dict], b: list[dict]) -> bool:
    def key(params: dict) -> tuple:
        return tuple(sorted((k, repr(v)) for k, v in params.items()))

    return sorted(map(key, a)) == sorted(map(key, b))


def start_joblib(workers: int) -> float:
    """Start joblib's worker processes once (scikit-learn's n_jobs), as Ray is started once."""
    from joblib import Parallel, delayed

    t0 = time.perf_counter()
    Parallel(n_jobs=workers)(delayed(abs)(i) for i in range(2 * workers))
    return time.perf_counter() - t0


def start_ray(cpus: int) -> float:
    import ray

    t0 = time.perf_counter()
    # address="local": a Ray of its own, even when other Ray clusters run on this machine.
    ray.init(address="local", num_cpus=cpus, include_dashboard=False, configure_logging=False,
             log_to_driver=False)
    return time.perf_counter() - t0


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--quick", action="store_true", help="smoke sizes: 9 candidates, R = 9, one repeat")
    ap.add_argument("--repeats", type=int, default=None, help="runs per tool (default 3; 1 with --quick)")
    ap.add_argument("--workloads", default="sgd,gbc")
    ap.add_argument("--policies", default="asha,sha", help="halving policies to run (default asha,sha)")
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--out", default=None, help="write a JSON summary here")
    args = ap.parse_args()
    repeats = args.repeats or (1 if args.quick else 3)
    policies = [p for p in args.policies.split(",") if p]
    warnings.filterwarnings("ignore")  # FutureWarnings of deprecated SGD options, fold warnings...
    os.environ["PYTHONWARNINGS"] = "ignore"  # ...in joblib's worker processes too

    load_before = machine_load()
    ray_start = start_ray(args.workers)
    joblib_start = start_joblib(args.workers)
    print(f"Ray start: {ray_start:.2f} s, joblib workers start: {joblib_start:.2f} s "
          f"(once each; excluded from the wall times below)")
    payload: dict = {"ray_start_seconds": ray_start, "joblib_start_seconds": joblib_start, "repeats": repeats,
                     "quick": args.quick, "workers": args.workers, "load_before": load_before, "workloads": {}}
    tools = ["sklearn"] + policies
    with tempdir("halving-bench-sklearn-") as run_root:
        for name in [w for w in args.workloads.split(",") if w]:
            w = workload(name, args.quick)
            runs: dict[str, list[dict]] = {t: [] for t in tools}
            for r in range(repeats):
                seed = r
                split = train_test_split(w["X"], w["y"], test_size=0.25, stratify=w["y"], random_state=seed)
                cv = StratifiedKFold(3, shuffle=True, random_state=seed)
                order = tools[r % len(tools):] + tools[: r % len(tools)]
                for tool in order:
                    if tool == "sklearn":
                        out = run_sklearn(w, seed, split, cv, args.workers)
                    else:
                        out = run_halving(w, tool, seed, split, cv, args.workers, run_root)
                    runs[tool].append(out)
                    print(f"  {name} seed {seed} {tool:>7}: best {out['best']:.4f} test {out['test']:.4f} "
                          f"work {out['work']} {w['unit']} wall {out['wall']:.2f} s "
                          f"rungs {out['n_candidates']} x {out['n_resources']}", flush=True)
                same = all(_same(runs["sklearn"][-1]["params"], runs[t][-1]["params"]) for t in policies)
                print(f"  {name} seed {seed}: same {w['n']} candidates in every tool: {same}", flush=True)
                if not same:
                    raise SystemExit("the tools did not get the same candidates")

            med = {t: {k: median([o[k] for o in runs[t]]) for k in ("best", "test", "work", "wall", "refit", "loop")}
                   for t in tools}
            rows = []
            for t in tools:
                m = med[t]
                label = "sklearn HalvingRandomSearchCV" if t == "sklearn" else f"halving HalvingSearchCV {t}"
                loop = None if t == "sklearn" else m["loop"]
                rows.append([label, m["best"], m["test"], int(m["work"]), m["wall"], m["wall"] + ray_start, loop])
            print_table(f"{name}: {w['n']} candidates, R = {w['R']}, 3 folds, {args.workers} workers "
                        f"(medians of {repeats})",
                        ["tool", "best val", "test", f"work ({w['unit']})", "wall s", "wall s + Ray start",
                         "of which engine loop s"], rows)
            ratio_rows = []
            for t in policies:
                # Ratios per repeat (same seed, same candidates), then their median.
                per = [(o["work"] / s["work"], o["wall"] / s["wall"], (o["wall"] + ray_start) / s["wall"],
                        o["best"] - s["best"], o["test"] - s["test"]) for o, s in zip(runs[t], runs["sklearn"])]
                ratio_rows.append([f"halving {t} / sklearn"] + [median([p[i] for p in per]) for i in range(5)])
            print_table(f"{name}: ratios to scikit-learn (medians of per-seed ratios)",
                        ["", "work", "wall", "wall incl. Ray start", "best val diff", "test diff"], ratio_rows)
            payload["workloads"][name] = {
                "candidates": w["n"], "max_epochs": w["R"], "unit": w["unit"], "medians": med,
                "ratios": {r[0]: dict(zip(["work", "wall", "wall_with_ray_start", "best_diff", "test_diff"], r[1:]))
                           for r in ratio_rows},
                "runs": {t: [{k: v for k, v in o.items() if k != "params"} for o in runs[t]] for t in tools},
            }
    payload["load_after"] = machine_load()
    print(f"\nload average before {load_before}, after {payload['load_after']}")
    save_json(args.out, payload)
    import ray

    ray.shutdown()


if __name__ == "__main__":
    main()
