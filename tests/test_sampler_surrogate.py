"""benchmarks.sampler_surrogate: the nearest-neighbour surrogate answers a table row with
its own curve and a nearby configuration with its neighbour's; the smoke run works."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np

from benchmarks import sampler_surrogate as ss
from halving import samplers as S
from halving import space
from halving.space import Space

ROOT = Path(__file__).resolve().parents[1]
SPEC = {"lr": space.loguniform(1e-4, 1.0), "act": space.choice(["relu", "tanh"]), "m": space.uniform(0.0, 1.0)}


def _table(n: int = 30) -> dict:
    rng = np.random.default_rng(0)
    return {"configs": n, "seed": ss.TABLE_SEED, "max_epochs": 4, "curves": rng.random((n, 4)).tolist()}


def test_a_table_row_gets_its_own_curve_and_a_neighbour_the_nearest_rows():
    table = _table()
    surrogate = ss.Surrogate(SPEC, table)
    configs = Space.from_spec(SPEC).sample(30, ss.TABLE_SEED)
    for i, config in enumerate(configs):
        assert list(surrogate(config)) == table["curves"][i]
    near = dict(configs[7], m=configs[7]["m"] + 1e-9 if configs[7]["m"] < 0.5 else configs[7]["m"] - 1e-9)
    assert list(surrogate(near)) == table["curves"][7]
    # A differing category outweighs any numeric distance: the nearest row of the same category wins.
    other = "tanh" if configs[7]["act"] == "relu" else "relu"
    same_cat = [i for i, c in enumerate(configs) if c["act"] == other]
    got = surrogate(dict(configs[7], act=other))
    assert any(list(got) == table["curves"][i] for i in same_cat)


def test_variants_name_a_sampler_and_its_parameters():
    assert ss.sampler_of("tpe") == "tpe"
    built = ss.sampler_of("tpe:bandwidth_factor=1:n_candidates=8")
    assert isinstance(built, S.TPESampler) and built.bandwidth_factor == 1.0 and built.n_candidates == 8


def test_quick_run_writes_every_variant(tmp_path):
    out = tmp_path / "s.json"
    run = subprocess.run([sys.executable, "-m", "benchmarks", "sampler_surrogate", "--quick", "--out", str(out)],
                         cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stdout[-2000:] + run.stderr[-2000:]
    rows = json.loads(out.read_text())["figures"]["rows"]
    assert [r["variant"] for r in rows] == ss.DEFAULT_VARIANTS.split(",")
    assert all(len(r["per_seed"]) == 5 and 0.0 <= r["median"] <= 1.0 for r in rows)
