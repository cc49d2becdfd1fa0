"""benchmarks.compare_peers and its workloads: the benchmark sizes of cnn and fashion.

No Ray here: the workloads' data and one epoch are checked in this process.
"""

from __future__ import annotations

import numpy as np
import pytest

from benchmarks import compare_peers, datasets, workloads


def _values(spec: dict) -> dict[str, set]:
    """The values each dimension takes in 200 sampled configurations (through the public sampling)."""
    configs = workloads.sample_configs(spec, 200, 0)
    return {k: {c[k] for c in configs} for k in configs[0]}


def test_every_workload_runs_the_same_seeds():
    assert set(compare_peers.GUESS) == {"sgd", "mlp", "cnn", "fashion"}
    assert set(compare_peers.GUESS) <= set(workloads.REGISTRY)
    # A first block of every workload is expected to fit the default 28 minutes three times over.
    assert all(3 * g < 28 * 60 for g in compare_peers.GUESS.values())


def test_every_tool_runs_on_a_scikit_learn_workload():
    tools = compare_peers.tool_list(workloads.make("sgd"))
    assert {t for t, _ in tools} == {"halving", "ray_tune", "optuna", "sklearn"}
    assert [p for t, p in tools if t == "halving"] == list(compare_peers.HALVING_POLICIES)


def test_digits_workload_trains_and_reports_both_accuracies():
    w = workloads.make("sgd")
    config = workloads.sample_configs(w.space, 1, 0)[0]
    state = w.start(config)
    m = w.epoch(state, 1)
    assert set(m) == {"val_accuracy", "test_accuracy"}
    assert 0.0 <= m[w.metric] <= 1.0


@pytest.mark.slow  # about 40 s on 2 cores: MNIST-1D is generated and a CNN trains 3 epochs
def test_cnn_benchmark_size(tmp_path):
    pytest.importorskip("torch")
    pytest.importorskip("mnist1d")
    from halving.examples import cnn_mnist1d

    example = _values(cnn_mnist1d.space)
    bench = _values(workloads.CNN_SPACE)
    assert set(bench) == set(example)
    assert max(bench["channels"]) < max(example["channels"])
    assert min(bench["batch_size"]) > max(example["batch_size"])
    w = workloads.make("cnn", scratch=str(tmp_path))
    data = w.load()
    assert w.load() is data  # once per process
    ref = cnn_mnist1d.load_data()
    assert all(a.dtype == b.dtype and a.shape == b.shape and bool((a == b).all()) for a, b in zip(data, ref))
    state = w.start({"channels": 16, "lr": 3e-2, "weight_decay": 1e-5, "batch_size": 512})
    before = w.evaluate(state[0].net, data)
    for epoch in range(1, 4):
        after = w.epoch(state, epoch)
    assert set(after) == {"val_accuracy", "test_accuracy"}
    assert after["val_accuracy"] > before["val_accuracy"]


def test_fashion_subsample(tmp_path):
    if not datasets.fashion_installed():
        pytest.skip("the Debian package dataset-fashion-mnist is not installed")
    w = workloads.make("fashion", scratch=str(tmp_path))
    d = w.load()
    sizes = datasets.FASHION_SIZES
    assert (len(d.y_train), len(d.y_val), len(d.y_test)) == (sizes["train"], sizes["val"], sizes["test"])
    assert d.X_train.shape[1] == 784
    assert [int(c) for c in np.bincount(d.y_train)] == [sizes["train"] // 10] * 10  # stratified
    assert abs(float(d.X_train.mean())) < 1e-6  # standardised on the training part
    assert max(_values(workloads.FASHION_SPACE)["hidden_units"]) <= 32


def test_unavailable_workload_says_how_to_get_it(tmp_path, monkeypatch):
    monkeypatch.setattr(datasets, "fashion_installed", lambda: False)
    with pytest.raises(workloads.Unavailable, match="apt-get install dataset-fashion-mnist"):
        workloads.make("fashion", scratch=str(tmp_path))
