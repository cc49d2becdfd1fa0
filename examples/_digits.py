"""What the digits examples share: the data split, one epoch of partial_fit, the
metrics they report, and the summary their ``main()`` prints."""

from __future__ import annotations

from typing import Any, Callable, NamedTuple

import numpy as np
from sklearn.datasets import load_digits
from sklearn.model_selection import train_test_split
from sklearn.preprocessing import StandardScaler

import halving

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


# A plain dict rather than functools.lru_cache keeps the loader simple to ship to
# Ray workers by value, as when an example runs as a script.
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


def fit_epoch(model: Any, data: Data, rng: np.random.Generator) -> None:
    """One partial_fit pass over the training set, in a fresh random order."""
    order = rng.permutation(len(data.y_train))
    model.partial_fit(data.X_train[order], data.y_train[order], classes=data.classes)


def evaluate(model: Any, data: Data) -> dict[str, float]:
    return {
        "val_accuracy": float(model.score(data.X_val, data.y_val)),
        "test_accuracy": float(model.score(data.X_test, data.y_test)),
    }


def summarize(result: halving.Result, trials: int, max_epochs: int,
              test_accuracy: Callable[[Any], float] | None = None) -> halving.Result:
    """Print what an example's tune found."""
    if result.best_trial is None:
        print("no trial reached", max_epochs, "epochs")
        return result
    print(f"best trial {result.best_trial}: val_accuracy {result.best_value:.4f} after {max_epochs} epochs")
    print("config:", result.best_config)
    if result.best_model is not None and test_accuracy is not None:
        print(f"test_accuracy of its model: {test_accuracy(result.best_model):.4f}")
    print(f"{result.n_trials} trials ({result.n_completed} completed, {result.n_stopped} stopped, "
          f"{result.n_failed} failed) in {result.epochs_used} epochs of {trials * max_epochs} "
          f"without early termination; {result.wall_seconds:.1f} s")
    return result
