"""Tune your own function: write train(config), report once per epoch, call halving.tune."""

import halving
from halving.space import loguniform, uniform

space = {"lr": loguniform(1e-3, 1.0), "momentum": uniform(0.0, 0.99)}


def train(config):
    x, velocity = 5.0, 0.0  # minimise x**2 by gradient descent with momentum
    while True:  # no epoch count: halving decides how many epochs each config gets
        velocity = config["momentum"] * velocity - config["lr"] * 2 * x
        x += velocity
        halving.report(loss=x * x)


if __name__ == "__main__":
    result = halving.tune(train, space, metric="loss", mode="min", max_epochs=27, trials=81)
    print(result.best_config, result.best_value)
