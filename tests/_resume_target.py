"""A deterministic, slowish trainable for the kill-and-resume test (run by the CLI as a file target)."""

import math
import time

import halving

space = {"x": {"type": "uniform", "low": 0.0, "high": 1.0}, "slow": {"type": "uniform", "low": 0.0, "high": 1.0}}


def train(config):
    epoch = 0
    while True:
        epoch += 1
        time.sleep(0.04)
        value = config["x"] * (1.0 - math.exp(-epoch / (1.0 + 4.0 * config["slow"])))
        halving.report(acc=value)
