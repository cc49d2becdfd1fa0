"""asha-curve: ASHA's decisions while it has too little data, a prediction that ranks a
late bloomer above a saturating curve once calibrated, reasons with the prediction."""

from __future__ import annotations

import math
import re
from pathlib import Path

import numpy as np
import pytest

import halving
import policies as P
from halving.errors import SpecError, SpecTypeError
from halving.experiment import PolicySpec
from policies import Action
from policies._curve import fit_curve


def _bare(decisions):
    """Decisions without the prediction fields, which ASHA's reasons do not have."""
    return [d._replace(reason=d.reason._replace(predicted=None, uncertainty=None, detail="")) for d in decisions]


@pytest.mark.parametrize("workers", [1, 3])
@pytest.mark.parametrize("mode", ["max", "min"])
def test_too_little_data_decides_exactly_as_asha(workers, mode):
    # 27 trials, R=9: rung 1 sends fewer than `calibration` trials on, so no rung ever ranks by prediction.
    from halving.synthetic import synthetic_curves

    curves = synthetic_curves(27, 9, seed=4)
    asha = halving.simulate(curves, policy="asha", mode=mode, workers=workers, seed=1)
    curve = halving.simulate(curves, policy="asha-curve", mode=mode, workers=workers, seed=1)
    assert [(d.trial, d.epoch, d.action, d.until) for d in curve.decisions] == \
        [(d.trial, d.epoch, d.action, d.until) for d in asha.decisions]
    assert _bare(curve.decisions) == [d._replace(reason=d.reason._replace(detail="")) for d in asha.decisions]
    assert curve.table().equals(asha.table())
    # Rung 1 (epochs 1..3) has points to fit: its pauses show a prediction, though ranking ignores it.
    shown = [d for d in curve.decisions if d.reason.predicted is not None]
    assert shown and all(d.reason.rung == 1 and "ranks by value" in d.reason.detail for d in shown)


def test_min_epochs_one_rung_zero_never_fits():
    policy = P.make("asha-curve")
    policy.start(n_trials=3, max_epochs=9)
    assert policy.fits == [False, True]  # epoch 1 alone: nothing to fit, ASHA's rule there for good


def _promotion_order(policy, curves, held=(0, 1)):
    """Drive ``policy`` with one worker, except that the ``held`` trials' first grants are
    trained together once both are handed out (two workers at that moment); returns the
    trials promoted from rung 0, in order, and the assignments."""
    n, R = curves.shape
    policy.start(n_trials=n, max_epochs=R, mode="max")
    trained: dict[int, int] = {}
    assigned, waiting_held = [], []

    def train(a):
        out = ()
        for e in range(trained.get(a.trial, 0) + 1, a.until + 1):
            out = policy.report(a.trial, e, float(curves[a.trial, e - 1]))
            trained[a.trial] = e
        assert out

    while (a := policy.next()) is not P.DONE:
        if a is P.WAIT:
            assert waiting_held
            for h in waiting_held:
                train(h)
            waiting_held = []
            continue
        assigned.append(a)
        if a.new and a.trial in held:
            waiting_held.append(a)
            if len(waiting_held) == len(held):
                for h in waiting_held:
                    train(h)
                waiting_held = []
            continue
        train(a)
    policy.finish()
    first_level = policy.levels[1]
    return [a.trial for a in assigned if not a.new and a.until == first_level], assigned


