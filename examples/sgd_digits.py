"""Linear classifiers on the scikit-learn digits, trained by SGD one epoch at a time.

``train(config)`` is a function trainable: it trains for as long as halving
grants epochs and reports the validation accuracy after each one. Run the
bundled example with ``halving run sgd-digits``, or a small tune with::

    python examples/sgd_digits.py
"""

from __future__ import annotations

import numpy as np
from sklearn.linear_model import SGDClassifier

import halving
from halving.examples._digits import SEED, Data, evaluate, fit_epoch, load_data, summarize  # noqa: F401
from halving.space import choice, loguniform

space = {
    "loss": choice(["hinge", "log_loss", "modified_huber"]),
    "penalty": choice(["l2", "l1", "elasticnet"]),
    "alpha": loguniform(1e-6, 1e-1),
    "learning_rate": choice(["constant", "invscaling"]),
    "eta0": loguniform(1e-4, 1e-1),
}


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
    return summarize(result, trials, max_epochs, lambda m: evaluate(m, load_data())["test_accuracy"])


if __name__ == "__main__":
    main()
