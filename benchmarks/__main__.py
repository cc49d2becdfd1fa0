"""Run one benchmark and write its JSON result: python -m benchmarks NAME [options]."""

from __future__ import annotations

import argparse
import importlib
import os
import sys
from pathlib import Path
from typing import Sequence

from . import BENCHMARKS
from .results import Record

ROOT = Path(__file__).resolve().parent.parent


def _importable_by_workers() -> None:
    """Ray's worker processes unpickle the workloads by reference, so they must import this
    package (and the same halving) as the driver: put the repository first on their path."""
    paths = os.environ.get("PYTHONPATH", "").split(os.pathsep)
    if str(ROOT) not in paths:
        os.environ["PYTHONPATH"] = os.pathsep.join([str(ROOT), *[p for p in paths if p]])


def parser() -> argparse.ArgumentParser:
    ap = argparse.ArgumentParser(prog="python -m benchmarks", description=__doc__.splitlines()[0])
    sub = ap.add_subparsers(dest="name", metavar="NAME", required=True)
    for name, what in BENCHMARKS.items():
        p = sub.add_parser(name, help=what, description=what)
        importlib.import_module(f"benchmarks.{name}").add_arguments(p)
        p.add_argument("--out", type=Path, default=None,
                       help=f"the JSON result (default benchmarks/results/{name}.json, {name}-quick.json with --quick)")
    return ap


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    args = parser().parse_args(argv)
    module = importlib.import_module(f"benchmarks.{args.name}")
    record = Record(args.name, argv[1:], quick=bool(getattr(args, "quick", False)),
                    timed=getattr(module, "TIMED", True))
    _importable_by_workers()
    figures, targets = module.run(args)
    if figures is None:  # a helper process of a benchmark (wall's fresh-Ray child) writes no result
        return 0
    figures["params"] = {k: str(v) if isinstance(v, Path) else v for k, v in figures.get("params", {}).items()}
    _, payload = record.write(figures, targets, args.out)
    for t in payload["targets"]:
        print(f"target: {t['name']} {t['want']}: {t['value']!s:.6} -> {t['verdict']}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
