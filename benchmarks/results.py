"""The machine-readable result of a benchmark run: its figures with the command, the
date, the machine's load at start and end, the versions and the machine.

Every run writes one JSON file under ``benchmarks/results/`` (or ``--out``); the
README's Performance table points to those files.
"""

from __future__ import annotations

import datetime as _dt
import json
import os
import platform
import shlex
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Sequence

__all__ = ["RESULTS_DIR", "Record", "Target", "default_path", "load_average", "machine", "versions"]

RESULTS_DIR = Path(__file__).resolve().parent / "results"
#: Packages whose versions go into every result.
VERSIONED = ("halving", "ray", "optuna", "sklearn", "numpy")
#: A target is judged only when the 1-minute load average at the start was below this share
#: of the cores: above it, other work on the machine distorts the ratio.
IDLE_LOAD_SHARE = 0.5


def load_average() -> list[float] | None:
    """1, 5 and 15-minute load averages (``os.getloadavg()``); None where the OS has none."""
    try:
        return [round(x, 2) for x in os.getloadavg()]
    except (AttributeError, OSError):
        return None


def versions() -> dict[str, str | None]:
    out: dict[str, str | None] = {"python": platform.python_version()}
    for name in VERSIONED:
        try:
            out[name] = getattr(__import__(name), "__version__", "unknown")
        except ImportError:
            out[name] = None
    return out


def _cpu_model() -> str:
    try:
        with open("/proc/cpuinfo") as fh:
            for line in fh:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def machine() -> dict[str, Any]:
    return {"cores": os.cpu_count(), "cpu": _cpu_model(), "platform": platform.platform()}


def _commit() -> dict[str, Any]:
    """The commit measured, and whether halving/ or policies/ had uncommitted changes."""
    root = Path(__file__).resolve().parent.parent
    try:
        head = subprocess.run(["git", "rev-parse", "HEAD"], cwd=root, capture_output=True, text=True,
                              timeout=10).stdout.strip()
        dirty = subprocess.run(["git", "status", "--porcelain", "--", "halving", "policies"], cwd=root,
                               capture_output=True, text=True, timeout=10).stdout.splitlines()
    except (OSError, subprocess.SubprocessError):
        return {"commit": None}
    return {"commit": head or None, "uncommitted_in_halving_or_policies": [d[3:] for d in dirty if d.strip()]}


def default_path(name: str, quick: bool = False) -> Path:
    """``benchmarks/results/NAME.json``, or ``NAME-quick.json`` for a smoke run."""
    return RESULTS_DIR / f"{name}{'-quick' if quick else ''}.json"


@dataclass
class Target:
    """A target of the issue, as a ratio (or share) measured in this run against a limit."""

    name: str
    value: float | None
    limit: float
    at_least: bool  # True: value must be >= limit; False: <= limit

    def met(self) -> bool | None:
        if self.value is None or self.value != self.value:
            return None
        return self.value >= self.limit if self.at_least else self.value <= self.limit

    def as_dict(self, judged: str | None) -> dict[str, Any]:
        met = self.met()
        verdict = "no figure" if met is None else ("met" if met else "not met")
        if judged is not None and met is not None:
            # a loaded or smoke-sized run shows neither that a target is met nor that it is not
            verdict = f"not judged ({judged}); {verdict} in this run"
        return {"name": self.name, "value": self.value, "want": f"{'>=' if self.at_least else '<='} {self.limit:g}",
                "met_in_this_run": met, "verdict": verdict}


@dataclass
class Record:
    """Started when a benchmark starts (command, date, load); finished with its figures."""

    name: str
    argv: Sequence[str]
    quick: bool = False
    #: False for a benchmark whose figures are not times (quality): the load cannot bias them
    timed: bool = True
    date: str = field(default_factory=lambda: _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"))
    load_start: list[float] | None = field(default_factory=load_average)
    code: dict[str, Any] = field(default_factory=_commit)

    @property
    def command(self) -> str:
        return "python -m benchmarks " + shlex.join([self.name, *self.argv])

    def why_not_judged(self) -> str | None:
        """Why this run's targets cannot be called met, or None when they can."""
        if self.quick:
            return "smoke sizes, not the target's workload"
        if not self.timed:
            return None
        cores = os.cpu_count() or 1
        if self.load_start is None:
            return "load unknown"
        if self.load_start[0] >= IDLE_LOAD_SHARE * cores:
            return f"load average {self.load_start[0]:g} at the start on {cores} cores"
        return None

    def finish(self, figures: dict[str, Any], targets: Sequence[Target] = ()) -> dict[str, Any]:
        judged = self.why_not_judged()
        return {
            "benchmark": self.name,
            "command": self.command,
            "date": self.date,
            "load": {"start": self.load_start, "end": load_average(),
                     "note": "os.getloadavg() (1, 5, 15 min); the benchmark's own workers add to the end figure"},
            "machine": machine(),
            "versions": versions(),
            "code": self.code,
            "quick": self.quick,
            "timed": self.timed,
            "targets": [t.as_dict(judged) for t in targets],
            "targets_judged": judged is None,
            "not_judged_because": judged,
            "figures": figures,
        }

    def write(self, figures: dict[str, Any], targets: Sequence[Target] = (),
              path: str | Path | None = None) -> tuple[Path, dict[str, Any]]:
        """Write the result to ``path`` (default: ``default_path``); returns the path and what was written."""
        out = Path(path) if path else default_path(self.name, self.quick)
        out.parent.mkdir(parents=True, exist_ok=True)
        payload = self.finish(figures, targets)
        out.write_text(json.dumps(payload, indent=2, default=_plain) + "\n")
        print(f"\nwrote {out}", file=sys.stderr, flush=True)
        return out, payload


def _plain(x: Any) -> Any:
    """JSON for numpy scalars and anything else a figure may hold."""
    if hasattr(x, "item"):
        return x.item()
    return str(x)
