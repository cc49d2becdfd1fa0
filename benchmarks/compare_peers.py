"""halving (every policy) against Ray Tune, Optuna and scikit-learn, on the same configurations and seeds.

The issue: "one command that runs, on the same sampled configurations and
seeds, halving (each policy) against Ray Tune (``ASHAScheduler``,
``HyperBandScheduler``, ``MedianStoppingRule``), Optuna
(``SuccessiveHalvingPruner``, ``HyperbandPruner``, ``MedianPruner``,
RandomSampler) and scikit-learn's ``HalvingRandomSearchCV``. [...] 81
configurations, R=27, 3 seeds, 2 workers."

Workloads (each trainable trains one epoch per step and reports validation and
test accuracy after every epoch, with the same helpers for every tool):

* ``sgd``: ``halving.examples.sgd_digits`` (``SGDClassifier`` on digits, 60/20/20).
* ``mlp``: ``halving.examples.mlp_digits`` (``MLPClassifier`` on digits).
* ``cnn``: ``halving.examples.cnn_mnist1d``'s model, epoch and data (a PyTorch
  1-D CNN on MNIST-1D, generated locally: 3200 training, 800 validation, 1000
  test signals; one torch thread per trial for every tool), at a benchmark size
  (``CNN_SPACE``): channels 4/8/16 and batches of 512/1024/2048, where the
  example's own space has channels 16/32/64 and batches of 32/64/128 (epochs of
  0.3-0.5 s on a Ray worker, so that one seed took over 40 minutes). The
  learning-rate and weight-decay ranges are the example's. The driver writes the
  generated data to an .npz once, so that no worker process generates it again.
* ``fashion``: ``mlp_digits``'s model and epoch on Fashion-MNIST from the
  Debian package ``dataset-fashion-mnist`` (``apt-get install
  dataset-fashion-mnist``; its files are ``/usr/share/datasets/fashion-mnist/*-idx?-ubyte.gz``).
  To fit the time limit it uses a fixed stratified subsample: 2000 training and
  1000 validation images from the training file, 1000 test images from the test
  file (pixels / 255, standardised on the training part), and a smaller space
  (``FASHION_SPACE``): 8/16/32 hidden units and batches of 64/128/256, where
  ``mlp_digits.space`` has 16 to 256 hidden units and batches of 32/64/128; the
  same alpha and learning-rate ranges. Skipped with a message when the package
  is not installed.

The configurations: for seed s, ``Space.from_spec(space).sample(n, s)``; this is
what ``halving.tune(space, trials=n, seed=s)`` samples (checked on every run).
Ray Tune gets them through ``grid_search`` over their indices, Optuna through
``enqueue_trial`` (its ``RandomSampler(seed=s)`` is set but never draws),
``HalvingRandomSearchCV`` through ``param_distributions`` given as one
single-point dict per configuration (all lists, so its ``ParameterSampler`` draws
the 81 of them without replacement: exactly these configurations).

Tools (R = max epochs, eta = 3, 2 workers):

* halving: ``halving.tune(train, space, policy=p, max_epochs=R, trials=n,
  workers=2, seed=s)`` for p in asha, asha-stop, sha, hyperband, median, bandit,
  truncation, none, with each policy's default parameters. ``none`` trains every
  configuration to R: it *is* full-budget random search, and is the baseline of
  the "/ full" ratios. halving keeps its idle workers for the driver's next
  experiment on the same Ray (its later runs reuse them); before each Ray Tune
  run the benchmark kills them (not timed): they hold the CPUs, and Ray Tune
  would wait for CPUs forever.
* Ray Tune: ``ASHAScheduler(max_t=R, grace_period=1, reduction_factor=3)``,
  ``HyperBandScheduler(max_t=R, reduction_factor=3)``,
  ``MedianStoppingRule(time_attr="training_iteration", grace_period=1,
  min_samples_required=3)``; a function trainable calling ``tune.report`` once
  per epoch, without checkpoints (as ``benchmarks/wall.py``: a trial HyperBand
  pauses starts again from scratch when resumed, and those epochs count),
  ``reuse_actors=True``, ``max_concurrent_trials=2``,
  ``stop={"training_iteration": R}``, ``time_budget_s=--run-timeout``, local storage.
* Optuna: ``SuccessiveHalvingPruner(min_resource=1, reduction_factor=3)``,
  ``HyperbandPruner(min_resource=1, max_resource=R, reduction_factor=3)``,
  ``MedianPruner()`` (defaults: 5 startup trials, no warm-up), in-memory storage,
  ``optimize(n_jobs=1)``: one trial at a time, in this process, with BLAS and
  torch limited to one thread (like one Ray worker), while halving and Ray Tune
  train two trials at a time.
* scikit-learn: ``HalvingRandomSearchCV(n_candidates=n, resource="max_iter",
  min_resources=1, max_resources=R, factor=3, n_jobs=2, refit=False)``, with a
  ``PredefinedSplit`` that trains on the training part and scores on the same
  validation part as the other tools. ``max_iter`` is the number of epochs of a
  ``fit`` (with ``tol=None`` for SGD and ``n_iter_no_change`` above R for the MLP,
  so that a candidate at k is fit for exactly k epochs); ``n_samples`` would
  change the data rather than the training length. scikit-learn refits each
  survivor from scratch at each rung (81, 27, 9, 3 candidates at 1, 3, 9, 27
  epochs: 324 epochs). Its "test accuracy" is that of its chosen candidate fit
  for R epochs on the training part, as in its last rung (not counted in its
  epochs or wall time). Only the scikit-learn estimators (sgd, mlp, fashion);
  the PyTorch CNN is skipped with a message.

Per run: best validation accuracy at R (the best final validation accuracy among
trials that trained R epochs; ties to the lowest configuration index), the test
accuracy that trial reported at epoch R, epochs trained (all trials), wall
seconds of the tool's call (halving: ``tune()``; Ray Tune: ``tuner.fit()``;
Optuna: ``create_study`` + enqueue + ``optimize``; scikit-learn: ``fit``). The
one local Ray (``ray.init(num_cpus=2)``), shared by halving and Ray Tune, is
started once at the beginning and excluded from every wall time; its start-up
time is printed. Per workload: medians over seeds, and ratios: wall / the
fastest peer's (the lowest median wall among the Ray Tune, Optuna and
scikit-learn rows), epochs / full-budget epochs (n * R), best val / full-budget
best val (halving ``none`` of the same seed, median over seeds).

Time: every invocation below must finish in under 30 minutes on 2 cores, with
81 configurations, R=27, 3 seeds and 2 workers. One (workload, seed) block runs
15 tools (14 for cnn) and takes, measured on a 2-core machine shared with other
work, about 190 s for sgd, 400 s for mlp, 290 to 480 s for cnn and 235 to
380 s for fashion at their benchmark sizes (load averages 2 to 8; one cnn
invocation took 18.8 minutes, one fashion invocation 15.9). So the default is
``--workloads sgd,mlp``, and cnn and fashion are each an invocation of their
own (``--workloads cnn``, ``--workloads fashion``), each with ``--seeds``
(default 3) seeds like every workload. Work goes seed by seed (all workloads
for seed 0, then seed 1, ...), and a (workload, seed) block is skipped, with a
message, when it would not finish within ``--max-minutes`` (default 28) from
the start, judged from the blocks of that workload run so far (before the
first, from ``GUESS``). Everything run or skipped is printed and in the JSON.

Outputs in ``--out`` (default ``compare-peers``): ``runs.csv`` (one row per
run), ``summary.csv`` and ``summary.md`` (medians and ratios), ``best_so_far.png``
(best validation accuracy so far, at any epoch, against wall seconds, for the
first seed of each workload; scikit-learn reports no per-epoch times, so it is one
point at its end), ``compare_peers.json`` (everything, with the curves).

Run from the repository root::

    python benchmarks/compare_peers.py [--quick] [--workloads sgd,mlp,cnn,fashion] [--seeds 3] [--out DIR]

the published tables come from three invocations::

    python benchmarks/compare_peers.py                        # sgd and mlp
    python benchmarks/compare_peers.py --workloads cnn --out compare-peers-cnn
    python benchmarks/compare_peers.py --workloads fashion --out compare-peers-fashion

``--quick`` (9 configurations, R=3, sgd only) is a smoke run of about a minute.
"""

