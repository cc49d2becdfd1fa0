"""A one-hidden-layer MLP on the scikit-learn digits, trained one epoch at a time.

``train(config)`` is a function trainable: each epoch is one
``MLPClassifier.partial_fit`` pass over the training set, in minibatches of
``batch_size``, followed by ``halving.report``. Run the bundled example with
``halving run mlp-digits``, or a small tune with::

    python examples/mlp_digits.py
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
from sklearn.datasets import load_digits
from sklearn.model_selection import train_test_split
from sklearn.neural_network import MLPClassifier
from sklearn.preprocessing import StandardScaler

import halving
from halving.space import choice, loguniform

space = {
    "hidden_units": choice([16, 32, 64, 128, 256]),  # one hidden layer of this width
    "alpha": loguniform(1e-6, 1e-1),
    "learning_rate_init": loguniform(1e-4, 1e-1),
    "batch_size": choice([32, 64, 128]),
}

#: Seeds the data split, the weights and each trial's shuffling (unless its
#: config has a "seed"), so trials differ only by config.
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


def make_model(config: dict) -> MLPClassifier:
    return MLPClassifier(
        hidden_layer_sizes=(config["hidden_units"],),
        alpha=config["alpha"],
        learning_rate_init=config["learning_rate_init"],
        batch_size=config["batch_size"],
        solver="adam",
        shuffle=False,  # fit_epoch shuffles, with the trial's own generator
        random_state=config.get("seed", SEED),
    )


def fit_epoch(model: MLPClassifier, data: Data, rng: np.random.Generator) -> None:
    """One pass over the training set, in a fresh random order."""
    order = rng.permutation(len(data.y_train))
    model.partial_fit(data.X_train[order], data.y_train[order], classes=data.classes)


def evaluate(model: MLPClassifier, data: Data) -> dict[str, float]:
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
