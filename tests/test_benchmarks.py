"""The benchmarks package: one entry point listing every benchmark, the result file's
fields, the shared curve generator and report stream. No Ray here."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

import policies
from benchmarks import BENCHMARKS, results
from benchmarks.__main__ import main, parser
from benchmarks.adapters import Outcome
from benchmarks.curve_bank import BLOCK, CurveBank, block_seed
from benchmarks.report_stream import record, replay_halving
from halving.synthetic import synthetic_curves

ROOT = Path(__file__).resolve().parents[1]
EXPECTED = {"overhead", "utilisation", "wall", "compare_peers", "decide_speed", "scale", "sklearn_halving",
            "first_report", "many_workers", "curve_promotion", "sampler_speed", "testfunctions", "quality",
            "sampler_surrogate", "decision_cost"}


def test_help_lists_every_benchmark():
    out = subprocess.run([sys.executable, "-m", "benchmarks", "--help"], cwd=ROOT, capture_output=True, text=True,
                         timeout=120)
    assert out.returncode == 0, out.stderr
    assert set(BENCHMARKS) == EXPECTED
    for name in BENCHMARKS:
        assert name in out.stdout


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_every_benchmark_parses_its_quick_options(name):
    args = parser().parse_args([name, "--quick"] if name != "decide_speed" else [name, "--quick", "--skip", "ray"])
    assert args.name == name and args.quick


def test_record_writes_the_fields_of_a_result(tmp_path):
    rec = results.Record("scale", ["--quick"], quick=True)
    path, written = rec.write({"rows": [1, 2]}, [results.Target("a ratio", 30.0, 20.0, at_least=True)],
                              tmp_path / "r.json")
    data = json.loads(path.read_text())
    assert data == written
    assert data["command"] == "python -m benchmarks scale --quick"
    assert data["date"][:4].isdigit()
    assert set(data["load"]) >= {"start", "end"}
    assert set(data["versions"]) == {"python", "halving", "ray", "optuna", "sklearn", "numpy"}
    assert data["machine"]["cores"] >= 1
    assert data["figures"] == {"rows": [1, 2]}
    # a smoke-sized run never claims a target met
    assert data["targets"][0]["met_in_this_run"] is True
    assert data["targets"][0]["verdict"].startswith("not judged")


def test_a_loaded_run_judges_no_target(monkeypatch):
    rec = results.Record("overhead", [], load_start=[64.0, 64.0, 64.0])
    assert "load average 64" in rec.why_not_judged()
    idle = results.Record("overhead", [], load_start=[0.0, 0.0, 0.0])
    assert idle.why_not_judged() is None
    assert idle.finish({}, [results.Target("x", 0.4, 0.5, at_least=False)])["targets"][0]["verdict"] == "met"


def test_scale_writes_its_result(tmp_path):
    out = tmp_path / "scale.json"
    assert main(["scale", "--trials", "300", "--max-epochs", "9", "--workers", "1,3", "--out", str(out)]) == 0
    data = json.loads(out.read_text())
    assert data["benchmark"] == "scale"
    assert [r["workers"] for r in data["figures"]["rows"]] == [1, 3, 1, 3]


def test_curve_bank_rows_come_from_the_library_generator():
    bank = CurveBank(5, seed=2)
    ref = synthetic_curves(BLOCK, 5, block_seed(2, 1))
    assert bank.row(BLOCK + 7) == ref[7].tolist()
    assert block_seed(0, 1) != block_seed(1, 0)
    with pytest.raises(ValueError, match="max_epochs"):
        CurveBank(0)


def test_report_stream_replays_to_the_recorded_decisions():
    s = record(policies.ASHAStop(eta=3, min_epochs=1), 3000, 8, CurveBank(27, seed=0), seed=0)
    assert len(s) == 3000 and s.ends
    _, ends = replay_halving(lambda: policies.ASHAStop(eta=3, min_epochs=1), s, 3000 + 8, 27)
    assert ends == s.ends


def test_outcome_best_breaks_ties_to_the_lowest_index():
    o = Outcome("t", "p", 1.0, 3, finals=[(4, {"v": 0.9}), (2, {"v": 0.9}), (1, {"v": 0.5})])
    assert o.best("v") == (2, {"v": 0.9})
    assert o.best("v", "min") == (1, {"v": 0.5})
    with pytest.raises(ValueError, match="mode"):
        o.best("v", "up")


def test_many_workers_refuses_more_workers_than_the_cluster_has_cpus():
    args = parser().parse_args(["many_workers", "--nodes", "2", "--node-cpus", "4", "--workers-list", "2,16"])
    from benchmarks import many_workers

    with pytest.raises(SystemExit, match="16 workers need more than 2 x 4 CPUs"):
        many_workers.run(args)


def test_first_report_finds_the_installed_examples():
    from benchmarks import first_report

    assert first_report.examples_importable() == {}  # the README's install maps examples/ to halving.examples


@pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="reads /proc")
def test_processes_cpu_sees_this_processs_children_by_title_and_their_cpu():
    from benchmarks.timing import cpu_between, processes_cpu

    title = "import time; t = time.process_time()"  # a command line no other process has
    before = processes_cpu(sys.executable)
    child = subprocess.Popen([sys.executable, "-c", title + "\nwhile time.process_time() - t < 0.3: pass\n"
                              "import sys; sys.stdin.read()"], stdin=subprocess.PIPE)
    try:
        import time

        deadline = time.time() + 30
        seen: dict = {}
        while time.time() < deadline:
            seen = processes_cpu(sys.executable)
            if seen.get(child.pid, 0.0) >= 0.3:
                break
            time.sleep(0.05)
        assert child.pid in seen and child.pid not in before
        assert cpu_between(before, seen) >= 0.3  # the child's own CPU, counted whole
        assert os.getpid() not in seen  # descendants only
    finally:
        child.communicate(b"")


def test_decision_cost_measures_each_policy_at_each_size(tmp_path):
    out = tmp_path / "cost.json"
    run = subprocess.run([sys.executable, "-m", "benchmarks", "decision_cost", "--quick", "--out", str(out)], cwd=ROOT,
                         capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stderr[-2000:]
    figures = json.loads(out.read_text())["figures"]
    assert [(r["policy"], r["trials"]) for r in figures["rows"]] == [
        ("asha", 300), ("asha", 3000), ("asha-curve", 300), ("asha-curve", 3000)]
    assert all(r["decisions"] >= r["trials"] and r["us_per_decision"] > 0 for r in figures["rows"])
    by = {(r["policy"], r["trials"]): r["us_per_decision"] for r in figures["rows"]}
    assert figures["asha_curve_growth"] == by[("asha-curve", 3000)] / by[("asha-curve", 300)]