from __future__ import annotations

import argparse
import csv
import gzip
import math
import os
import sys
import time
import types
import warnings

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from _peers import (median, print_table, ray_tune_run, release_halving_workers, save_json, start_ray,  # noqa: E402
                    stop_ray, tempdir)
from wall import _pick, _suggest  # noqa: E402

import numpy as np  # noqa: E402

import halving  # noqa: E402
from halving.examples import _digits, cnn_mnist1d, mlp_digits, sgd_digits  # noqa: E402
from halving.space import Space, choice, loguniform  # noqa: E402

HALVING_POLICIES = ["asha", "asha-stop", "sha", "hyperband", "median", "bandit", "truncation", "none"]
RAY_SCHEDULERS = ["ASHAScheduler", "HyperBandScheduler", "MedianStoppingRule"]
OPTUNA_PRUNERS = ["SuccessiveHalvingPruner", "HyperbandPruner", "MedianPruner"]
SKLEARN = ["HalvingRandomSearchCV"]
FASHION_DIR = "/usr/share/datasets/fashion-mnist"
FASHION_SKIP = ("fashion: skipped, the Debian package dataset-fashion-mnist is not installed "
                f"(no {FASHION_DIR}/train-images-idx3-ubyte.gz); install it with: "
                "sudo apt-get install dataset-fashion-mnist")
