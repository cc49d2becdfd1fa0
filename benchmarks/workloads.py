"""The workload registry every benchmark and every tool adapter shares.

A trainable workload has a search space, a metric, ``start(config)`` (a trial's
state) and ``epoch(state, epoch)`` (train one epoch, return the metrics); each
adapter wraps those two in its tool's own trainable, so every tool trains the
same code. Search workloads (``sgd-cv``, ``gbc``) are scikit-learn estimators
for the two search estimators.

| name | what |
|---|---|
| noop | no work: a deterministic pseudo-random curve of (config, epoch) |
| busy | ``epoch_s`` seconds of CPU spin per epoch (or sleep), same curve |
| sgd, mlp | the bundled examples ``sgd_digits`` and ``mlp_digits`` |
| sgd-wide, mlp-wide | the same models on digits over wider spaces, where the sampler matters |
| cnn | ``cnn_mnist1d``'s model at a benchmark size (needs torch, mnist1d) |
| fashion | ``mlp_digits``'s model on a Fashion-MNIST subsample (Debian's dataset-fashion-mnist) |
| sgd-cv, gbc | SGDClassifier on digits, GradientBoostingClassifier on breast_cancer, for search estimators |
"""

from __future__ import annotations

import math
import os
import time
from dataclasses import dataclass, field
from typing import Any, Callable

import numpy as np

from halving import space

from . import datasets

__all__ = ["CNN_SPACE", "CURVE_SPACE", "FASHION_SPACE", "MLP_WIDE_SPACE", "REGISTRY", "SGD_WIDE_SPACE", "SearchWorkload", "Unavailable", "Workload",
           "make", "sample_configs"]

SEED = 0  # the examples' seed: weights and each trial's shuffling; trials differ only by config
CURVE_SPACE = {"final": space.uniform(0.5, 1.0), "tau": space.loguniform(1.0, 20.0),
               "key": space.randint(0, 2**31 - 1)}
#: cnn_mnist1d.space has channels 16/32/64 and batches 32/64/128 (epochs of 0.3-0.5 s on a Ray
#: worker); these cheaper choices keep its learning-rate and weight-decay ranges.
CNN_SPACE = {"channels": space.choice([4, 8, 16]), "lr": space.loguniform(1e-4, 1e-1),
             "weight_decay": space.loguniform(1e-6, 1e-2), "batch_size": space.choice([512, 1024, 2048])}
#: mlp_digits.space has 16 to 256 hidden units and batches of 32/64/128.
FASHION_SPACE = {"hidden_units": space.choice([8, 16, 32]), "alpha": space.loguniform(1e-6, 1e-1),
                 "learning_rate_init": space.loguniform(1e-4, 1e-1), "batch_size": space.choice([64, 128, 256])}

#: sgd_digits.space widened for the quality benchmark: learning rates and penalties over six to
#: seven decades (most of which learn nothing or diverge in a few epochs), every loss and
#: learning-rate schedule of SGDClassifier, and averaging; a random draw is mostly poor, so a
#: sampler that learns where the good region is has room to matter.
SGD_WIDE_SPACE = {"loss": space.choice(["hinge", "log_loss", "modified_huber", "squared_hinge", "perceptron"]),
                  "penalty": space.choice(["l2", "l1", "elasticnet"]), "alpha": space.loguniform(1e-7, 1.0),
                  "learning_rate": space.choice(["constant", "optimal", "invscaling", "adaptive"]),
                  "eta0": space.loguniform(1e-6, 1.0), "power_t": space.uniform(0.05, 0.95),
                  "average": space.choice([False, True])}
#: mlp_digits.space widened the same way: 4 to 256 hidden units, three activations, learning
#: rates over five decades, penalties over seven, Adam's beta_1.
MLP_WIDE_SPACE = {"hidden_units": space.choice([4, 8, 16, 32, 64, 128, 256]),
                  "activation": space.choice(["relu", "tanh", "logistic"]), "alpha": space.loguniform(1e-7, 1.0),
                  "learning_rate_init": space.loguniform(1e-5, 1.0), "batch_size": space.choice([32, 64, 128, 256]),
                  "beta_1": space.uniform(0.5, 0.99)}


def sgd_wide_model(config: dict) -> Any:
    """sgd_digits.make_model with the wide space's further settings."""
    from sklearn.linear_model import SGDClassifier

    return SGDClassifier(loss=config["loss"], penalty=config["penalty"], alpha=config["alpha"],
                         learning_rate=config["learning_rate"], eta0=config["eta0"], power_t=config["power_t"],
                         average=config["average"], shuffle=False, random_state=SEED)


