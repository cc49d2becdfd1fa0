"""The public names of DESIGN.md stay stable."""

from __future__ import annotations

import importlib
import pkgutil

import halving
import policies


def test_public_names():
    for name in ("tune", "simulate", "load", "report", "cpus", "space", "Result"):
        assert name in halving.__all__ and hasattr(halving, name)
    for name in ("ASHA", "ASHAStop", "SuccessiveHalving", "Hyperband", "MedianStopping", "Bandit",
                 "TruncationSelection", "NoPruning", "Decision", "Reason", "Action", "Assignment", "make"):
        assert name in policies.__all__ and hasattr(policies, name)
    assert set(policies.POLICIES) == {"asha", "asha-stop", "asha-curve", "sha", "hyperband", "median", "bandit", "truncation",
                                      "none"}


def test_no_submodule_shadows_a_public_function():
    # Importing halving.<sub> sets the attribute halving.<sub>: it must never hide report/tune/...
    for info in pkgutil.walk_packages(halving.__path__, "halving."):
        if info.name.startswith("halving.examples.cnn"):
            continue
        importlib.import_module(info.name)
    assert callable(halving.report) and callable(halving.tune) and callable(halving.simulate)
    assert callable(halving.load) and callable(halving.cpus)


def test_halving_never_disables_ray_authentication():
    from pathlib import Path

    root = Path(halving.__file__).parent
    for path in [*root.rglob("*.py"), *Path(policies.__file__).parent.rglob("*.py")]:
        text = path.read_text()
        assert "RAY_AUTH_MODE" not in text, path
        assert "auth_mode" not in text.lower(), path