FASHION_SIZES = {"train": 2000, "val": 1000, "test": 1000}
#: The benchmark sizes of the heavier workloads, so that 3 seeds of one fit in 30 minutes on 2 cores:
#: the examples' model code and learning-rate / weight-decay ranges, smaller and cheaper choices.
#: cnn_mnist1d.space has channels 16/32/64 and batches 32/64/128 (epochs of 0.3-0.5 s on a Ray worker).
CNN_SPACE = {
    "channels": choice([4, 8, 16]),
    "lr": loguniform(1e-4, 1e-1),
    "weight_decay": loguniform(1e-6, 1e-2),
    "batch_size": choice([512, 1024, 2048]),
}
#: mlp_digits.space has hidden units 16 to 256 and batches 32/64/128.
FASHION_SPACE = {
    "hidden_units": choice([8, 16, 32]),
    "alpha": loguniform(1e-6, 1e-1),
    "learning_rate_init": loguniform(1e-4, 1e-1),
    "batch_size": choice([64, 128, 256]),
}
#: A first guess of one (workload, seed) block's seconds, before one has run.
GUESS = {"sgd": 200.0, "mlp": 400.0, "cnn": 450.0, "fashion": 450.0}
SEED = 0  # the examples' seed: weights and each trial's shuffling; trials differ only by config


# --------------------------------------------------------------------------- workloads


class Workload:
    """What every tool needs of a workload; pickled by value into Ray's workers."""

    def __init__(self, name: str, space: dict, load, make, fit_epoch, evaluate, *, torch: bool = False,
                 sklearn: bool = True, note: str = "") -> None:
        self.name, self.space, self.load, self.make = name, space, load, make
        self._fit, self._eval, self.torch, self.sklearn, self.note = fit_epoch, evaluate, torch, sklearn, note

    def threads(self) -> None:
        if self.torch:
            import torch

            if torch.get_num_threads() != 1:
                torch.set_num_threads(1)

    def epoch(self, model, data, rng) -> None:
        self._fit(model, data, rng)

    def metrics(self, model, data) -> dict:
        return self._eval(model.net if self.torch else model, data)


def _read_idx(path: str) -> np.ndarray:
    with gzip.open(path, "rb") as fh:
        raw = fh.read()
    ndim = raw[3]
    dims = [int.from_bytes(raw[4 + 4 * k: 8 + 4 * k], "big") for k in range(ndim)]
    return np.frombuffer(raw, dtype=np.uint8, offset=4 + 4 * ndim).reshape(dims)


def fashion_installed() -> bool:
    return all(os.path.exists(os.path.join(FASHION_DIR, f)) for f in (
        "train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz",
        "t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz"))


def prepare_fashion(path: str) -> None:
    """The fixed subsample (seed 0) as an .npz, written once by the driver."""
    from sklearn.model_selection import train_test_split
    from sklearn.preprocessing import StandardScaler

    Xtr = _read_idx(os.path.join(FASHION_DIR, "train-images-idx3-ubyte.gz")).reshape(-1, 784) / 255.0
    ytr = _read_idx(os.path.join(FASHION_DIR, "train-labels-idx1-ubyte.gz")).astype(np.int64)
    Xte = _read_idx(os.path.join(FASHION_DIR, "t10k-images-idx3-ubyte.gz")).reshape(-1, 784) / 255.0
    yte = _read_idx(os.path.join(FASHION_DIR, "t10k-labels-idx1-ubyte.gz")).astype(np.int64)
    n_tr, n_va, n_te = FASHION_SIZES["train"], FASHION_SIZES["val"], FASHION_SIZES["test"]
    X_a, _, y_a, _ = train_test_split(Xtr, ytr, train_size=n_tr + n_va, stratify=ytr, random_state=SEED)
    X_train, X_val, y_train, y_val = train_test_split(X_a, y_a, test_size=n_va, stratify=y_a, random_state=SEED)
    X_test, _, y_test, _ = train_test_split(Xte, yte, train_size=n_te, stratify=yte, random_state=SEED)
    sc = StandardScaler().fit(X_train)
    np.savez(path, X_train=sc.transform(X_train), y_train=y_train, X_val=sc.transform(X_val), y_val=y_val,
             X_test=sc.transform(X_test), y_test=y_test, classes=np.arange(10))


def prepare_mnist1d(path: str) -> None:
    """``cnn_mnist1d.load_data()``'s arrays as an .npz, written once by the driver: generating
    MNIST-1D takes seconds, which every new worker process of every run would pay again."""
    d = cnn_mnist1d.load_data()
    np.savez(path, **{k: v.numpy() for k, v in d._asdict().items()})


def _npz_loader(path: str, kind: str):
    """``load()`` of the data in ``path``: ``_digits.Data`` (kind "digits") or ``cnn_mnist1d.Data`` of
    torch tensors (kind "mnist1d")."""

    def load():
        # Cached per process in sys.modules: this function is pickled by value, so a
        # module-level dict here would be a new one in every trial.
        box = sys.modules.get("_compare_peers_cache")
        if box is None:
            box = sys.modules["_compare_peers_cache"] = types.ModuleType("_compare_peers_cache")
            box.data = {}
        if path not in box.data:
            z = np.load(path)
            if kind == "mnist1d":
                import torch

                box.data[path] = cnn_mnist1d.Data(*(torch.from_numpy(z[f]) for f in cnn_mnist1d.Data._fields))
            else:
                box.data[path] = _digits.Data(*(z[f] for f in _digits.Data._fields))
        return box.data[path]

    return load


