"""Data the heavier workloads read: written once by the driver as an .npz, so that no
worker process generates or decodes it again."""

from __future__ import annotations

import gzip
import os
import sys
import types
from typing import Any, Callable

import numpy as np

__all__ = ["FASHION_DIR", "FASHION_SIZES", "fashion_installed", "npz_loader", "prepare_fashion", "prepare_mnist1d"]

FASHION_DIR = "/usr/share/datasets/fashion-mnist"  # where Debian's dataset-fashion-mnist installs it
FASHION_FILES = ("train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz",
                 "t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz")
FASHION_SIZES = {"train": 2000, "val": 1000, "test": 1000}
SEED = 0


def _read_idx(path: str) -> np.ndarray:
    with gzip.open(path, "rb") as fh:
        raw = fh.read()
    ndim = raw[3]
    dims = [int.from_bytes(raw[4 + 4 * k: 8 + 4 * k], "big") for k in range(ndim)]
    return np.frombuffer(raw, dtype=np.uint8, offset=4 + 4 * ndim).reshape(dims)


def fashion_installed() -> bool:
    return all(os.path.exists(os.path.join(FASHION_DIR, f)) for f in FASHION_FILES)


def prepare_fashion(path: str) -> None:
    """A fixed stratified subsample (seed 0) of Fashion-MNIST: 2000 training and 1000 validation
    images from its training file, 1000 test images from its test file, standardised on the
    training part."""
    from sklearn.model_selection import train_test_split
    from sklearn.preprocessing import StandardScaler

    images = [_read_idx(os.path.join(FASHION_DIR, f)) for f in FASHION_FILES]
    Xtr, ytr = images[0].reshape(-1, 784) / 255.0, images[1].astype(np.int64)
    Xte, yte = images[2].reshape(-1, 784) / 255.0, images[3].astype(np.int64)
    n_tr, n_va, n_te = FASHION_SIZES["train"], FASHION_SIZES["val"], FASHION_SIZES["test"]
    X_a, _, y_a, _ = train_test_split(Xtr, ytr, train_size=n_tr + n_va, stratify=ytr, random_state=SEED)
    X_train, X_val, y_train, y_val = train_test_split(X_a, y_a, test_size=n_va, stratify=y_a, random_state=SEED)
    X_test, _, y_test, _ = train_test_split(Xte, yte, train_size=n_te, stratify=yte, random_state=SEED)
    sc = StandardScaler().fit(X_train)
    np.savez(path, X_train=sc.transform(X_train), y_train=y_train, X_val=sc.transform(X_val), y_val=y_val,
             X_test=sc.transform(X_test), y_test=y_test, classes=np.arange(10))


def prepare_mnist1d(path: str) -> None:
    """``cnn_mnist1d.load_data()``'s arrays: generating MNIST-1D takes seconds, which every
    new worker process of every run would pay again."""
    from halving.examples import cnn_mnist1d

    d = cnn_mnist1d.load_data()
    np.savez(path, **{k: v.numpy() for k, v in d._asdict().items()})


def npz_loader(path: str, kind: str) -> Callable[[], Any]:
    """``load()`` of the data in ``path``: ``_digits.Data`` (kind "digits") or
    ``cnn_mnist1d.Data`` of torch tensors (kind "mnist1d"), read once per process."""
    if kind not in ("digits", "mnist1d"):
        raise ValueError(f"kind must be 'digits' or 'mnist1d', but got {kind=}")

    def load() -> Any:
        # Cached in sys.modules: this function reaches Ray's workers pickled by value, so a
        # module-level dict here would be a new one in every trial.
        box = sys.modules.get("_benchmark_data_cache")
        if box is None:
            box = sys.modules["_benchmark_data_cache"] = types.ModuleType("_benchmark_data_cache")
            box.data = {}  # type: ignore[attr-defined]
        if path not in box.data:
            z = np.load(path)
            if kind == "mnist1d":
                import torch

                from halving.examples import cnn_mnist1d

                box.data[path] = cnn_mnist1d.Data(*(torch.from_numpy(z[f]) for f in cnn_mnist1d.Data._fields))
            else:
                from halving.examples import _digits

                box.data[path] = _digits.Data(*(z[f] for f in _digits.Data._fields))
        return box.data[path]

    return load
