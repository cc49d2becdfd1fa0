"""benchmarks/compare_peers.py: the benchmark sizes of its cnn and fashion workloads.

No Ray here: the workloads' data and one epoch are checked in this process.
"""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import numpy as np
import pytest

from halving.space import Space

BENCHMARKS = Path(__file__).resolve().parents[1] / "benchmarks"


@pytest.fixture(scope="module")
def peers():
    sys.path.insert(0, str(BENCHMARKS))
    try:
        spec = importlib.util.spec_from_file_location("compare_peers", BENCHMARKS / "compare_peers.py")
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        yield module
    finally:
        sys.path.remove(str(BENCHMARKS))


def test_every_workload_runs_the_same_seeds(peers):
    assert not hasattr(peers, "HEAVY")
    assert set(peers.GUESS) == {"sgd", "mlp", "cnn", "fashion"}
    # A first block of every workload is expected to fit the default 28 minutes three times over.
    assert all(3 * g < 28 * 60 for g in peers.GUESS.values())


def test_cnn_benchmark_size(peers, tmp_path):
    pytest.importorskip("torch")
    pytest.importorskip("mnist1d")
    from halving.examples import cnn_mnist1d

    example = Space.from_spec(cnn_mnist1d.space).dimensions
    bench = Space.from_spec(peers.CNN_SPACE).dimensions
    assert set(bench) == set(example)
    assert max(bench["channels"].values) < max(example["channels"].values)
    assert min(bench["batch_size"].values) > max(example["batch_size"].values)
    w = peers.make_workload("cnn", str(tmp_path))
    data = w.load()
    assert w.load() is data  # once per process
    ref = cnn_mnist1d.load_data()
    assert all(a.dtype == b.dtype and a.shape == b.shape and bool((a == b).all()) for a, b in zip(data, ref))
    config = {"channels": 16, "lr": 3e-2, "weight_decay": 1e-5, "batch_size": 512}
    model = w.make(config)
    w.threads()
    rng = np.random.default_rng(0)
    before = w.metrics(model, data)
    for _ in range(3):
        w.epoch(model, data, rng)
    after = w.metrics(model, data)
    assert set(after) == {"val_accuracy", "test_accuracy"}
    assert after["val_accuracy"] > before["val_accuracy"]


def test_fashion_subsample(peers, tmp_path):
    if not peers.fashion_installed():
        pytest.skip("the Debian package dataset-fashion-mnist is not installed")
    w = peers.make_workload("fashion", str(tmp_path))
    d = w.load()
    sizes = peers.FASHION_SIZES
    assert (len(d.y_train), len(d.y_val), len(d.y_test)) == (sizes["train"], sizes["val"], sizes["test"])
    assert d.X_train.shape[1] == 784
    assert np.bincount(d.y_train).tolist() == [sizes["train"] // 10] * 10  # stratified
    assert abs(float(d.X_train.mean())) < 1e-6  # standardised on the training part
    assert max(Space.from_spec(peers.FASHION_SPACE).dimensions["hidden_units"].values) <= 32