def _constructed(n_cal: int = 8):
    """R=27, rungs 3, 9, 27. Trial 0 saturates early and leads at epoch 3; trial 1 starts lower
    but rises steadily in log-epochs and ends far better; both start last. Before them, risers
    whose order at epoch 3 is the reverse of their order at epoch 9 (steeper ones start lower)
    teach rung 0 that the fitted rise is real, and flat low curves fill the rung."""
    t = np.arange(1, 28, dtype=float)
    saturating = 0.70 - 0.30 * t ** -2.0  # 0.40, 0.625, 0.667 ... then flat at 0.70
    bloomer = 0.30 + 0.16 * np.log(t)  # 0.30, 0.41, 0.476 ... 0.83 at R
    rows = [saturating, bloomer]
    rows += [0.30 - 0.04 * i + (0.05 + 0.03 * i) * np.log(t) for i in range(n_cal)]
    rows += [np.full(27, 0.05 + 0.001 * i) for i in range(2 * n_cal + 6)]
    order = list(range(2, len(rows))) + [0, 1]  # the two crossing curves start last
    return np.array([rows[i] for i in order])


def test_prediction_ranks_a_late_bloomer_above_an_early_saturating_curve():
    curves = _constructed()
    sat_id, bloom_id = len(curves) - 2, len(curves) - 1
    sat, bloom = curves[sat_id], curves[bloom_id]
    assert sat[2] > bloom[2] and bloom[-1] > sat[-1]  # they cross
    # The fit alone: the bloomer's predicted value at R is the higher, the saturating one gains ~nothing.
    (g_sat,), _ = fit_curve([1, 2, 3], sat[:3].tolist(), (27,))
    (g_bloom,), se = fit_curve([1, 2, 3], bloom[:3].tolist(), (27,))
    assert bloom[2] + g_bloom > sat[2] + g_sat and se >= 0
    assert g_bloom == pytest.approx(0.16 * math.log(9), rel=1e-9)  # a log-linear curve is fitted exactly

    held = (sat_id, bloom_id)
    asha_order, _ = _promotion_order(P.make("asha", min_epochs=3), curves, held)
    curve = P.make("asha-curve", min_epochs=3, kappa=1.0, calibration=8)
    curve_order, assigned = _promotion_order(curve, curves, held)
    assert curve.lam[0] is not None, curve.gates  # rung 0 switched to the prediction
    # ASHA promotes the early leader to 9 epochs before the bloomer; asha-curve the bloomer first.
    assert asha_order.index(sat_id) < asha_order.index(bloom_id)
    assert curve_order.index(bloom_id) < curve_order.index(sat_id)
    promoted = next(a for a in assigned if a.trial == bloom_id and not a.new)
    assert promoted.reason.rule == "predicted-top-k" and promoted.reason.rung == 0
    assert promoted.reason.predicted > 0.70 and promoted.reason.uncertainty >= 0
    assert "ranks by prediction" in promoted.reason.detail


def test_reasons_carry_prediction_and_uncertainty_in_user_units():
    from halving.synthetic import synthetic_curves

    curves = -synthetic_curves(200, 27, seed=2)  # mode min: a loss-like mirror image
    result = halving.simulate(curves, policy="asha-curve", mode="min", workers=4, seed=0, min_epochs=3)
    pauses = [d for d in result.decisions if d.action is Action.PAUSE]
    assert pauses and all(d.reason.predicted is not None and d.reason.uncertainty >= 0 for d in pauses)
    # In the user's units: a minimised metric is predicted to go down from its rung value.
    values = {(t, e): v for t, e, v in zip(*(result.table().column(c).to_pylist() for c in ("trial", "epoch",
                                                                                             "value")))}
    lower = sum(d.reason.predicted <= values[(d.trial, d.epoch)] for d in pauses)
    assert lower > 0.9 * len(pauses)
    assert "predicted" in str(pauses[0].reason) and "±" in str(pauses[0].reason)


def test_same_inputs_same_decisions():
    from halving.synthetic import synthetic_curves

    curves = synthetic_curves(300, 27, seed=5)
    runs = [halving.simulate(curves, policy="asha-curve", workers=5, seed=3, min_epochs=3, kappa=0.5)
            for _ in range(2)]
    assert runs[0].decisions == runs[1].decisions
    assert runs[0].table().equals(runs[1].table())


