"""The bundled examples: registry, spaces, data splits and training steps.

No Ray here: the epoch steps are called directly, and the trainables are
driven by halving's own runners (``make_runner``), in this process.
"""

from __future__ import annotations

import ast
import importlib
import importlib.util
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import halving
from halving.space import Space
from halving.trainable import describe_trainable, make_runner

EXAMPLES_DIR = Path(__file__).resolve().parents[1] / "examples"


def _examples_package():
    """``halving.examples``: installed (``pip install -e .`` maps examples/ to it),
    or mapped here the same way for a source checkout on PYTHONPATH."""
    try:
        return importlib.import_module("halving.examples")
    except ModuleNotFoundError as exc:
        if exc.name != "halving.examples":
            raise
    spec = importlib.util.spec_from_file_location(
        "halving.examples", EXAMPLES_DIR / "__init__.py", submodule_search_locations=[str(EXAMPLES_DIR)])
    module = importlib.util.module_from_spec(spec)
    sys.modules["halving.examples"] = module
    spec.loader.exec_module(module)
    halving.examples = module
    return module


examples = _examples_package()
sgd = importlib.import_module("halving.examples.sgd_digits")
mlp = importlib.import_module("halving.examples.mlp_digits")
cls_example = importlib.import_module("halving.examples.class_trainable")
cnn = importlib.import_module("halving.examples.cnn_mnist1d")  # imports without torch

DIGITS = [sgd, mlp, cls_example]

SANE = {
    "sgd": {"loss": "hinge", "penalty": "l2", "alpha": 1e-4, "learning_rate": "constant", "eta0": 0.01},
    "mlp": {"hidden_units": 64, "alpha": 1e-4, "learning_rate_init": 1e-3, "batch_size": 32},
    "cnn": {"channels": 32, "lr": 3e-3, "weight_decay": 1e-5, "batch_size": 64},
}


# -- registry ------------------------------------------------------------------


def test_registry_names_and_defaults():
    assert set(examples.EXAMPLES) == {"sgd-digits", "mlp-digits", "cnn-mnist1d"}
    assert set(examples.DEFAULTS) == set(examples.EXAMPLES)
    for name, defaults in examples.DEFAULTS.items():
        assert defaults["metric"] == "val_accuracy", name
        assert defaults["mode"] == "max", name
        assert isinstance(defaults["max_epochs"], int) and defaults["max_epochs"] > 0, name
        assert isinstance(defaults["trials"], int) and defaults["trials"] > 0, name


@pytest.mark.parametrize("name", ["sgd-digits", "mlp-digits", "cnn-mnist1d"])
def test_registry_resolves(name):
    module_name, _, attr = examples.EXAMPLES[name].partition(":")
    module = importlib.import_module(module_name)
    trainable = getattr(module, attr)
    assert describe_trainable(trainable) == "function"
    space = Space.from_spec(module.space)
    assert len(space.dimensions) >= 3
    assert all(len(c) == len(space) for c in space.sample(5, seed=0))


def test_registry_imports_no_example():
    # Listing the examples must not import torch or any example module.
    assert all(target.startswith("halving.examples.") for target in examples.EXAMPLES.values())
    tree = ast.parse((EXAMPLES_DIR / "__init__.py").read_text())
    assert not [node for node in ast.walk(tree) if isinstance(node, (ast.Import, ast.ImportFrom))]


# -- spaces --------------------------------------------------------------------


@pytest.mark.parametrize("module", [sgd, mlp, cls_example, cnn], ids=lambda m: m.__name__.rsplit(".", 1)[1])
def test_space_parses_and_samples_plain_values(module):
    space = Space.from_spec(module.space)
    for config in space.sample(20, seed=1):
        for value in config.values():
            assert type(value) in (int, float, str)


def test_own_function_runs():
    own = importlib.import_module("halving.examples.own_function")
    Space.from_spec(own.space)
    runner = make_runner(own.train, {"lr": 0.1, "momentum": 0.5}, cpus=1)
    try:
        losses = [m["loss"] for m in runner.advance(5).metrics]
    finally:
        runner.close()
    assert len(losses) == 5 and losses[-1] < losses[0]


# -- data ------------------------------------------------------------------------


@pytest.mark.parametrize("module", DIGITS, ids=lambda m: m.__name__.rsplit(".", 1)[1])
def test_digits_split(module):
    d = module.load_data()
    assert module.load_data() is d  # loaded once per process
    assert (len(d.y_train), len(d.y_val), len(d.y_test)) == (1078, 359, 360)
    assert d.X_train.shape == (1078, 64) and d.X_val.shape == (359, 64) and d.X_test.shape == (360, 64)
    assert list(d.classes) == list(range(10))
    # Stratified: every part has each digit in about the same proportion.
    for y in (d.y_train, d.y_val, d.y_test):
        share = np.bincount(y, minlength=10) / len(y)
        assert np.all(np.abs(share - 0.1) < 0.02)
    # Standardised on the training part only.
    np.testing.assert_allclose(d.X_train.mean(axis=0), 0, atol=1e-9)
    assert not np.allclose(d.X_val.mean(axis=0), 0, atol=1e-9)


