"""A small 1-D CNN on MNIST-1D, in PyTorch.

Needs the torch extra: ``pip install -e '.[torch]'`` (torch and mnist1d).
Both are imported inside the functions, so this module imports without them
and ``halving run`` can list it. MNIST-1D is generated locally from its
templates with a fixed seed (``make_dataset``), never downloaded, and kept
in a cache file for the next run (``_generated``).

``train(config)`` is a function trainable: each epoch is one pass of Adam
over the training set in minibatches, followed by ``halving.report``. It uses
as many torch threads as halving grants the trial (``halving.cpus()``). Run
the bundled example with ``halving run cnn-mnist1d``, or a small tune with::

    python examples/cnn_mnist1d.py
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np
from sklearn.model_selection import train_test_split

import halving
from halving.space import choice, loguniform

space = {
    "channels": choice([16, 32, 64]),
    "lr": loguniform(1e-4, 1e-1),
    "weight_decay": loguniform(1e-6, 1e-2),
    "batch_size": choice([32, 64, 128]),
}

#: Seeds the validation split, the weights and each trial's shuffling (unless
#: its config has a "seed"), so trials differ only by config.
SEED = 0

NEEDS_TORCH = "cnn-mnist1d needs the torch extra: pip install -e '.[torch]'"


def _torch() -> Any:
    try:
        import torch
    except ImportError as exc:
        raise ImportError(NEEDS_TORCH) from exc
    return torch


class Data(NamedTuple):
    """Signals as float tensors of shape (n, 1, 40), labels as int64 tensors of shape (n,)."""

    X_train: Any
    y_train: Any
    X_val: Any
    y_val: Any
    X_test: Any
    y_test: Any


class Model(NamedTuple):
    net: Any  # torch.nn.Module
    optimizer: Any  # torch.optim.Optimizer
    batch_size: int


# A plain dict, not functools.lru_cache: run as a script, this file is __main__
# and Ray pickles train() by value; an lru_cache wrapper defined in __main__
# cannot be unpickled in a worker.
_cache: dict[str, Data] = {}


def load_data() -> Data:
    """MNIST-1D's 4000 training signals split 80/20 (stratified, always the same
    split) into train and validation, and its 1000 test signals. Made once per
    process and shared by its trials; generating it takes seconds, so the arrays
    are also kept in a cache file (see ``_generated``) for the next process."""
    torch = _torch()
    if "data" not in _cache:
        d = _generated()
        X_train, X_val, y_train, y_val = train_test_split(
            d["x"], d["y"], test_size=0.2, stratify=d["y"], random_state=SEED)

        def signals(a: np.ndarray) -> Any:
            return torch.as_tensor(np.asarray(a, dtype=np.float32)).unsqueeze(1)  # one input channel

        def labels(a: np.ndarray) -> Any:
            return torch.as_tensor(np.asarray(a, dtype=np.int64))

        _cache["data"] = Data(signals(X_train), labels(y_train), signals(X_val), labels(y_val),
                              signals(d["x_test"]), labels(d["y_test"]))
    return _cache["data"]


_ARRAYS = ("x", "y", "x_test", "y_test")


def _generated() -> dict[str, np.ndarray]:
    """MNIST-1D as ``make_dataset`` generates it (deterministic: seed 42 in its args; it also
    reseeds numpy's global RNG, which nothing here uses; already centred and scaled), read
    from ``<cache>/halving/mnist1d-<mnist1d version>.npz`` when an earlier process saved it
    there (arrays only, read without pickle). ``<cache>`` is ``$XDG_CACHE_HOME`` or
    ``~/.cache``; a cache that cannot be written is skipped."""
    from importlib.metadata import PackageNotFoundError, version

    try:
        made_by = version("mnist1d")  # without importing it: that alone takes a second
    except PackageNotFoundError as exc:
        raise ImportError(NEEDS_TORCH) from exc
    root = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "halving"
    path = root / f"mnist1d-{made_by}.npz"
    try:
        with np.load(path, allow_pickle=False) as f:
            return {k: f[k] for k in _ARRAYS}
    except (OSError, KeyError, ValueError):
        pass  # none yet, or unreadable: generate it
    from mnist1d.data import get_dataset_args, make_dataset

    d = make_dataset(get_dataset_args())
    try:  # written whole, then renamed: processes generating it at once never read half a file
        root.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=root, suffix=".npz")
        with os.fdopen(fd, "wb") as fh:
            np.savez(fh, **{k: np.asarray(d[k]) for k in _ARRAYS})
        os.replace(tmp, path)
    except OSError:
        pass
    return d


def make_model(config: dict, length: int = 40, n_classes: int = 10) -> Model:
    """Three strided convolutions and a linear layer, with Adam."""
    torch = _torch()
    nn = torch.nn
    torch.manual_seed(config.get("seed", SEED))
    c = config["channels"]
    features = nn.Sequential(
        nn.Conv1d(1, c, kernel_size=5, stride=2, padding=1), nn.ReLU(),
        nn.Conv1d(c, c, kernel_size=3, stride=2, padding=1), nn.ReLU(),
        nn.Conv1d(c, c, kernel_size=3, stride=2, padding=1), nn.ReLU(),
        nn.Flatten(),
    )
    with torch.no_grad():
        n_features = features(torch.zeros(1, 1, length)).shape[1]
    net = nn.Sequential(features, nn.Linear(n_features, n_classes))
    optimizer = torch.optim.Adam(net.parameters(), lr=config["lr"], weight_decay=config["weight_decay"])
    return Model(net, optimizer, config["batch_size"])


def fit_epoch(model: Model, data: Data, rng: np.random.Generator) -> float:
    """One pass over the training set in a fresh random order; returns the mean training loss."""
    torch = _torch()
    net, optimizer, batch_size = model
    net.train()
    order = torch.from_numpy(rng.permutation(len(data.y_train)))
    total = 0.0
    for idx in order.split(batch_size):
        loss = torch.nn.functional.cross_entropy(net(data.X_train[idx]), data.y_train[idx])
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        total += loss.item() * len(idx)
    return total / len(order)


def evaluate(net: Any, data: Data) -> dict[str, float]:
    torch = _torch()
    net.eval()
    with torch.no_grad():
        val = (net(data.X_val).argmax(dim=1) == data.y_val).float().mean().item()
        test = (net(data.X_test).argmax(dim=1) == data.y_test).float().mean().item()
    return {"val_accuracy": val, "test_accuracy": test}


def train(config: dict) -> None:
    torch = _torch()
    data = load_data()
    model = make_model(config)
    rng = np.random.default_rng(config.get("seed", SEED))
    # No epoch count here: halving grants epochs, and ends the trial inside report().
    while True:
        # Read every epoch: with cpus_per_rung, a trial gets more CPUs on higher rungs.
        if torch.get_num_threads() != halving.cpus():
            torch.set_num_threads(halving.cpus())
        train_loss = fit_epoch(model, data, rng)
        halving.report(**evaluate(model.net, data), train_loss=train_loss, model=model.net)


def main(trials: int = 27, max_epochs: int = 9, workers: int = 2, seed: int = 0) -> halving.Result:
    from halving.examples._digits import summarize

    result = halving.tune(train, space, metric="val_accuracy", mode="max", max_epochs=max_epochs,
                          trials=trials, workers=workers, seed=seed)
    return summarize(result, trials, max_epochs, lambda m: evaluate(m, load_data())["test_accuracy"])


if __name__ == "__main__":
    main()