@pytest.mark.parametrize("params, error, shown", [
    ({"kappa": -0.5}, SpecError, "kappa=-0.5"),
    ({"kappa": float("nan")}, SpecTypeError, "kappa=nan"),
    ({"kappa": "1"}, SpecTypeError, "kappa='1'"),
    ({"min_points": 2}, SpecError, "min_points=2"),
    ({"min_points": 3.0}, SpecTypeError, "min_points=3.0"),
    ({"calibration": 1}, SpecError, "calibration=1"),
    ({"calibration": 65}, SpecError, "calibration=65"),
    ({"eta": 1}, SpecError, "eta=1"),
])
def test_bad_parameters_are_refused_with_the_value(params, error, shown):
    with pytest.raises(error, match=re.escape(shown)):
        PolicySpec.of("asha-curve", params)


def test_registered_and_rebuilt_from_its_params():
    policy = P.make("asha-curve", eta=2, min_epochs=3, kappa=0.5, min_points=4, calibration=6)
    assert isinstance(policy, P.ASHACurve) and P.POLICIES["asha-curve"] is P.ASHACurve
    spec = PolicySpec.of(policy)
    assert spec.name == "asha-curve" and spec.build().params() == policy.params()
    assert set(P.parameters("asha-curve")) == {"eta", "min_epochs", "kappa", "min_points", "calibration"}


def test_old_reasons_without_prediction_fields_read_back():
    from halving.eventlog import reason_from_json, reason_json

    old = '{"rule": "top-k", "rung": 1, "cutoff": 0.5, "compared": 9, "rank": 2, "bracket": null, "detail": ""}'
    reason = reason_from_json(old)
    assert reason.predicted is None and reason.uncertainty is None and reason.rank == 2
    new = P.Reason("predicted-top-k", rung=0, predicted=0.8, uncertainty=0.05)
    assert reason_from_json(reason_json(new)) == new


def test_pure_no_forbidden_imports():
    text = (Path(P.__file__).parent / "_curve.py").read_text()
    imports = re.findall(r"^\s*(?:from|import)\s+([\w.]+)", text, flags=re.M)
    assert set(imports) <= {"__future__", "math", "typing", "._asha", "._base", "._rung"}, imports


@pytest.mark.parametrize("name", ["branin", "hartmann6"])
def test_test_function_curve_sets_are_the_curves_simulate_samples(name):
    # The benchmark's table of a test function holds the curves of the configs a simulation of the
    # function itself samples (same space, seed and order), so table and function runs compare.
    from benchmarks import curve_sets
    from halving import testfunctions

    table, mode = curve_sets.make(name, 12, 9, seed=3)
    fn = testfunctions.get(name, max_epochs=9)
    run = halving.simulate(fn.curve, space=fn.space, trials=12, max_epochs=9, mode=fn.mode, policy="asha", seed=3)
    assert mode == "min" and table.shape == (12, 9)
    for i, config in run.configs.items():
        assert table[i].tolist() == [fn.curve(config, e) for e in range(1, 10)]
    assert run.best_value == table[run.best_trial, -1]


def test_a_trained_table_set_is_rows_of_the_kept_table_and_refuses_more_than_it_holds():
    import json

    from benchmarks import curve_sets

    kept = np.asarray(json.loads((Path(__file__).resolve().parents[1] / "benchmarks" / "results" /
                                  "surrogate-cnn.json").read_text())["curves"])
    table, mode = curve_sets.make("cnn-table", 50, 9, seed=1)
    assert mode == "max" and table.shape == (50, 9)
    assert all((kept[:, :9] == row).all(axis=1).any() for row in table)  # each a kept curve's first 9 epochs
    assert not np.array_equal(curve_sets.make("cnn-table", 50, 9, seed=2)[0], table)
    with pytest.raises(ValueError, match="holds 600 trials of 27 epochs, but 601 trials"):
        curve_sets.make("cnn-table", 601, 9)