def make_workload(name: str, scratch: str) -> Workload | None:
    if name == "sgd":
        return Workload("sgd", sgd_digits.space, sgd_digits.load_data, sgd_digits.make_model,
                        sgd_digits.fit_epoch, sgd_digits.evaluate, note="SGDClassifier on digits")
    if name == "mlp":
        return Workload("mlp", mlp_digits.space, mlp_digits.load_data, mlp_digits.make_model,
                        mlp_digits.fit_epoch, mlp_digits.evaluate, note="MLPClassifier on digits")
    if name == "cnn":
        path = os.path.join(scratch, "mnist1d.npz")
        prepare_mnist1d(path)
        return Workload("cnn", CNN_SPACE, _npz_loader(path, "mnist1d"), cnn_mnist1d.make_model,
                        cnn_mnist1d.fit_epoch, cnn_mnist1d.evaluate, torch=True, sklearn=False,
                        note="PyTorch 1-D CNN on MNIST-1D (benchmark size: channels 4/8/16, batches 512/1024/2048)")
    if name == "fashion":
        if not fashion_installed():
            print(FASHION_SKIP, flush=True)
            return None
        path = os.path.join(scratch, "fashion.npz")
        prepare_fashion(path)
        n_tr, n_va, n_te = FASHION_SIZES["train"], FASHION_SIZES["val"], FASHION_SIZES["test"]
        return Workload("fashion", FASHION_SPACE, _npz_loader(path, "digits"), mlp_digits.make_model,
                        _digits.fit_epoch, _digits.evaluate,
                        note=f"MLPClassifier on Fashion-MNIST ({n_tr} train / {n_va} val / {n_te} test subsample; "
                        "hidden 8/16/32, batches 64/128/256)")
    raise ValueError(f"unknown workload {name!r}: choose from sgd, mlp, cnn, fashion")


# --------------------------------------------------------------------------- tools


def _curve(events) -> list[tuple[float, float]]:
    """Best-so-far validation accuracy (at any epoch) against seconds, from (seconds, val) pairs."""
    best, out = -math.inf, []
    for t, v in sorted(events):
        if v is not None and v > best:
            best = v
            out.append((round(t, 4), v))
    return out


def run_halving(w: Workload, policy: str, configs: list[dict], seed: int, args, scratch: str) -> dict:
    def train(config: dict) -> None:
        w.threads()
        data = w.load()
        model = w.make(config)
        rng = np.random.default_rng(SEED)
        while True:
            w.epoch(model, data, rng)
            halving.report(**w.metrics(model, data))

    run_dir = os.path.join(scratch, f"halving-{w.name}-{policy}-{seed}")
    start = time.time()
    t0 = time.perf_counter()
    result = halving.tune(train, w.space, metric="val_accuracy", mode="max", policy=policy,
                          max_epochs=args.max_epochs, trials=len(configs), workers=args.workers, seed=seed,
                          run_dir=run_dir)
    wall = time.perf_counter() - t0
    for trial, cfg in result.configs.items():
        if {k: cfg[k] for k in configs[trial]} != configs[trial]:
            raise AssertionError(f"halving's trial {trial} has config {cfg}, expected {configs[trial]}")
    t = result.table()
    trials, epochs, vals, tests, times = (t.column(c).to_pylist()
                                          for c in ("trial", "epoch", "val_accuracy", "test_accuracy", "time"))
    finals = [(tr, v, x) for tr, e, v, x in zip(trials, epochs, vals, tests) if e == args.max_epochs]
    best, val, test = _pick(finals)
    return {"wall": wall, "best_trial": best, "best_val": val, "test": test, "epochs": result.epochs_used,
            "reached_R": len(finals), "engine_wall": result.wall_seconds,
            "curve": _curve([(tm - start, v) for tm, v in zip(times, vals)])}


def make_ray_trainable(w: Workload, configs: list[dict], max_t: int):
    """A function trainable (as ``benchmarks/wall.py``): one ``tune.report`` per epoch, no checkpoints."""

    def train(config: dict) -> None:
        from ray import tune

        w.threads()
        data = w.load()
        model = w.make(configs[config["i"]])
        rng = np.random.default_rng(SEED)
        for _ in range(max_t):
            w.epoch(model, data, rng)
            tune.report(w.metrics(model, data))

    return train


