"""The SGD-on-digits example of ``sgd_digits.py``, written as a class trainable.

A class trainable has ``setup(config)``, called once per trial, and
``train_epoch()``, which trains one epoch and returns that epoch's metrics.
``save()`` / ``restore(state)`` let halving move a paused trial to another
worker when its own is busy, and ``model()`` is what ``result.best_model``
returns. Run a small tune with::

    python examples/class_trainable.py
"""

from __future__ import annotations

from typing import Any, NamedTuple

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
# and Ray pickles the class by value; an lru_cache wrapper defined in __main__
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


class SGDDigits:
    def setup(self, config: dict) -> None:
        self.data = load_data()
        self.clf = SGDClassifier(loss=config["loss"], penalty=config["penalty"], alpha=config["alpha"],
                                 learning_rate=config["learning_rate"], eta0=config["eta0"],
                                 shuffle=False, random_state=SEED)
        self.rng = np.random.default_rng(config.get("seed", SEED))

    def train_epoch(self) -> dict[str, float]:
        d = self.data
        order = self.rng.permutation(len(d.y_train))
        self.clf.partial_fit(d.X_train[order], d.y_train[order], classes=d.classes)
        return {"val_accuracy": float(self.clf.score(d.X_val, d.y_val)),
                "test_accuracy": float(self.clf.score(d.X_test, d.y_test))}

    def save(self) -> dict[str, Any]:
        # The data is not part of the state: restore() runs after setup(), which reloads it.
        return {"clf": self.clf, "rng": self.rng.bit_generator.state}

    def restore(self, state: dict[str, Any]) -> None:
        self.clf = state["clf"]
        self.rng.bit_generator.state = state["rng"]

    def model(self) -> SGDClassifier:
        return self.clf


def main(trials: int = 27, max_epochs: int = 9, workers: int = 2, seed: int = 0) -> halving.Result:
    result = halving.tune(SGDDigits, space, metric="val_accuracy", mode="max", max_epochs=max_epochs,
                          trials=trials, workers=workers, seed=seed)
    if result.best_trial is None:
        print("no trial reached", max_epochs, "epochs")
        return result
    print(f"best trial {result.best_trial}: val_accuracy {result.best_value:.4f} after {max_epochs} epochs")
    print("config:", result.best_config)
    if result.best_model is not None:
        d = load_data()
        print(f"test_accuracy of its model: {result.best_model.score(d.X_test, d.y_test):.4f}")
    print(f"{result.n_trials} trials ({result.n_completed} completed, {result.n_stopped} stopped, "
          f"{result.n_failed} failed) in {result.epochs_used} epochs of {trials * max_epochs} "
          f"without early termination; {result.wall_seconds:.1f} s; "
          f"{result.backend_stats.get('migrations', 0)} trials moved between workers")
    return result


if __name__ == "__main__":
    main()