def mlp_wide_model(config: dict) -> Any:
    """mlp_digits.make_model with the wide space's further settings."""
    from sklearn.neural_network import MLPClassifier

    return MLPClassifier(hidden_layer_sizes=(config["hidden_units"],), activation=config["activation"],
                         alpha=config["alpha"], learning_rate_init=config["learning_rate_init"],
                         batch_size=config["batch_size"], beta_1=config["beta_1"], solver="adam", shuffle=False,
                         random_state=config.get("seed", SEED))


class Unavailable(RuntimeError):
    """A workload whose data or packages are not installed; the message says how to get them."""


def sample_configs(spec: dict, n: int, seed: int) -> list[dict]:
    """The ``n`` configurations ``halving.tune(space=spec, trials=n, seed=seed)`` samples."""
    from halving.space import Space

    return Space.from_spec(spec).sample(n, seed)


def curve(cfg: dict, epoch: int) -> float:
    """A deterministic pseudo-random learning curve: a smooth trend plus hash-like noise."""
    noise = math.sin(cfg["key"] * 1e-3 + epoch * 12.9898) * 43758.5453
    noise -= math.floor(noise)
    return cfg["final"] * (1.0 - math.exp(-epoch / cfg["tau"])) + 0.01 * (noise - 0.5)


@dataclass
class Workload:
    """No work per epoch: the value is ``curve(config, epoch)``."""

    name: str = "noop"
    space: dict = field(default_factory=lambda: dict(CURVE_SPACE))
    metric: str = "acc"
    mode: str = "max"
    torch: bool = False
    sklearn: bool = False  # trainable as a scikit-learn estimator (HalvingRandomSearchCV)
    note: str = "no-work trainable: a deterministic pseudo-random curve"

    def start(self, config: dict) -> Any:
        return config

    def epoch(self, state: Any, epoch: int) -> dict[str, float]:
        return {"acc": curve(state, epoch)}


@dataclass
class BusyWorkload(Workload):
    """``epoch_s`` seconds of work per epoch, timed by the trainable and reported as ``train_seconds``."""

    name: str = "busy"
    epoch_s: float = 0.05
    sleep: bool = False  # sleep instead of spinning: the scheduling overhead alone
    note: str = "busy-loop epochs"

    def epoch(self, state: Any, epoch: int) -> dict[str, float]:
        t0 = time.perf_counter()
        if self.sleep:
            time.sleep(self.epoch_s)
        else:
            end, x = t0 + self.epoch_s, 0
            while time.perf_counter() < end:
                for _ in range(200):
                    x += 1
        return {"acc": curve(state, epoch), "train_seconds": time.perf_counter() - t0}


@dataclass
class ModelWorkload(Workload):
    """A bundled example's model, data and epoch; reports validation and test accuracy."""

    load: Callable[[], Any] | None = None
    make_model: Callable[[dict], Any] | None = None
    fit_epoch: Callable[..., Any] | None = None
    evaluate: Callable[..., dict] | None = None
    metric: str = "val_accuracy"
    sklearn: bool = True

    def start(self, config: dict) -> Any:
        if self.torch:
            import torch

            if torch.get_num_threads() != 1:  # one thread per trial, for every tool
                torch.set_num_threads(1)
        return self.make_model(config), self.load(), np.random.default_rng(config.get("seed", SEED))

    def epoch(self, state: Any, epoch: int) -> dict[str, float]:
        model, data, rng = state
        self.fit_epoch(model, data, rng)
        return self.evaluate(model.net if self.torch else model, data)


@dataclass
class SearchWorkload:
    """A scikit-learn estimator and space for ``HalvingSearchCV`` against ``HalvingRandomSearchCV``."""

    name: str
    X: np.ndarray
    y: np.ndarray
    space: dict
    n: int
    R: int
    unit: str
    ours: Any  # the estimator HalvingSearchCV trains for R epochs
    theirs: Any  # the estimator HalvingRandomSearchCV refits per rung
    resource: str
    min_resources: int
    max_resources: int


def _example(name: str) -> ModelWorkload:
    from halving.examples import mlp_digits, sgd_digits

    mod = {"sgd": sgd_digits, "mlp": mlp_digits}[name]
    what = {"sgd": "SGDClassifier", "mlp": "MLPClassifier"}[name]
    return ModelWorkload(name=name, space=mod.space, load=mod.load_data, make_model=mod.make_model,
                         fit_epoch=mod.fit_epoch, evaluate=mod.evaluate, note=f"{what} on digits")


def _wide(name: str) -> ModelWorkload:
    from halving.examples import _digits

    spec, model, what = {"sgd-wide": (SGD_WIDE_SPACE, sgd_wide_model, "SGDClassifier"),
                         "mlp-wide": (MLP_WIDE_SPACE, mlp_wide_model, "MLPClassifier")}[name]
    return ModelWorkload(name=name, space=spec, load=_digits.load_data, make_model=model,
                         fit_epoch=_digits.fit_epoch, evaluate=_digits.evaluate,
                         note=f"{what} on digits over a wide space (benchmarks.workloads.{name.split('-')[0].upper()}"
                              "_WIDE_SPACE)")


