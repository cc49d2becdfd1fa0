"""``policies`` is pure decision logic: it imports without ray, pyarrow, typer or
halving, and reads no clock and no global random state."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
POLICIES_DIR = ROOT / "policies"

SCRIPT = textwrap.dedent(
    """
    import sys

    BLOCKED = {"ray", "pyarrow", "typer", "halving"}

    class Block:
        def find_spec(self, name, path=None, target=None):
            if name.partition(".")[0] in BLOCKED:
                raise ImportError(f"{name} is blocked in this test")
            return None

    for name in list(sys.modules):
        if name.partition(".")[0] in BLOCKED:
            del sys.modules[name]
    sys.meta_path.insert(0, Block())

    for name in sorted(BLOCKED):
        try:
            __import__(name)
        except ImportError:
            pass
        else:
            raise SystemExit(f"the import blocker let {name} through")

    import policies as P


    def drive(policy, n, R):
        # One worker; trial t's value at epoch e is t + e / 100 (higher is better).
        policy.start(n_trials=n, max_epochs=R, mode="max")
        trained, completed = {}, set()
        while (a := policy.next()) is not P.DONE:
            assert isinstance(a, P.Assignment), a
            until = a.until
            while True:
                out = ()
                for e in range(trained.get(a.trial, 0) + 1, until + 1):
                    out = policy.report(a.trial, e, a.trial + e / 100)
                    trained[a.trial] = e
                if out[0].action is P.Action.CONTINUE:
                    until = out[0].until
                    continue
                completed |= {d.trial for d in out if d.action is P.Action.COMPLETE}
                break
        policy.finish()
        return completed


    assert drive(P.SuccessiveHalving(eta=3), 9, 9) == {8}
    assert 8 in drive(P.ASHA(eta=3), 9, 9)
    assert 8 in drive(P.Hyperband(eta=3, seed=1), 9, 9)
    for name in sorted(P.POLICIES):
        assert 8 in drive(P.make(name), 9, 9), name
    assert P.hyperband_brackets(81, 3)[1][:2] == (3, 34)

    leaked = sorted(m for m in sys.modules if m.partition(".")[0] in BLOCKED)
    assert not leaked, leaked
    print("pure ok")
    """
)


def test_policies_import_and_run_without_ray_pyarrow_typer_halving():
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(ROOT), *filter(None, [env.get("PYTHONPATH")])])
    proc = subprocess.run(
        [sys.executable, "-c", SCRIPT], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "pure ok"


# Module-level sources of non-determinism a policy must not read. ``random.Random(seed)``
# (a private generator, as Hyperband uses) is allowed.
FORBIDDEN = [
    (r"^\s*(import|from)\s+time\b", "the time module"),
    (r"\bdatetime\b", "datetime"),
    (r"\bperf_counter\b|\bmonotonic\b", "a clock"),
    (r"\bnp\.random\b|\bnumpy\.random\b", "numpy's global random state"),
    (r"(?<![\w.])random\.(random|seed|shuffle|choice|choices|randint|randrange|uniform|sample|gauss|getrandbits)\(",
     "the random module's global generator"),
    (r"^\s*from\s+random\s+import\b", "names from the random module"),
    (r"\burandom\b|\buuid\b|\bsecrets\b", "OS randomness"),
    (r"(?<![\w.])hash\(", "hash(), salted per process for str"),
    (r"^\s*(import|from)\s+(ray|pyarrow|typer|halving)\b", "a forbidden import"),
]


def policy_sources():
    files = sorted(POLICIES_DIR.glob("*.py"))
    assert len(files) >= 7
    return files


@pytest.mark.parametrize("path", policy_sources(), ids=lambda p: p.name)
def test_no_clock_or_global_random_state(path):
    text = path.read_text()
    for pattern, what in FORBIDDEN:
        hits = [line for line in text.splitlines() if re.search(pattern, line)]
        assert not hits, f"{path.name} uses {what}: {hits}"


def test_hyperband_uses_a_private_seeded_generator():
    text = (POLICIES_DIR / "_hyperband.py").read_text()
    assert "random.Random(self.seed)" in text


def test_forbidden_patterns_catch_what_they_should():
    # The patterns themselves, on examples.
    bad = ["import time", "from datetime import datetime", "np.random.rand(3)", "random.shuffle(x)",
           "x = random.random()", "from random import shuffle", "hash(name)"]
    good = ["rng = random.Random(seed)", "rng.shuffle(block)", "self.rng.random()", "import random"]
    for line in bad:
        assert any(re.search(p, line) for p, _ in FORBIDDEN), line
    for line in good:
        assert not any(re.search(p, line) for p, _ in FORBIDDEN), line
