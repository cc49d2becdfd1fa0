"""Bundled examples, installed as ``halving.examples``.

Each example is a module with a search space ``space`` and a trainable
``train(config)`` that reports once per epoch; run one by name with
``halving run sgd-digits``, or as a script with ``python examples/sgd_digits.py``.

This package imports none of them: ``EXAMPLES`` names each trainable as a
``"module:attribute"`` string, resolved only when that example runs (so
listing the examples never imports torch). ``DEFAULTS`` gives each example's
``halving.tune`` settings; ``space`` comes from the same module as the trainable.
"""

#: Example name -> ``"module:attribute"`` of its trainable.
EXAMPLES = {
    "sgd-digits": "halving.examples.sgd_digits:train",
    "mlp-digits": "halving.examples.mlp_digits:train",
    "cnn-mnist1d": "halving.examples.cnn_mnist1d:train",
}

#: Example name -> keyword arguments for ``halving.tune``.
DEFAULTS = {
    "sgd-digits": {"metric": "val_accuracy", "mode": "max", "max_epochs": 27, "trials": 81},
    "mlp-digits": {"metric": "val_accuracy", "mode": "max", "max_epochs": 27, "trials": 81},
    "cnn-mnist1d": {"metric": "val_accuracy", "mode": "max", "max_epochs": 27, "trials": 81},
}