def run_ray(w: Workload, scheduler_name: str, configs: list[dict], seed: int, args) -> dict:
    from ray.tune.schedulers import ASHAScheduler, HyperBandScheduler, MedianStoppingRule

    R, kw = args.max_epochs, {"metric": "val_accuracy", "mode": "max"}
    scheduler = {
        "ASHAScheduler": lambda: ASHAScheduler(max_t=R, grace_period=1, reduction_factor=args.eta, **kw),
        "HyperBandScheduler": lambda: HyperBandScheduler(max_t=R, reduction_factor=args.eta, **kw),
        "MedianStoppingRule": lambda: MedianStoppingRule(time_attr="training_iteration", grace_period=1,
                                                         min_samples_required=3, **kw),
    }[scheduler_name]()
    release_halving_workers()  # not timed: else halving's idle workers hold the CPUs Ray Tune needs
    out = ray_tune_run(make_ray_trainable(w, configs, R), len(configs), scheduler, workers=args.workers,
                       stop={"training_iteration": R}, time_budget_s=args.run_timeout,
                       keep=("val_accuracy", "test_accuracy"))
    finals = [(t["i"], t["last"]["val_accuracy"], t["last"]["test_accuracy"])
              for t in out["trials"] if t["last"].get("training_iteration", 0) >= R]
    best, val, test = _pick(finals)
    return {"wall": out["wall"], "best_trial": best, "best_val": val, "test": test, "epochs": out["results"],
            "reached_R": len(finals), "errors": out["errors"], "trials_seen": out["trials_seen"],
            "timed_out": out["timed_out"], "curve": _curve([(t, m["val_accuracy"]) for t, _, _, m in out["events"]])}


def run_optuna(w: Workload, pruner_name: str, configs: list[dict], seed: int, args) -> dict:
    import optuna
    from threadpoolctl import threadpool_limits

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    dims = Space.from_spec(w.space).dimensions
    R = args.max_epochs
    tests: dict[int, float] = {}
    events: list[tuple[float, float]] = []
    pruner = {
        "SuccessiveHalvingPruner": lambda: optuna.pruners.SuccessiveHalvingPruner(min_resource=1,
                                                                                 reduction_factor=args.eta),
        "HyperbandPruner": lambda: optuna.pruners.HyperbandPruner(min_resource=1, max_resource=R,
                                                                 reduction_factor=args.eta),
        "MedianPruner": lambda: optuna.pruners.MedianPruner(),
    }[pruner_name]()

    def objective(trial) -> float:
        cfg = {name: _suggest(trial, name, dim) for name, dim in dims.items()}
        data = w.load()
        model = w.make(cfg)
        rng = np.random.default_rng(SEED)
        for epoch in range(1, R + 1):
            w.epoch(model, data, rng)
            ev = w.metrics(model, data)
            events.append((time.perf_counter() - t0, ev["val_accuracy"]))
            trial.report(ev["val_accuracy"], epoch)
            if epoch == R:
                tests[trial.number] = ev["test_accuracy"]
            if trial.should_prune():
                raise optuna.TrialPruned()
        return ev["val_accuracy"]

    if w.torch:
        import torch

        threads = torch.get_num_threads()
        torch.set_num_threads(1)
    try:
        with threadpool_limits(1):
            t0 = time.perf_counter()
            study = optuna.create_study(direction="maximize", sampler=optuna.samplers.RandomSampler(seed=seed),
                                        pruner=pruner)
            for cfg in configs:
                study.enqueue_trial(cfg)
            study.optimize(objective, n_trials=len(configs), n_jobs=1)
            wall = time.perf_counter() - t0
    finally:
        if w.torch:
            torch.set_num_threads(threads)
    trials = study.get_trials(deepcopy=False)
    for t in trials:
        if {k: t.params[k] for k in configs[t.number]} != configs[t.number]:
            raise AssertionError(f"Optuna's trial {t.number} ran {t.params}, expected {configs[t.number]}")
    finals = [(t.number, t.intermediate_values[R], tests[t.number]) for t in trials if R in t.intermediate_values]
    best, val, test = _pick(finals)
    return {"wall": wall, "best_trial": best, "best_val": val, "test": test,
            "epochs": sum(len(t.intermediate_values) for t in trials), "reached_R": len(finals),
            "curve": _curve(events)}


def _sklearn_estimator(w: Workload, config: dict, R: int):
    """The workload's estimator for ``fit``: ``max_iter`` epochs, never stopping early."""
    est = w.make(config)
    if w.name == "sgd":
        return est.set_params(tol=None, shuffle=True, max_iter=R)
    return est.set_params(shuffle=True, max_iter=R, n_iter_no_change=10 * R + 10)


