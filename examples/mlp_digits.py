"""A one-hidden-layer MLP on the scikit-learn digits, trained one epoch at a time.

``train(config)`` is a function trainable: each epoch is one
``MLPClassifier.partial_fit`` pass over the training set, in minibatches of
``batch_size``, followed by ``halving.report``. Run the bundled example with
``halving run mlp-digits``, or a small tune with::

    python examples/mlp_digits.py
"""

from __future__ import annotations

import numpy as np
from sklearn.neural_network import MLPClassifier

import halving
from halving.examples._digits import SEED, Data, evaluate, fit_epoch, load_data, summarize  # noqa: F401
from halving.space import choice, loguniform

space = {
    "hidden_units": choice([16, 32, 64, 128, 256]),  # one hidden layer of this width
    "alpha": loguniform(1e-6, 1e-1),
    "learning_rate_init": loguniform(1e-4, 1e-1),
    "batch_size": choice([32, 64, 128]),
}


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
