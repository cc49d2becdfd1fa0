"""Wall time and accuracy on real training: halving ASHA against Ray Tune ASHA and Optuna's SuccessiveHalvingPruner.

The issue: "sgd and mlp on digits, 81 configurations, R=27, 2 workers:
halving ASHA against Ray Tune ASHA and Optuna's ``SuccessiveHalvingPruner``
(n_jobs=1). Targets: wall time at most 0.5x Ray Tune's and at most 1.0x
Optuna's, with best validation accuracy at least theirs."

Workloads: the bundled examples ``halving.examples.sgd_digits`` (SGDClassifier)
and ``halving.examples.mlp_digits`` (MLPClassifier), with their search spaces,
data split (60/20/20, standardised) and per-epoch step (one ``partial_fit``
pass in a fresh random order). Every tool trains with the same helpers
(``make_model``, ``fit_epoch``, ``evaluate``) and reports validation and test
accuracy after each epoch.

The same ``--trials`` configurations go to all three, in the same order:
``Space.from_spec(space).sample(n, seed)``, which is what ``halving.tune`` samples
itself for ``trials=n, seed=seed`` (checked); Ray Tune gets them through
``grid_search`` over their indices; Optuna through ``study.enqueue_trial`` of
each (a ``RandomSampler`` is set but never used: every trial is enqueued).

* halving: ``halving.tune(train, space, metric="val_accuracy", policy="asha",
  max_epochs=R, trials=n, workers=2, eta=3)``.
* Ray Tune: ``ASHAScheduler(max_t=R, grace_period=1, reduction_factor=3)``,
  ``reuse_actors=True``, ``max_concurrent_trials=2``, ``verbose=0``, local storage.
* Optuna: ``SuccessiveHalvingPruner(min_resource=1, reduction_factor=3)``,
  in-memory storage, ``study.optimize(objective, n_trials=n, n_jobs=1)``; the
  objective reports ``trial.report(val_acc, epoch)`` and raises
  ``TrialPruned`` when ``trial.should_prune()``, after every epoch (so a trial can
  also be pruned at epoch R). Optuna's logging is set to WARNING. With n_jobs=1
  it trains one trial at a time while halving and Ray Tune train two; its
  trials run in this process, with numpy's BLAS threads at their default (so
  the MLP's matrix products may use both cores), while Ray's workers run with
  ``OMP_NUM_THREADS=1``.

Wall time: halving and Ray Tune run on one local Ray started once beforehand
(``ray.init(num_cpus=2)``), excluded from both: halving's figure is its whole
``tune()`` call (the engine loop alone is in the JSON), Ray Tune's is
``tuner.fit()``. Optuna's is ``create_study`` + ``enqueue_trial`` + ``optimize``. The
targets against Optuna (in process) exclude Ray's start, as DESIGN.md says;
halving's time with a fresh Ray start (``halving.tune`` with no Ray running,
so it starts and stops its own; run in a child process, one per start, and
timing only the ``tune()`` call) is reported beside it.

Accuracy: best validation accuracy at R is the best final validation accuracy
among trials that trained R epochs (halving: ``result.best_value``; ties go to
the lowest trial index); test accuracy is that trial's model's test accuracy
after R epochs. Epochs is the total number of epochs trained.

Medians of ``--repeats`` runs (the tools rotate who goes first). Run from the
repository root::

    python benchmarks/wall.py [--quick] [--repeats 3] [--workloads sgd,mlp] [--out wall.json]
"""

from __future__ import annotations

import argparse
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from _peers import RAY_TUNE_SETTINGS, median, print_table, ray_tune_asha, save_json, start_ray, stop_ray, tempdir  # noqa: E402,E501

import numpy as np  # noqa: E402

import halving  # noqa: E402
from halving.examples import mlp_digits, sgd_digits  # noqa: E402
from halving.space import Space  # noqa: E402

WORKLOADS = {"sgd": sgd_digits, "mlp": mlp_digits}
WALL_VS_RAY = 0.5
WALL_VS_OPTUNA = 1.0


def make_halving_fn(mod):
    def train(config: dict) -> None:
        data = mod.load_data()
        model = mod.make_model(config)
        rng = np.random.default_rng(config.get("seed", mod.SEED))
        while True:
            mod.fit_epoch(model, data, rng)
            halving.report(**mod.evaluate(model, data))

    return train