def test_digits_split_is_the_same_in_every_example():
    a, b, c = (m.load_data() for m in DIGITS)
    for x, y, z in zip(a, b, c):
        np.testing.assert_array_equal(x, y)
        np.testing.assert_array_equal(x, z)


# -- one epoch at a time, without halving ------------------------------------------


@pytest.mark.parametrize("module, config", [(sgd, SANE["sgd"]), (mlp, SANE["mlp"])], ids=["sgd", "mlp"])
def test_three_epochs_learn(module, config):
    data = module.load_data()
    model = module.make_model(config)
    rng = np.random.default_rng(0)
    curve = []
    for _ in range(3):
        module.fit_epoch(model, data, rng)
        metrics = module.evaluate(model, data)
        assert set(metrics) == {"val_accuracy", "test_accuracy"}
        curve.append(metrics["val_accuracy"])
    assert curve[-1] > 0.8, curve


@pytest.mark.parametrize("module, config", [(sgd, SANE["sgd"]), (mlp, SANE["mlp"])], ids=["sgd", "mlp"])
def test_epochs_are_deterministic(module, config):
    def run():
        data = module.load_data()
        model = module.make_model(config)
        rng = np.random.default_rng(0)
        out = []
        for _ in range(2):
            module.fit_epoch(model, data, rng)
            out.append(module.evaluate(model, data)["val_accuracy"])
        return out

    assert run() == run()


# -- the trainables, driven by halving's runners (threads, no Ray) ----------------


@pytest.mark.parametrize("module, config", [(sgd, SANE["sgd"]), (mlp, SANE["mlp"])], ids=["sgd", "mlp"])
def test_function_trainable_runs_granted_epochs(module, config):
    runner = make_runner(module.train, config, cpus=1)
    try:
        first = runner.advance(2)
        assert first.error is None, first.traceback
        assert len(first.metrics) == 2 and not first.finished
        more = runner.advance(3)  # resumes where it paused
        assert more.error is None, more.traceback
        assert len(more.metrics) == 1
        assert runner.epoch == 3
        assert more.metrics[0]["val_accuracy"] > 0.8
        assert "model" not in more.metrics[0]  # the model goes to the runner, not into the metrics
        assert runner.model.score(*module.load_data()[2:4]) == more.metrics[0]["val_accuracy"]
    finally:
        runner.close()


def test_class_trainable_runs_saves_and_restores():
    config = SANE["sgd"]
    runner = make_runner(cls_example.SGDDigits, config, cpus=1)
    out = runner.advance(2)
    assert out.error is None, out.traceback
    state = runner.save()
    assert state["epoch"] == 2
    moved = make_runner(cls_example.SGDDigits, config, cpus=1, restored=state)
    assert moved.epoch == 2
    rest = moved.advance(4).metrics
    straight = make_runner(cls_example.SGDDigits, config, cpus=1)
    whole = straight.advance(4).metrics
    # A trial moved after epoch 2 trains on exactly as one that never moved.
    assert rest == whole[2:]
    assert whole[-1]["val_accuracy"] > 0.8
    assert moved.model is not None


def test_class_and_function_forms_agree():
    config = SANE["sgd"]
    fn = make_runner(sgd.train, config, cpus=1)
    try:
        a = fn.advance(3).metrics
    finally:
        fn.close()
    b = make_runner(cls_example.SGDDigits, config, cpus=1).advance(3).metrics
    assert a == b


# -- the PyTorch example -------------------------------------------------------------


def test_cnn_without_torch_says_how_to_install(monkeypatch):
    # The module imports without torch (a fresh process where torch cannot be imported)...
    code = ("import sklearn.model_selection, sys; sys.modules['torch'] = None; "
            "import halving.examples.cnn_mnist1d as m; assert m._torch_module is None")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    # ... and its functions then say how to install it.
    monkeypatch.setattr(cnn, "_torch_module", None)
    with pytest.raises(ImportError, match=r"pip install -e '\.\[torch\]'"):
        cnn.train(SANE["cnn"])
    with pytest.raises(ImportError, match="cnn-mnist1d needs the torch extra"):
        cnn.load_data()


def test_cnn_three_epochs():
    pytest.importorskip("torch")
    pytest.importorskip("mnist1d")
    data = cnn.load_data()
    assert (len(data.y_train), len(data.y_val), len(data.y_test)) == (3200, 800, 1000)
    assert tuple(data.X_train.shape) == (3200, 1, 40)
    model = cnn.make_model(SANE["cnn"])
    rng = np.random.default_rng(0)
    losses = [cnn.fit_epoch(model, data, rng) for _ in range(3)]
    metrics = cnn.evaluate(model.net, data)
    assert losses[-1] < losses[0]
    assert metrics["val_accuracy"] > 0.3  # chance is 0.1