def run_sklearn(w: Workload, configs: list[dict], seed: int, args) -> dict:
    from sklearn.experimental import enable_halving_search_cv  # noqa: F401
    from sklearn.model_selection import HalvingRandomSearchCV, PredefinedSplit

    R = args.max_epochs
    d = w.load()
    X = np.concatenate([d.X_train, d.X_val])
    y = np.concatenate([d.y_train, d.y_val])
    cv = PredefinedSplit(np.r_[np.full(len(d.y_train), -1), np.zeros(len(d.y_val), dtype=int)])
    base = _sklearn_estimator(w, configs[0], R)
    params = [_sklearn_estimator(w, c, R).get_params() for c in configs]
    varying = sorted(k for k in params[0] if any(repr(p[k]) != repr(params[0][k]) for p in params))
    dists = [{k: [p[k]] for k in varying} for p in params]
    os.environ.setdefault("PYTHONWARNINGS", "ignore")  # ConvergenceWarning from every short fit, in the workers
    search = HalvingRandomSearchCV(base, dists, n_candidates=len(configs), resource="max_iter", min_resources=1,
                                   max_resources=R, factor=args.eta, cv=cv, n_jobs=args.workers, refit=False,
                                   random_state=seed)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        t0 = time.perf_counter()
        search.fit(X, y)
        wall = time.perf_counter() - t0
        res = search.cv_results_
        first = sorted(repr(sorted((k, repr(v)) for k, v in p.items() if k != "max_iter"))
                       for p, it in zip(res["params"], res["iter"]) if it == 0)
        expect = sorted(repr(sorted((k, repr(v)) for k, v in dd.items())) for dd in
                        ({k: v[0] for k, v in x.items()} for x in dists))
        if first != expect:
            raise AssertionError("HalvingRandomSearchCV did not run exactly the given configurations")
        best = base.__class__(**{**base.get_params(), **search.best_params_, "max_iter": R}).fit(d.X_train, d.y_train)
        val_check = float(best.score(d.X_val, d.y_val))
        test = float(best.score(d.X_test, d.y_test))
    last = res["iter"] == res["iter"].max()
    reached = int(np.sum(last & (res["n_resources"] >= R)))
    return {"wall": wall, "best_trial": None, "best_val": float(search.best_score_), "test": test,
            "epochs": int(np.sum(res["n_resources"])), "reached_R": reached, "refit_val_check": val_check,
            "n_candidates": [int(c) for c in search.n_candidates_], "n_resources": [int(r) for r in search.n_resources_],
            "curve": [(round(wall, 4), float(search.best_score_))]}


# --------------------------------------------------------------------------- driver


def tool_list(w: Workload) -> list[tuple[str, str]]:
    runs = [("halving", p) for p in HALVING_POLICIES] + [("ray_tune", s) for s in RAY_SCHEDULERS]
    runs += [("optuna", p) for p in OPTUNA_PRUNERS]
    if w.sklearn:
        runs += [("sklearn", s) for s in SKLEARN]
    return runs


def run_one(w: Workload, tool: str, policy: str, configs: list[dict], seed: int, args, scratch: str) -> dict:
    if tool == "halving":
        return run_halving(w, policy, configs, seed, args, scratch)
    if tool == "ray_tune":
        return run_ray(w, policy, configs, seed, args)
    if tool == "optuna":
        return run_optuna(w, policy, configs, seed, args)
    return run_sklearn(w, configs, seed, args)


def summarise(runs: list[dict], args) -> list[dict]:
    full_epochs = args.trials * args.max_epochs
    rows = []
    for wname in dict.fromkeys(r["workload"] for r in runs):
        rs = [r for r in runs if r["workload"] == wname and r.get("wall") is not None]
        full = {r["seed"]: r["best_val"] for r in rs if r["tool"] == "halving" and r["policy"] == "none"}
        group: dict[tuple[str, str], list[dict]] = {}
        for r in rs:
            group.setdefault((r["tool"], r["policy"]), []).append(r)
        out = []
        for (tool, policy), g in group.items():
            ratio_full = [r["best_val"] / full[r["seed"]] for r in g
                          if r["best_val"] is not None and full.get(r["seed"])]
            out.append({"workload": wname, "tool": tool, "policy": policy, "seeds": len(g),
                        "best_val": median([r["best_val"] for r in g]), "test": median([r["test"] for r in g]),
                        "epochs": median([r["epochs"] for r in g]), "wall": median([r["wall"] for r in g]),
                        "epochs_over_full": median([r["epochs"] for r in g]) / full_epochs,
                        "best_val_over_full": median(ratio_full),
                        "timed_out": any(r.get("timed_out") for r in g)})
        peers = [o for o in out if o["tool"] != "halving"]
        fastest = min(peers, key=lambda o: o["wall"]) if peers else None
        for o in out:
            o["fastest_peer"] = f"{fastest['tool']} {fastest['policy']}" if fastest else None
            o["wall_over_fastest_peer"] = o["wall"] / fastest["wall"] if fastest else float("nan")
        rows += out
    return rows


COLUMNS = [("workload", "workload"), ("tool", "tool"), ("policy", "policy"), ("seeds", "seeds"),
           ("best_val", "best val @R"), ("test", "test acc"), ("epochs", "epochs"), ("wall", "wall s"),
           ("wall_over_fastest_peer", "wall / fastest peer"), ("epochs_over_full", "epochs / full"),
           ("best_val_over_full", "best val / full")]


def _cell(v) -> str:
    if isinstance(v, float):
        if v != v:
            return "-"
        return f"{v:.1f}" if abs(v) >= 100 else f"{v:.3f}"
    return "-" if v is None else str(v)


