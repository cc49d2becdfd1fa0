"""The SGD-on-digits example of ``sgd_digits.py``, written as a class trainable.

A class trainable has ``setup(config)``, called once per trial, and
``train_epoch()``, which trains one epoch and returns that epoch's metrics.
``save()`` / ``restore(state)`` let halving move a paused trial to another
worker when its own is busy, and ``model()`` is what ``result.best_model``
returns. Run a small tune with::

    python examples/class_trainable.py
"""

from __future__ import annotations

from typing import Any

import numpy as np
from sklearn.linear_model import SGDClassifier

import halving
from halving.examples._digits import SEED, evaluate, fit_epoch, load_data, summarize
from halving.examples.sgd_digits import space


class SGDDigits:
    def setup(self, config: dict) -> None:
        self.data = load_data()
        self.clf = SGDClassifier(loss=config["loss"], penalty=config["penalty"], alpha=config["alpha"],
                                 learning_rate=config["learning_rate"], eta0=config["eta0"],
                                 shuffle=False, random_state=SEED)
        self.rng = np.random.default_rng(config.get("seed", SEED))

    def train_epoch(self) -> dict[str, float]:
        fit_epoch(self.clf, self.data, self.rng)
        return evaluate(self.clf, self.data)

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
    summarize(result, trials, max_epochs, lambda m: evaluate(m, load_data())["test_accuracy"])
    print(f"{result.backend_stats.get('migrations', 0)} trials moved between workers")
    return result


if __name__ == "__main__":
    main()