def _cnn(scratch: str) -> ModelWorkload:
    try:
        import mnist1d  # noqa: F401
        import torch  # noqa: F401
    except ImportError as exc:
        raise Unavailable(f"cnn: needs torch and mnist1d (pip install -e '.[torch]'): {exc}") from None
    from halving.examples import cnn_mnist1d

    path = os.path.join(scratch, "mnist1d.npz")
    datasets.prepare_mnist1d(path)
    return ModelWorkload(name="cnn", space=CNN_SPACE, load=datasets.npz_loader(path, "mnist1d"),
                         make_model=cnn_mnist1d.make_model, fit_epoch=cnn_mnist1d.fit_epoch,
                         evaluate=cnn_mnist1d.evaluate, torch=True, sklearn=False,
                         note="PyTorch 1-D CNN on MNIST-1D (channels 4/8/16, batches 512/1024/2048)")


def _fashion(scratch: str) -> ModelWorkload:
    if not datasets.fashion_installed():
        raise Unavailable(f"fashion: the Debian package dataset-fashion-mnist is not installed (no "
                          f"{datasets.FASHION_DIR}); sudo apt-get install dataset-fashion-mnist")
    from halving.examples import _digits, mlp_digits

    path = os.path.join(scratch, "fashion.npz")
    datasets.prepare_fashion(path)
    n = datasets.FASHION_SIZES
    return ModelWorkload(name="fashion", space=FASHION_SPACE, load=datasets.npz_loader(path, "digits"),
                         make_model=mlp_digits.make_model, fit_epoch=_digits.fit_epoch, evaluate=_digits.evaluate,
                         note=f"MLPClassifier on Fashion-MNIST ({n['train']} train / {n['val']} val / {n['test']} "
                              "test; hidden 8/16/32, batches 64/128/256)")


def _search(name: str, quick: bool) -> SearchWorkload:
    from scipy.stats import loguniform, randint, uniform
    from sklearn.datasets import load_breast_cancer, load_digits
    from sklearn.ensemble import GradientBoostingClassifier
    from sklearn.linear_model import SGDClassifier

    n, R = (9, 9) if quick else (81, 27)
    if name == "sgd-cv":
        X, y = load_digits(return_X_y=True)
        sgd_space = {"loss": ["hinge", "log_loss", "modified_huber"], "penalty": ["l2", "l1", "elasticnet"],
                     "alpha": loguniform(1e-6, 1e-1),
                     "learning_rate": ["constant", "optimal", "invscaling", "adaptive"],
                     "eta0": loguniform(1e-4, 1e-1)}
        # tol=None: no early stop, so a candidate at n_resources=k is fit for exactly k epochs
        return SearchWorkload(name, X / 16.0, y, sgd_space, n, R, "fold-epochs", SGDClassifier(random_state=0),
                              SGDClassifier(random_state=0, tol=None, max_iter=R), "max_iter", 1, R)
    X, y = load_breast_cancer(return_X_y=True)
    gbc_space = {"learning_rate": loguniform(0.01, 1.0), "max_depth": [1, 2, 3, 4],
                 "subsample": uniform(0.5, 0.5), "min_samples_leaf": randint(1, 30),
                 "max_features": ["sqrt", 0.5, None]}
    per_epoch = 3  # trees per epoch: halving grows n_estimators with warm_start
    return SearchWorkload(name, X, y, gbc_space, n, R, "trees",
                          GradientBoostingClassifier(n_estimators=per_epoch * R, random_state=0),
                          GradientBoostingClassifier(random_state=0), "n_estimators", per_epoch, per_epoch * R)


REGISTRY: dict[str, Callable[..., Any]] = {
    "noop": lambda **kw: Workload(),
    "busy": lambda epoch_s=0.05, sleep=False, **kw: BusyWorkload(epoch_s=epoch_s, sleep=sleep),
    "sgd": lambda **kw: _example("sgd"),
    "mlp": lambda **kw: _example("mlp"),
    "sgd-wide": lambda **kw: _wide("sgd-wide"),
    "mlp-wide": lambda **kw: _wide("mlp-wide"),
    "cnn": lambda scratch, **kw: _cnn(scratch),
    "fashion": lambda scratch, **kw: _fashion(scratch),
    "sgd-cv": lambda quick=False, **kw: _search("sgd-cv", quick),
    "gbc": lambda quick=False, **kw: _search("gbc", quick),
}


def make(name: str, **options: Any) -> Any:
    """The workload ``name`` (see the table above); raises ``Unavailable`` when its data is missing."""
    if name not in REGISTRY:
        raise ValueError(f"unknown workload {name!r}: choose from {', '.join(REGISTRY)}")
    return REGISTRY[name](**options)
