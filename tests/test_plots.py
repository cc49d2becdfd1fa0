"""Plots: real PNGs, checked through matplotlib's objects rather than pixels."""

from __future__ import annotations

from collections import Counter

import numpy as np
import pytest
from typer.testing import CliRunner

import halving
from halving import space

pytest.importorskip("matplotlib")

from halving.plots import plot_best_so_far, plot_curves  # noqa: E402

from ._trainables import train_faulty  # noqa: E402


def _curves(n: int = 81, epochs: int = 27, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    rates, tops = rng.uniform(0.05, 0.5, n), rng.uniform(0.5, 0.95, n)
    return tops[:, None] * (1 - np.exp(-rates[:, None] * np.arange(1, epochs + 1))) + rng.normal(0, 0.01, (n, epochs))


def _is_png(path) -> bool:
    return path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def _trial_lines(fig) -> dict[int, object]:
    return {int(line.get_gid()[6:]): line for line in fig.axes[0].get_lines()
            if (line.get_gid() or "").startswith("trial-")}


def _scatters(fig) -> dict[str, list]:
    out: dict[str, list] = {}
    for coll in fig.axes[0].collections:
        if coll.get_gid():
            out.setdefault(coll.get_gid(), []).append(coll)
    return out


def test_every_trial_is_drawn_one_epoch_trials_included(tmp_path):
    result = halving.simulate(_curves(), policy="asha", workers=4)
    fig = plot_curves(result, tmp_path / "curves.png")
    assert _is_png(tmp_path / "curves.png")
    table = result.table()
    reports = Counter(table.column("trial").to_pylist())
    lines = _trial_lines(fig)
    assert set(lines) == set(reports) and len(lines) == 81
    one_epoch = [t for t, n in reports.items() if n == 1]
    assert len(one_epoch) > 40  # most ASHA trials stop after their first rung
    for t, line in lines.items():
        assert len(line.get_xdata()) == reports[t]
        if reports[t] == 1:  # a line through one point draws nothing: it needs a marker
            assert line.get_marker() not in (None, "None", "", " ") and line.get_markersize() > 0
    low, high = fig.axes[0].get_ylim()
    values = table.column(result.metric).to_numpy()
    assert low <= values.min() and values.max() <= high


def test_pauses_promotions_and_stops_are_marked_with_their_reason(tmp_path):
    result = halving.simulate(_curves(), policy="asha", workers=4)
    fig = plot_curves(result, tmp_path / "curves.png")
    marks = _scatters(fig)
    actions = Counter(d.action.value for d in result.decisions)
    for kind, expected in (("pause", actions["pause"]), ("stop", actions["stop"]),
                           ("complete", actions["complete"]), ("promotion", len(result.promotions))):
        assert expected > 0 and sum(len(c.get_offsets()) for c in marks[kind]) == expected, kind
    legend = [t.get_text() for t in fig.axes[0].get_legend().get_texts()]
    assert f"stop: not-promoted ({actions['stop']})" in legend
    assert f"promotion: top-k ({len(result.promotions)})" in legend
    # A policy with more than one reason to stop shows each.
    median = halving.simulate(_curves(), policy="median", workers=4)
    fig = plot_curves(median, tmp_path / "median.png")
    legend = [t.get_text() for t in fig.axes[0].get_legend().get_texts()]
    assert any(text.startswith("stop: median (") for text in legend), legend


def test_show_plot_of_a_real_run_draws_its_failed_and_one_epoch_trials(tmp_path, ray_session):
    from halving.cli import app

    run_dir = tmp_path / "run"
    result = halving.tune(train_faulty, space={"kind": space.choice(["raise", "fine"]), "x": space.uniform(0, 1)},
                          metric="acc", mode="max", policy="asha", max_epochs=9, trials=12, workers=2, seed=0,
                          run_dir=run_dir)
    assert result.n_failed > 0
    out = CliRunner().invoke(app, ["show", str(run_dir), "--plot", str(tmp_path / "show.png")])
    assert out.exit_code == 0, out.output
    assert _is_png(tmp_path / "show.png")
    loaded = halving.load(run_dir)
    fig = plot_curves(loaded, tmp_path / "again.png")
    reported = set(loaded.table().column("trial").to_pylist())
    assert set(_trial_lines(fig)) == reported
    failed = [t for t, s in loaded.states.items() if s is halving.TrialState.FAILED and t in reported]
    assert sum(len(c.get_offsets()) for c in _scatters(fig)["failed"]) == len(failed) > 0


def test_every_line_of_a_comparison_stays_visible(tmp_path):
    curves = _curves()
    results = [(p, s, halving.simulate(curves, policy=p, workers=4, seed=s))
               for s in (0, 1) for p in ("asha", "sha", "hyperband", "median", "none")]
    fig = plot_best_so_far(results, tmp_path / "compare.png")
    assert _is_png(tmp_path / "compare.png")
    lines = [line for line in fig.axes[0].get_lines() if len(line.get_xdata())]
    assert len(lines) == len(results)
    # Lines that coincide still differ in colour, marker or style...
    looks = {(line.get_color(), line.get_marker(), line.get_linestyle()) for line in lines}
    assert len(looks) == len(results)
    assert len({line.get_color() for line in lines}) == 5 and len({line.get_linestyle() for line in lines}) == 2
    # ...and each is drawn thinner than the one under it, so the first (ASHA's) shows as a rim.
    widths = [line.get_linewidth() for line in sorted(lines, key=lambda l: l.get_zorder())]
    assert all(a > b for a, b in zip(widths, widths[1:])) and widths[-1] >= 1.0
    legend = [t.get_text() for t in fig.axes[0].get_legend().get_texts()]
    assert len(legend) == len(results) and legend[0].startswith("asha (seed 0): ")
