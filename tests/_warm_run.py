"""Run by tests/test_warm_workers.py in its own process (no Ray running): tune() twice, then
again after the trainable's module changed on disk. Prints one JSON line."""

from __future__ import annotations

import importlib
import json
import os
import sys
import time
from pathlib import Path

import halving
from halving import space

SPACE = {"x": space.uniform(0.0, 1.0)}
MODULE = '''
import os, time
import halving

IMPORTED_AT = time.time()
VERSION = {version}


def train(config):
    while True:
        halving.report(acc=config["x"], pid=os.getpid(), version=VERSION, imported_at=IMPORTED_AT,
                       started_at=STARTED.setdefault(config["x"], time.time()))


STARTED = {{}}
'''


def _write(folder: Path, version: int) -> None:
    (folder / "warm_target.py").write_text(MODULE.format(version=version))


def _tune(run_dir: Path):
    mod = importlib.import_module("warm_target")
    result = halving.tune(mod.train, SPACE, metric="acc", mode="max", policy="none", max_epochs=2, trials=4,
                          workers=2, run_dir=run_dir)
    from halving.eventlog import read_events

    events = read_events(run_dir).to_pydict()
    assigned = [t for t, kind in zip(events["time"], events["kind"]) if kind == "assigned"]
    return {**result.table().to_pydict(), "first_assigned": min(assigned)}


def main(folder: Path) -> None:
    sys.path.insert(0, str(folder))  # the workers import it by name too: it is on their PYTHONPATH
    _write(folder, 1)
    first = _tune(folder / "a")
    second = _tune(folder / "b")
    time.sleep(0.01)
    _write(folder, 2)  # another size and mtime: the kept workers hold version 1
    os.utime(folder / "warm_target.py", ns=(time.time_ns(), time.time_ns() + 10**9))
    del sys.modules["warm_target"]
    third = _tune(folder / "c")
    print("WARM " + json.dumps({"first": first, "second": second, "third": third}), flush=True)


if __name__ == "__main__":
    main(Path(sys.argv[1]))