def write_outputs(out: str, runs: list[dict], rows: list[dict], args, notes: list[str]) -> None:
    os.makedirs(out, exist_ok=True)
    fields = ["workload", "seed", "tool", "policy", "best_val", "test", "epochs", "wall", "reached_R", "best_trial",
              "timed_out", "error"]
    with open(os.path.join(out, "runs.csv"), "w", newline="") as fh:
        wr = csv.DictWriter(fh, fieldnames=fields, extrasaction="ignore")
        wr.writeheader()
        wr.writerows(runs)
    with open(os.path.join(out, "summary.csv"), "w", newline="") as fh:
        wr = csv.DictWriter(fh, fieldnames=[c for c, _ in COLUMNS] + ["fastest_peer", "timed_out"])
        wr.writeheader()
        wr.writerows(rows)
    lines = [f"# halving against its peers: {args.trials} configurations, R={args.max_epochs}, eta={args.eta}, "
             f"{args.workers} workers", ""]
    lines += [f"- {n}" for n in notes] + [""]
    lines.append("| " + " | ".join(h for _, h in COLUMNS) + " |")
    lines.append("|" + "|".join("---" if c in ("workload", "tool", "policy") else "---:" for c, _ in COLUMNS) + "|")
    for r in rows:
        lines.append("| " + " | ".join(_cell(r[c]) for c, _ in COLUMNS) + " |")
    with open(os.path.join(out, "summary.md"), "w") as fh:
        fh.write("\n".join(lines) + "\n")
    plot(out, runs)


def plot(out: str, runs: list[dict]) -> None:
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        print("matplotlib is not installed: no plot (pip install -e '.[plot]')")
        return
    names = list(dict.fromkeys(r["workload"] for r in runs if r.get("curve")))
    if not names:
        return
    fig, axes = plt.subplots(1, len(names), figsize=(6.5 * len(names), 5), squeeze=False)
    styles = {"halving": "-", "ray_tune": "--", "optuna": ":", "sklearn": "-."}
    for ax, wname in zip(axes[0], names):
        seed = min(r["seed"] for r in runs if r["workload"] == wname and r.get("curve"))
        rs = [r for r in runs if r["workload"] == wname and r["seed"] == seed and r.get("curve")]
        cmap = plt.get_cmap("tab20")
        for k, r in enumerate(rs):
            ts, vs = zip(*r["curve"])
            label = f"{r['tool']} {r['policy']}"
            if len(ts) == 1:
                ax.plot(ts, vs, marker="*", markersize=12, linestyle="none", color=cmap(k % 20), label=label)
            else:
                ax.step(list(ts) + [r["wall"]], list(vs) + [vs[-1]], where="post", linestyle=styles[r["tool"]],
                        color=cmap(k % 20), label=label)
        ax.set_xscale("log")
        ax.set_xlabel("wall seconds (log)")
        ax.set_ylabel("best validation accuracy so far")
        ax.set_title(f"{wname}, seed {seed}")
        lo = [r["curve"][-1][1] for r in rs]
        ax.set_ylim(max(0.0, min(lo) - 0.1), min(1.0, max(lo) + 0.02))
        ax.grid(alpha=0.3)
    axes[0][-1].legend(fontsize=7, loc="lower right")
    fig.tight_layout()
    path = os.path.join(out, "best_so_far.png")
    fig.savefig(path, dpi=110)
    plt.close(fig)
    print(f"wrote {path}")