def make_ray_fn(mod, configs: list[dict], max_t: int):
    def train(config: dict) -> None:
        from ray import tune

        cfg = configs[config["i"]]
        data = mod.load_data()
        model = mod.make_model(cfg)
        rng = np.random.default_rng(cfg.get("seed", mod.SEED))
        for _ in range(max_t):
            mod.fit_epoch(model, data, rng)
            tune.report(mod.evaluate(model, data))

    return train


def _suggest(trial, name: str, dim):
    form = dim.to_dict()  # the dict form names the type; the space's classes are composed
    if form["type"] in ("choice", "grid"):
        return trial.suggest_categorical(name, form["values"])
    if form["type"] in ("uniform", "loguniform"):
        return trial.suggest_float(name, form["low"], form["high"], log=form["type"] == "loguniform")
    raise TypeError(f"no Optuna distribution for {name}: {dim!r}")


def _blas_threads() -> str:
    try:
        from threadpoolctl import threadpool_info
    except ImportError:
        return "unknown"
    return ", ".join(f"{i['internal_api']} {i['num_threads']}" for i in threadpool_info()) or "none"


def _pick(finals: list[tuple[int, float, float]]) -> tuple[int | None, float | None, float | None]:
    """(index, val, test) with the highest val; ties to the lowest index."""
    if not finals:
        return None, None, None
    i, val, test = min(finals, key=lambda f: (-f[1], f[0]))
    return i, val, test


def run_halving(mod, args, configs: list[dict], *, fresh: bool) -> dict:
    with tempdir("bench-halving-") as d:
        t0 = time.perf_counter()
        result = halving.tune(make_halving_fn(mod), mod.space, metric="val_accuracy", mode="max", policy="asha",
                              eta=args.eta, max_epochs=args.max_epochs, trials=args.trials, workers=args.workers,
                              seed=args.seed, run_dir=os.path.join(d, "run"))
        call = time.perf_counter() - t0
    for trial, cfg in result.configs.items():
        if {k: cfg[k] for k in configs[trial]} != configs[trial]:
            raise AssertionError(f"halving's trial {trial} has config {cfg}, expected {configs[trial]}")
    best, val, test = result.best_trial, result.best_value, None
    if best is not None:
        t = result.table()
        trials, epochs, tests = (t.column(c).to_pylist() for c in ("trial", "epoch", "test_accuracy"))
        test = next(x for tr, e, x in zip(trials, epochs, tests) if tr == best and e == args.max_epochs)
    return {"wall": call, "engine_wall": result.wall_seconds, "best_trial": best, "best_val": val,
            "test": test, "epochs": result.epochs_used, "fresh_ray": fresh, "backend_stats": result.backend_stats}


def run_ray(mod, args, configs: list[dict]) -> dict:
    out = ray_tune_asha(make_ray_fn(mod, configs, args.max_epochs), len(configs), metric="val_accuracy",
                        mode="max", max_t=args.max_epochs, eta=args.eta, workers=args.workers)
    finals = [(t["i"], t["last"]["val_accuracy"], t["last"]["test_accuracy"])
              for t in out["trials"] if t["results"] >= args.max_epochs]
    best, val, test = _pick(finals)
    return {"wall": out["wall"], "best_trial": best, "best_val": val, "test": test, "epochs": out["results"],
            "errors": out["errors"], "trials_seen": out["trials_seen"]}


def run_optuna(mod, args, configs: list[dict]) -> dict:
    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    dims = Space.from_spec(mod.space).dimensions
    R = args.max_epochs
    tests: dict[int, float] = {}

    def objective(trial) -> float:
        cfg = {name: _suggest(trial, name, dim) for name, dim in dims.items()}
        data = mod.load_data()
        model = mod.make_model(cfg)
        rng = np.random.default_rng(cfg.get("seed", mod.SEED))
        for epoch in range(1, R + 1):
            mod.fit_epoch(model, data, rng)
            ev = mod.evaluate(model, data)
            trial.report(ev["val_accuracy"], epoch)
            if epoch == R:
                tests[trial.number] = ev["test_accuracy"]
            if trial.should_prune():
                raise optuna.TrialPruned()
        return ev["val_accuracy"]

    t0 = time.perf_counter()
    study = optuna.create_study(direction="maximize", sampler=optuna.samplers.RandomSampler(seed=args.seed),
                                pruner=optuna.pruners.SuccessiveHalvingPruner(min_resource=1, reduction_factor=args.eta))
    for cfg in configs:
        study.enqueue_trial(cfg)
    study.optimize(objective, n_trials=len(configs), n_jobs=1)
    wall = time.perf_counter() - t0
    trials = study.get_trials(deepcopy=False)
    for t in trials:
        if {k: t.params[k] for k in configs[t.number]} != configs[t.number]:
            raise AssertionError(f"Optuna's trial {t.number} ran {t.params}, expected {configs[t.number]}")
    finals = [(t.number, t.intermediate_values[R], tests[t.number]) for t in trials if R in t.intermediate_values]
    best, val, test = _pick(finals)
    pruned_at_R = sum(1 for t in trials if R in t.intermediate_values and t.state.name == "PRUNED")
    return {"wall": wall, "best_trial": best, "best_val": val, "test": test,
            "epochs": sum(len(t.intermediate_values) for t in trials), "reached_R": len(finals),
            "pruned_at_R": pruned_at_R}


