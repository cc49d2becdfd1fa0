"""Linear classifiers on the scikit-learn digits, trained by SGD one epoch at a time.

``train(config)`` is a function trainable: it trains for as long as halving
grants epochs and reports the validation accuracy after each one. Run the
bundled example with ``halving run sgd-digits``, or a small tune with::

    python examples/sgd_digits.py
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
from sklearn.datasets import load_digits
from sklearn.linear_model import SGDClassifier
from sklearn.model_selection import train_test_split
from sklearn.preprocessing import StandardScaler

import halving
from halving.space import choice, loguniform

space = {
    "loss": choice(["hinge", "log_loss", "modified_huber"]),
    "penalty": choice(["l2", "l1", "elasticnet"]),
    "alpha": loguniform(1e-6, 1e-1),
    "learning_rate": choice(["constant", "invscaling"]),
    "eta0": loguniform(1e-4, 1e-1),
}

#: Seeds the data split and each trial's shuffling (unless its config has a "seed"),
#: so trials differ only by config.
SEED = 0


class Data(NamedTuple):
    X_train: np.ndarray
    y_train: np.ndarray
    X_val: np.ndarray
    y_val: np.ndarray
    X_test: np.ndarray
    y_test: np.ndarray
    classes: np.ndarray


# A plain dict, not functools.lru_cache: run as a script, this file is __main__
# and Ray pickles train() by value; an lru_cache wrapper defined in __main__
# cannot be unpickled in a worker.
_cache: dict[str, Data] = {}


def load_data() -> Data:
    """The digits split 60/20/20 (stratified, always the same split), standardised
    on the training part. Loaded once per process and shared by its trials."""
    if "data" not in _cache:
        X, y = load_digits(return_X_y=True)
        X_train, X_rest, y_train, y_rest = train_test_split(
            X, y, test_size=0.4, stratify=y, random_state=SEED)
        X_val, X_test, y_val, y_test = train_test_split(
            X_rest, y_rest, test_size=0.5, stratify=y_rest, random_state=SEED)
        scaler = StandardScaler().fit(X_train)
        _cache["data"] = Data(scaler.transform(X_train), y_train, scaler.transform(X_val), y_val,
                              scaler.transform(X_test), y_test, np.unique(y))
    return _cache["data"]


def make_model(config: dict) -> SGDClassifier:
    return SGDClassifier(
        loss=config["loss"],
        penalty=config["penalty"],
        alpha=config["alpha"],
        learning_rate=config["learning_rate"],
        eta0=config["eta0"],
        shuffle=False,  # fit_epoch shuffles, with the trial's own generator
        random_state=SEED,
    )


def fit_epoch(model: SGDClassifier, data: Data, rng: np.random.Generator) -> None:
    """One pass over the training set, in a fresh random order."""
    order = rng.permutation(len(data.y_train))
    model.partial_fit(data.X_train[order], data.y_train[order], classes=data.classes)


def evaluate(model: SGDClassifier, data: Data) -> dict[str, float]:
    return {
        "val_accuracy": float(model.score(data.X_val, data.y_val)),
        "test_accuracy": float(model.score(data.X_test, data.y_test)),
    }


def train(config: dict) -> None:
    data = load_data()
    model = make_model(config)
    rng = np.random.default_rng(config.get("seed", SEED))
    # No epoch count here: halving grants epochs, and ends the trial inside report().
    while True:
        fit_epoch(model, data, rng)
        halving.report(**evaluate(model, data), model=model)


def main(trials: int = 27, max_epochs: int = 9, workers: int = 2, seed: int = 0) -> halving.Result:
    result = halving.tune(train, space, metric="val_accuracy", mode="max", max_epochs=max_epochs,
                          trials=trials, workers=workers, seed=seed)
    if result.best_trial is None:
        print("no trial reached", max_epochs, "epochs")
        return result
    print(f"best trial {result.best_trial}: val_accuracy {result.best_value:.4f} after {max_epochs} epochs")
    print("config:", result.best_config)
    if result.best_model is not None:
        print(f"test_accuracy of its model: {evaluate(result.best_model, load_data())['test_accuracy']:.4f}")
    print(f"{result.n_trials} trials ({result.n_completed} completed, {result.n_stopped} stopped, "
          f"{result.n_failed} failed) in {result.epochs_used} epochs of {trials * max_epochs} "
          f"without early termination; {result.wall_seconds:.1f} s")
    return result


if __name__ == "__main__":
    main()
