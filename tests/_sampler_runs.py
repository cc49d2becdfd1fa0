"""Helpers of the sampler tests: a simulated backend whose curves depend on the config (a
known function of it), and a logged run of it that can be interrupted and resumed."""

from __future__ import annotations

import json
import math
from pathlib import Path

from halving import samplers as S
from halving import space as hs
from halving.backends.simulated import SimulatedBackend
from halving.eventlog import iter_events, log_files, read_events
from halving.experiment import ExperimentSpec
from halving.tuner import run_logged

SPACE = {"lr": hs.loguniform(1e-4, 1.0), "width": hs.qloguniform(8, 512, 8), "depth": hs.randint(1, 6),
         "drop": hs.quniform(0.0, 0.5, 0.05), "act": hs.choice(["relu", "tanh", "gelu"]), "shift": hs.normal(0, 1),
         "name": "net"}

def score(config: dict, epoch: int) -> float:
    """A learning curve: rises with epochs toward a ceiling set by the config (best near lr=1e-2,
    width 256, depth 3, drop 0.1, gelu, shift 0.5)."""
    ceiling = (1.0 - 0.1 * (math.log10(config["lr"]) + 2) ** 2 - 0.05 * math.log2(config["width"] / 256) ** 2
               - 0.03 * (config["depth"] - 3) ** 2 - (config["drop"] - 0.1) ** 2
               + {"relu": 0.0, "tanh": -0.05, "gelu": 0.05}[config["act"]] - 0.05 * (config["shift"] - 0.5) ** 2)
    return ceiling * (1.0 - 0.5 ** epoch)

class ConfigCurves(SimulatedBackend):
    """A simulated backend whose trial curves are ``score(config, epoch)``."""

    def __init__(self, workers: int) -> None:
        self.configs: dict[int, dict] = {}
        super().__init__(lambda trial, epoch: score(self.configs[trial], epoch), workers=workers)

    def submit(self, trial, config, start, until, rung=0):
        if config:
            self.configs[trial] = config
        return super().submit(trial, config, start, until, rung)

class Interrupt(Exception):
    pass

def logged_run(spec: ExperimentSpec, run_dir: Path, *, workers: int, stop_after: int | None = None):
    """Run ``spec`` on a ConfigCurves backend, logged to ``run_dir`` (resumed when it holds a
    log); with ``stop_after``, the driver is interrupted once that many trials exist."""
    events = read_events(run_dir) if log_files(run_dir) else None
    backend = ConfigCurves(workers)
    if events is not None:  # the configs of trials created before: the backend restarts them
        backend.configs.update({e["trial"]: json.loads(e["payload"])
                                for e in iter_events(events) if e["kind"] == "trial_created"})

    def progress(engine):
        if stop_after is not None and len(engine.trials) >= stop_after:
            raise KeyboardInterrupt

    try:
        return run_logged(spec, spec.policy.build(), backend, run_dir, events, progress)
    except KeyboardInterrupt as exc:  # what the driver does at Ctrl-C: the log is closed, the run resumable
        if stop_after is None or "Resume with" not in str(exc):
            raise
        return None

def proposals(run_dir: Path) -> list[tuple[int, str, str | None]]:
    """(trial, config JSON, origin JSON) of every trial_created event, in log order."""
    return [(e["trial"], e["payload"], e["reason"]) for e in iter_events(read_events(run_dir))
            if e["kind"] == "trial_created"]

def session_checks(run_dir: Path) -> list[dict]:
    return [json.loads(e["payload"]).get("replayed", {}).get("sampler") for e in iter_events(read_events(run_dir))
            if e["kind"] == "session_started"]


def train(config: dict) -> None:
    """The same curves as a real trainable, for runs on Ray."""
    import halving

    for epoch in range(1, 100):
        halving.report(acc=score(config, epoch))


# What ``DriftingSampler`` adds to its proposals: a test changes it between two sessions, as a
# changed sampler's code would.
DRIFT = {"shift": 0.0}


class DriftingSampler(S.TPESampler):
    """TPE whose proposals move by ``DRIFT["shift"]``: a custom sampler by 'module:Class'."""

    name = "drifting"

    def propose(self, trial, running):
        p = super().propose(trial, running)
        config = dict(p.config, shift=p.config["shift"] + DRIFT["shift"])
        return S.Proposal(config, p.model, p.n_obs, p.pending, p.detail)