def run_fresh_child(workload: str, args) -> dict:
    """halving.tune with no Ray running, so that it starts (and stops) its own, in a new process
    (one process per Ray start: a fresh interpreter, like a user's script). Only the tune() call
    is timed, inside the child."""
    import json
    import subprocess

    cmd = [sys.executable, os.path.abspath(__file__), "--_fresh-child", workload, "--trials", str(args.trials),
           "--max-epochs", str(args.max_epochs), "--eta", str(args.eta), "--workers", str(args.workers),
           "--seed", str(args.seed)]
    try:
        out = subprocess.run(cmd, capture_output=True, text=True, timeout=args.fresh_timeout)
    except subprocess.TimeoutExpired:
        return {"wall": None, "error": f"timed out after {args.fresh_timeout} s"}
    for line in reversed(out.stdout.splitlines()):
        if line.startswith("FRESH "):
            return json.loads(line[6:])
    return {"wall": None, "error": (out.stderr or out.stdout)[-2000:]}


def main(argv: list[str] | None = None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--workloads", default="sgd,mlp")
    ap.add_argument("--trials", type=int, default=81)
    ap.add_argument("--max-epochs", type=int, default=27)
    ap.add_argument("--eta", type=int, default=3)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--cpus", type=int, default=2, help="CPUs of the local Ray")
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--no-fresh", action="store_true", help="skip halving's run with a fresh Ray start")
    ap.add_argument("--fresh-timeout", type=float, default=600.0)
    ap.add_argument("--_fresh-child", dest="fresh_child", help=argparse.SUPPRESS)
    ap.add_argument("--quick", action="store_true", help="smoke run: 27 trials, R=9, 1 repeat")
    ap.add_argument("--out", help="write the numbers to this JSON file")
    args = ap.parse_args(argv)
    if args.quick:
        args.trials, args.max_epochs, args.repeats = 27, 9, 1
    names = [w.strip() for w in args.workloads.split(",") if w.strip()]
    if args.fresh_child:
        import json

        mod = WORKLOADS[args.fresh_child]
        r = run_halving(mod, args, Space.from_spec(mod.space).sample(args.trials, args.seed), fresh=True)
        print("FRESH " + json.dumps(r, default=str), flush=True)
        return r

    runs: dict[str, dict[str, list[dict]]] = {
        w: {"halving": [], "halving_fresh_ray": [], "ray_tune": [], "optuna": []} for w in names}
    ray_inits = []
    tools = ["halving", "ray_tune", "optuna"]
    for rep in range(args.repeats):
        ray_inits.append(start_ray(args.cpus))
        print(f"[repeat {rep + 1}/{args.repeats}] Ray started with num_cpus={args.cpus} in {ray_inits[-1]:.2f} s "
              f"(shared by halving and Ray Tune, excluded from both)", flush=True)
        try:
            for w in names:
                mod = WORKLOADS[w]
                configs = Space.from_spec(mod.space).sample(args.trials, args.seed)
                order = tools[rep % 3:] + tools[: rep % 3]
                for tool in order:
                    if tool == "halving":
                        r = run_halving(mod, args, configs, fresh=False)
                    elif tool == "ray_tune":
                        r = run_ray(mod, args, configs)
                    else:
                        r = run_optuna(mod, args, configs)
                    runs[w][tool].append(r)
                    print(f"[repeat {rep + 1}/{args.repeats}] {w} {tool}: wall {r['wall']:.2f} s, best val "
                          f"{r['best_val']} (trial {r['best_trial']}), test {r['test']}, epochs {r['epochs']}",
                          flush=True)
        finally:
            stop_ray()
        if not args.no_fresh:
            for w in names:
                r = run_fresh_child(w, args)
                runs[w]["halving_fresh_ray"].append(r)
                print(f"[repeat {rep + 1}/{args.repeats}] {w} halving with a fresh Ray start (own process): "
                      f"wall {r['wall']:.2f} s" if r.get("wall") else f"[repeat {rep + 1}] {w} fresh: {r}",
                      flush=True)

    summary: dict = {"ray_init_seconds": median(ray_inits)}
    all_met = True
    for w in names:
        s: dict = {}
        for tool, rs in runs[w].items():
            if not rs:
                continue
            rs = [r for r in rs if r.get("wall") is not None]
            if not rs:
                continue
            s[tool] = {k: median([r[k] for r in rs]) for k in ("wall", "best_val", "test", "epochs")
                       if all(r.get(k) is not None for r in rs)}
            s[tool]["n_runs"] = len(rs)
            if tool.startswith("halving"):
                s[tool]["engine_wall"] = median([r["engine_wall"] for r in rs])
        h = s["halving"]
        rows = []
        for tool, label in (("halving", "halving asha (Ray already up)"),
                            ("halving_fresh_ray", "halving asha (fresh Ray start)"),
                            ("ray_tune", "Ray Tune ASHAScheduler"),
                            ("optuna", "Optuna SuccessiveHalvingPruner")):
            if tool not in s:
                continue
            ratio = h["wall"] / s[tool]["wall"] if tool in ("ray_tune", "optuna") else None
            if ratio is not None:
                s[tool]["ratio_halving_wall_over"] = ratio
                s[tool]["ratio_halving_engine_wall_over"] = h["engine_wall"] / s[tool]["wall"]
            rows.append([label, s[tool]["wall"], ratio if ratio is not None else "-", s[tool].get("best_val"),
                         s[tool].get("test"), s[tool]["epochs"]])
        print_table(f"{w} on digits: {args.trials} configurations, R={args.max_epochs}, eta={args.eta}, "
                    f"{args.workers} workers (Optuna n_jobs=1); medians of {args.repeats}",
                    ["tool", "wall s", "halving wall / this", "best val @R", "test acc", "epochs"], rows)
        if "halving_fresh_ray" in s and "optuna" in s:
            s["halving_fresh_ray"]["ratio_over_optuna"] = s["halving_fresh_ray"]["wall"] / s["optuna"]["wall"]
            print(f"halving with a fresh Ray start / Optuna: {s['halving_fresh_ray']['ratio_over_optuna']:.2f}x "
                  f"(not the target's figure)")
        targets = {}
        for tool, limit in (("ray_tune", WALL_VS_RAY), ("optuna", WALL_VS_OPTUNA)):
            if tool not in s:
                continue
            ratio = s[tool]["ratio_halving_wall_over"]
            wall_ok = ratio <= limit
            # accuracy: per repeat (the same configs each time), halving's best val >= the peer's
            acc_ok = all(hr["best_val"] is not None and (pr["best_val"] is None or hr["best_val"] >= pr["best_val"])
                         for hr, pr in zip(runs[w]["halving"], runs[w][tool]))
            targets[tool] = {"wall_ratio": ratio, "wall_limit": limit, "wall_met": wall_ok, "accuracy_met": acc_ok}
            all_met &= wall_ok and acc_ok
            print(f"target vs {tool}: wall {ratio:.2f}x (want <= {limit:g}x) -> {'MET' if wall_ok else 'NOT MET'}; "
                  f"best val >= theirs in every repeat -> {'MET' if acc_ok else 'NOT MET'}")
        s["targets"] = targets
        summary[w] = s
    print(f"\nRay start-up (ray.init(num_cpus={args.cpus}), median): {summary['ray_init_seconds']:.2f} s, excluded "
          f"from halving's and Ray Tune's main figures.")
    print("Ray Tune settings:", RAY_TUNE_SETTINGS)
    print("Optuna: in-memory storage, RandomSampler (unused: every trial enqueued), SuccessiveHalvingPruner("
          "min_resource=1, reduction_factor=eta), n_jobs=1 (one trial at a time), logging at WARNING; "
          f"it trains in this process, whose BLAS threads are left at their default ({_blas_threads()}), "
          "while Ray's workers run with OMP_NUM_THREADS=1.")
    if args.quick:
        print("(--quick: a smoke run, not the target's workload)")
    summary["all_targets_met"] = all_met
    payload = {"benchmark": "wall", "params": vars(args), "summary": summary, "runs": runs}
    save_json(args.out, payload)
    return payload


if __name__ == "__main__":
    main()