def main(argv: list[str] | None = None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--workloads", default=None, help="comma-separated, of sgd,mlp,cnn,fashion (default: sgd,mlp; "
                    "with --quick: sgd)")
    ap.add_argument("--seeds", type=int, default=3, help="seeds of every workload (0..N-1)")
    ap.add_argument("--trials", type=int, default=81)
    ap.add_argument("--max-epochs", type=int, default=27)
    ap.add_argument("--eta", type=int, default=3)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--cpus", type=int, default=2, help="CPUs of the local Ray")
    ap.add_argument("--max-minutes", type=float, default=28.0,
                    help="skip a (workload, seed) block that would end later than this from the start")
    ap.add_argument("--run-timeout", type=float, default=240.0, help="Ray Tune's time_budget_s for one run")
    ap.add_argument("--quick", action="store_true",
                    help="smoke run: 9 trials, R=3, 1 seed, sgd unless --workloads is given, 3-minute limit")
    ap.add_argument("--out", default="compare-peers", help="directory for the CSV, markdown, PNG and JSON")
    args = ap.parse_args(argv)
    if args.quick:
        args.trials, args.max_epochs, args.seeds = 9, 3, 1
        args.max_minutes = min(args.max_minutes, 3.0)
    if args.workloads is None:
        args.workloads = "sgd" if args.quick else "sgd,mlp"
    names = [w.strip() for w in args.workloads.split(",") if w.strip()]
    began = time.perf_counter()
    runs: list[dict] = []
    skipped: list[str] = []
    notes: list[str] = []
    with tempdir("compare-peers-") as scratch:
        workloads = {}
        for n in names:
            w = make_workload(n, scratch)
            if w is None:
                skipped.append(FASHION_SKIP)
            else:
                workloads[n] = w
                if not w.sklearn:
                    msg = (f"{n}: HalvingRandomSearchCV skipped, {w.note} is not a scikit-learn estimator "
                           "(its resource would be max_iter or n_samples of an estimator's fit)")
                    print(msg, flush=True)
                    skipped.append(msg)
        blocks = [(n, s) for s in range(args.seeds) for n in workloads]
        print(f"plan: {len(blocks)} (workload, seed) blocks: {blocks}; per block: halving "
              f"{', '.join(HALVING_POLICIES)}; Ray Tune {', '.join(RAY_SCHEDULERS)}; Optuna "
              f"{', '.join(OPTUNA_PRUNERS)} (n_jobs=1); scikit-learn HalvingRandomSearchCV where it applies. "
              f"{args.trials} configurations, R={args.max_epochs}, eta={args.eta}, {args.workers} workers; "
              f"limit {args.max_minutes:g} min", flush=True)
        ray_init = start_ray(args.cpus)
        print(f"Ray started with num_cpus={args.cpus} in {ray_init:.2f} s (shared by halving and Ray Tune, "
              f"excluded from every wall time)", flush=True)
        block_secs: dict[str, list[float]] = {}
        try:
            for wname, seed in blocks:
                w = workloads[wname]
                elapsed = time.perf_counter() - began
                est = median(block_secs[wname]) if wname in block_secs else GUESS[wname] * (
                    args.trials * args.max_epochs / 2187.0)
                if elapsed + est > 60 * args.max_minutes:
                    msg = (f"{wname} seed {seed}: skipped, it would take about {est:.0f} s and "
                           f"{elapsed:.0f} s of the {60 * args.max_minutes:.0f} s limit (--max-minutes) are gone")
                    print(msg, flush=True)
                    skipped.append(msg)
                    continue
                configs = Space.from_spec(w.space).sample(args.trials, seed)
                b0 = time.perf_counter()
                for tool, policy in tool_list(w):
                    try:
                        r = run_one(w, tool, policy, configs, seed, args, scratch)
                    except Exception as exc:  # noqa: BLE001 - one failed run must not end the benchmark
                        r = {"wall": None, "best_val": None, "test": None, "epochs": None,
                             "error": f"{type(exc).__name__}: {exc}"[:500]}
                    r.update(workload=wname, seed=seed, tool=tool, policy=policy)
                    runs.append(r)
                    if r.get("wall") is None:
                        print(f"[{wname} seed {seed}] {tool} {policy}: FAILED {r['error']}", flush=True)
                    else:
                        print(f"[{wname} seed {seed}] {tool} {policy}: wall {r['wall']:.1f} s, best val "
                              f"{r['best_val']} (trial {r.get('best_trial')}, {r.get('reached_R')} reached R), "
                              f"test {r['test']}, epochs {r['epochs']}"
                              + (" TIMED OUT" if r.get("timed_out") else ""), flush=True)
                block_secs.setdefault(wname, []).append(time.perf_counter() - b0)
                print(f"[{wname} seed {seed}] block took {block_secs[wname][-1]:.0f} s; "
                      f"{time.perf_counter() - began:.0f} s since the start", flush=True)
        finally:
            stop_ray()
    rows = summarise(runs, args)
    ran = sorted({(r["workload"], r["seed"]) for r in runs})
    notes += [
        f"ran: {', '.join(f'{w} seed {s}' for w, s in ran)}; values are medians over the seeds run",
        f"wall time excludes Ray's start (ray.init(num_cpus={args.cpus}), {ray_init:.1f} s, once for all runs)",
        "Optuna runs one trial at a time (n_jobs=1) in this process, BLAS and torch at one thread; halving and "
        f"Ray Tune run {args.workers} trials at a time; HalvingRandomSearchCV uses n_jobs={args.workers}",
        "HalvingRandomSearchCV: resource=max_iter (epochs of a fit from scratch), on the same train/validation "
        "split (PredefinedSplit); it refits each survivor from scratch at each rung",
        f"best val @R: best final validation accuracy of the trials that trained R={args.max_epochs} epochs; "
        "test acc: that trial's test accuracy at R",
        f"full budget = halving `none` (every configuration to R: {args.trials * args.max_epochs} epochs); "
        "fastest peer = lowest median wall among Ray Tune, Optuna and scikit-learn rows",
    ] + [f"skipped: {s}" for s in skipped]
    print_table(f"{args.trials} configurations, R={args.max_epochs}, eta={args.eta}, {args.workers} workers; "
                f"medians over seeds", [h for _, h in COLUMNS], [[r[c] for c, _ in COLUMNS] for r in rows])
    for n in notes:
        print("-", n)
    total = time.perf_counter() - began
    print(f"total {total:.0f} s ({total / 60:.1f} min)")
    write_outputs(args.out, runs, rows, args, notes)
    payload = {"benchmark": "compare_peers", "params": vars(args), "ray_init_seconds": ray_init,
               "total_seconds": total, "notes": notes, "skipped": skipped, "summary": rows, "runs": runs}
    save_json(os.path.join(args.out, "compare_peers.json"), payload)
    print(f"wrote {args.out}/runs.csv, summary.csv, summary.md")
    return payload


if __name__ == "__main__":
    main()
