"""Trainables used by the Ray tests (shipped to workers by value)."""

from __future__ import annotations

import math
import os
import time

import halving


def curve(config: dict, epoch: int) -> float:
    """A deterministic learning curve of a config: rises to a plateau set by x."""
    x = config["x"]
    return x * (1.0 - math.exp(-epoch / (1.0 + 4.0 * config.get("slow", 0.0))))


def train_counting(config: dict) -> None:
    """Keeps its own epoch counter, so tests can check promotions resume warm."""
    own = 0
    while True:
        own += 1
        if config.get("sleep"):
            time.sleep(config["sleep"])
        halving.report(acc=curve(config, own), own_epoch=own, pid=os.getpid())


def train_timed(config: dict) -> None:
    """Records when each epoch trained, to measure concurrency."""
    epoch = 0
    while True:
        epoch += 1
        t0 = time.time()
        time.sleep(0.02)
        halving.report(acc=curve(config, epoch), t0=t0, t1=time.time(), pid=os.getpid())


class CountingClass:
    def setup(self, config: dict) -> None:
        self.config = config
        self.epoch = 0
        self.setups = 1

    def train_epoch(self) -> dict:
        self.epoch += 1
        return {"acc": curve(self.config, self.epoch), "own_epoch": self.epoch, "pid": os.getpid()}

    def save(self) -> dict:
        return {"epoch": self.epoch, "config": self.config}

    def restore(self, state: dict) -> None:
        self.epoch = state["epoch"]

    def model(self) -> tuple:
        return ("model", self.config["x"], self.epoch)


def train_cpus(config: dict) -> None:
    import ray

    epoch = 0
    while True:
        epoch += 1
        granted = ray.get_runtime_context().get_assigned_resources().get("CPU", 0.0)
        halving.report(acc=curve(config, epoch), cpus=halving.cpus(), ray_cpus=granted)


def train_faulty(config: dict) -> None:
    epoch = 0
    while True:
        epoch += 1
        if config["kind"] == "raise" and epoch == 2:
            raise RuntimeError("boom in trial code")
        if config["kind"] == "nan" and epoch == 2:
            halving.report(acc=float("nan"))
            continue
        if config["kind"] == "missing" and epoch == 2:
            halving.report(loss=1.0, other=2)
            continue
        halving.report(acc=0.1 * epoch + config["x"])


class CpuClass:
    """Reports the CPUs halving granted and the CPUs Ray accounts to its worker."""

    def setup(self, config: dict) -> None:
        self.config = config
        self.epoch = 0

    def train_epoch(self) -> dict:
        import ray

        self.epoch += 1
        granted = ray.get_runtime_context().get_assigned_resources().get("CPU", 0.0)
        return {"acc": curve(self.config, self.epoch), "cpus": halving.cpus(), "ray_cpus": granted,
                "own_epoch": self.epoch}


def train_flaky(config: dict) -> None:
    """Raises once at epoch 2 (a marker file remembers), then trains normally."""
    marker = os.path.join(config["dir"], f"failed-{config['x']}")
    epoch = 0
    while True:
        epoch += 1
        if epoch == 2 and config["flaky"] and not os.path.exists(marker):
            open(marker, "w").close()
            raise RuntimeError("transient failure")
        halving.report(acc=curve(config, epoch), own_epoch=epoch)


def train_hanging(config: dict) -> None:
    epoch = 0
    while True:
        epoch += 1
        if config["hang"] and epoch == 2:
            time.sleep(3600)
        halving.report(acc=curve(config, epoch))


def train_self_kill(config: dict) -> None:
    """The worker process of one trial is SIGKILLed at epoch 2, once (a marker file remembers)."""
    import signal

    marker = os.path.join(config["dir"], "killed")
    epoch = 0
    while True:
        epoch += 1
        time.sleep(0.01)
        if config["killer"] and epoch == 2 and not os.path.exists(marker):
            open(marker, "w").close()
            os.kill(os.getpid(), signal.SIGKILL)
        halving.report(acc=curve(config, epoch), own_epoch=epoch, pid=os.getpid())


def train_contract(config: dict) -> None:
    """The backend contract's trainable: ``curve``, with the trial whose x is ``trap``
    raising in epoch 2 and the one whose x is ``slow_x`` taking ``slow`` seconds an epoch."""
    epoch = 0
    while True:
        epoch += 1
        time.sleep(config["slow"] if config["x"] == config["slow_x"] else 0.002)
        if config["x"] == config["trap"] and epoch == 2:
            raise RuntimeError(f"trap sprung in epoch {epoch}")
        halving.report(acc=curve(config, epoch))


def train_unpicklable_model(config: dict) -> None:
    """Reports a model that cannot be pickled (a lock) with every epoch."""
    import threading

    epoch = 0
    while True:
        epoch += 1
        halving.report(acc=curve(config, epoch), model=threading.Lock())


class UnpicklableModelClass:
    """A class trainable whose model() is a lock."""

    def setup(self, config: dict) -> None:
        self.config, self.epoch = config, 0

    def train_epoch(self) -> dict:
        self.epoch += 1
        return {"acc": curve(self.config, self.epoch)}

    def model(self):
        import threading

        return threading.Lock()


def train_quick_self_kill(config: dict) -> None:
    """Epochs of no work (several go to a worker in one call); the worker of the trial with
    ``x == config["kill_x"]`` is SIGKILLed at its first epoch: once (a marker file remembers),
    or every time with ``config["always"]``."""
    import signal

    marker = os.path.join(config["dir"], "killed")
    epoch = 0
    while True:
        epoch += 1
        if (epoch == 1 and abs(config["x"] - config["kill_x"]) < 1e-9
                and (config.get("always") or not os.path.exists(marker))):
            open(marker, "w").close()
            os.kill(os.getpid(), signal.SIGKILL)
        halving.report(acc=curve(config, epoch), own_epoch=epoch, pid=os.getpid())


def train_reading_its_log(config: dict) -> None:
    """Before each epoch, reads the run's event log (as any reader may, while it is written)
    and reports whether the assignment it trains under is on disk already."""
    import json

    from halving.eventlog import iter_events, read_events

    epoch = 0
    while True:
        epoch += 1
        events = list(iter_events(read_events(config["run_dir"])))
        mine = {e["trial"] for e in events if e["kind"] == "trial_created" and json.loads(e["payload"]) == config}
        logged = any(e["kind"] == "assigned" and e["trial"] in mine and e["epoch"] < epoch <= e["until"]
                     for e in events)
        halving.report(acc=curve(config, epoch), logged=int(logged))
