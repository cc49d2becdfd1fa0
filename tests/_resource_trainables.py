"""Trainables of the resource tests: each reports what its worker holds (GPU ids, the
environment Ray and halving set, its node) and when each epoch ran."""

from __future__ import annotations

import math
import os
import time

import ray

import halving


def _held(epoch_began: float) -> dict:
    ctx = ray.get_runtime_context()
    assigned = ctx.get_assigned_resources()
    return {"gpus": ",".join(halving.gpus()), "cuda": os.environ.get("CUDA_VISIBLE_DEVICES", "<unset>"),
            "env_gpus": os.environ.get("HALVING_GPUS", "<unset>"), "env_cpus": os.environ.get("HALVING_CPUS", ""),
            "ray_gpu": float(assigned.get("GPU", 0.0)), "ray_accel": float(assigned.get("accel", 0.0)),
            "node": ctx.get_node_id(), "began": epoch_began, "pid": os.getpid()}


def curve(config: dict, epoch: int) -> float:
    return config["x"] * (1.0 - math.exp(-epoch / (1.0 + 4.0 * config.get("slow", 0.5))))


def train_fn(config: dict) -> None:
    """A function trainable without checkpoints: its state cannot move."""
    epoch = 0
    while True:
        began = time.time()
        time.sleep(config.get("sleep", 0.05))
        epoch += 1
        halving.report(acc=curve(config, epoch), own_epoch=epoch, **_held(began))


def train_fn_checkpointed(config: dict) -> None:
    """Reports a checkpoint each epoch, so it can leave a device while paused and move."""
    state = halving.checkpoint() or {"epoch": 0, "restarts": 0}
    if state["epoch"]:
        state = {**state, "restarts": state["restarts"] + 1}
    epoch = state["epoch"]
    while True:
        began = time.time()
        time.sleep(config.get("sleep", 0.02))
        epoch += 1
        halving.report(acc=curve(config, epoch), own_epoch=epoch, resumed_from_checkpoint=state["restarts"],
                       checkpoint={"epoch": epoch, "restarts": state["restarts"]}, **_held(began))


class Hooked:
    """A class with offload()/reload() hooks: counts how often each ran."""

    def setup(self, config: dict) -> None:
        self.config, self.epoch, self.offloads, self.reloads = config, 0, 0, 0
        self.on_device = True

    def train_epoch(self) -> dict:
        if not self.on_device:
            raise RuntimeError("trained while its state was off the device")
        began = time.time()
        time.sleep(self.config.get("sleep", 0.02))
        self.epoch += 1
        return {"acc": curve(self.config, self.epoch), "own_epoch": self.epoch, "offloads": self.offloads,
                "reloads": self.reloads, **_held(began)}

    def offload(self) -> None:
        self.on_device = False
        self.offloads += 1

    def reload(self) -> None:
        self.on_device = True
        self.reloads += 1


class Saved:
    """A class with save()/restore() and no hooks: offloaded by save(), rebuilt by restore()."""

    def setup(self, config: dict) -> None:
        self.config, self.epoch, self.restores = config, 0, 0

    def train_epoch(self) -> dict:
        began = time.time()
        time.sleep(self.config.get("sleep", 0.02))
        self.epoch += 1
        return {"acc": curve(self.config, self.epoch), "own_epoch": self.epoch, "restores": self.restores,
                **_held(began)}

    def save(self) -> dict:
        return {"epoch": self.epoch, "restores": self.restores}

    def restore(self, state: dict) -> None:
        self.epoch, self.restores = state["epoch"], state["restores"] + 1
