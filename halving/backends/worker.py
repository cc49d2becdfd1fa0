"""The worker actor: holds trials (running and paused) and trains them a grant at a time."""

from __future__ import annotations

import math
import os
import sys
import time
import traceback
from typing import Any

import ray
from ray import cloudpickle

from .protocol import Segment
from ..trainable import CPUS_ENV, GPUS_ENV, ModelNotPicklable, make_runner

__all__ = ["TrialWorker"]


#: Training calls (run, bind, reset, load) run one at a time, in the order sent; the
#: "control" group (take, drop, partial, model) runs beside them, so a
#: paused trial can be saved, or a hung one read, while another trains.
CONCURRENCY_GROUPS = {"control": 4}


class TrialWorker:
    """The actor class (wrapped with ``ray.remote`` by ``RayBackend``).

    A worker outlives an experiment: ``bind`` gives it the next experiment's
    trainable, ``reset`` lets go of every trial, so a driver that runs several
    experiments on one Ray (``halving compare``) starts its workers once.
    """

    def __init__(self) -> None:
        self.trainable: Any = None
        self.metric = ""
        self.index = -1
        self.runners: dict[int, Any] = {}
        self.offloaded: dict[int, tuple[dict, Any]] = {}  # paused trials moved off the device: (config, state)
        # The GPUs Ray gave this worker for its lifetime (it set CUDA_VISIBLE_DEVICES to them).
        self.gpus = [str(g) for g in ray.get_runtime_context().get_accelerator_ids().get("GPU", [])]
        os.environ[GPUS_ENV] = ",".join(self.gpus)

    def bind(self, trainable: Any, metric: str, index: int) -> str:
        """Take the experiment's trainable; returns the id of the node this worker runs on."""
        self.reset()
        self.trainable = trainable
        self.metric = metric
        self.index = index
        return ray.get_runtime_context().get_node_id()

    def reset(self) -> None:
        for trial in [*self.runners, *self.offloaded]:
            self.drop(trial)
        self.trainable = None

    def _nonfinite(self, metrics: dict) -> bool:
        """A NaN or infinite metric ends the trial at that report: the engine stops it anyway."""
        value = metrics.get(self.metric)
        try:
            return not math.isfinite(float(value))
        except (TypeError, ValueError):
            return False  # missing or not a number: reported as such by the segment

    def run(self, trial: int, config: dict | None, start: int, until: int, cpus: int, restored: Any = None,
            drops: list[int] = ()) -> Segment:
        """Train ``trial`` from ``start`` up to ``until``; first let go of the trials in ``drops``.

        ``config`` is None when this worker already holds the trial.
        """
        for t in drops:
            self.drop(t)
        return self._timed(trial, config, start, until, cpus, restored)

    def run_batch(self, jobs: list[tuple], cpus: int, drops: list[int] = ()) -> list[Segment]:
        """Several assignments in one call, each ``(trial, config, start, until, restored)``
        trained as ``run`` would, in order: when epochs take less than a round trip, the driver
        sends them together (one segment comes back for each)."""
        for t in drops:
            self.drop(t)
        return [self._timed(trial, config, start, until, cpus, restored)
                for trial, config, start, until, restored in jobs]

    def _timed(self, trial: int, config: dict | None, start: int, until: int, cpus: int, restored: Any) -> Segment:
        t0 = time.perf_counter()
        seg = self._run(trial, config, start, until, cpus, restored)
        seg.seconds = time.perf_counter() - t0
        return seg

    def _run(self, trial: int, config: dict | None, start: int, until: int, cpus: int, restored: Any) -> Segment:
        os.environ[CPUS_ENV] = str(cpus)  # for a script trial; one trial trains at a time
        runner = self.runners.get(trial)
        if runner is None and trial in self.offloaded:
            config, restored = self.offloaded.pop(trial)  # back from host memory: setup + restore
        try:
            if runner is None and config is None:
                raise RuntimeError(f"trial {trial} is not on worker {self.index} and no config came with it")
            if isinstance(restored, bytes):
                restored = cloudpickle.loads(restored)
            if runner is None:
                runner = make_runner(self.trainable, config, cpus, restored, check_model=_picklable,
                                     stop_if=self._nonfinite)
                runner.gpus = self.gpus
                self.runners[trial] = runner
                if runner.epoch < start:
                    # State lost (worker died, driver restarted): retrain the epochs it had,
                    # silently; their reports are already in the log and are not sent again.
                    lost = runner.advance(start)
                    if lost.error is not None or lost.finished:
                        raise RuntimeError(f"retraining trial {trial} to epoch {start} failed: {lost.error}")
            runner.cpus = cpus
            if runner.epoch != start:
                raise RuntimeError(f"trial {trial} is at epoch {runner.epoch} on worker {self.index}, not {start}")
            out = runner.advance(until)
        except BaseException as exc:  # setup() raised, or restore failed
            self.runners.pop(trial, None)
            return Segment(trial, start, [], [], worker=self.index, error=f"{type(exc).__name__}: {exc}",
                           traceback=traceback.format_exc())
        return self._segment(trial, start, out)

    def _segment(self, trial: int, start: int, out: Any) -> Segment:
        metric = self.metric
        values: list[float] = []
        extra: list[dict] = []
        missing = None
        error, tb = out.error, out.traceback
        for row in out.metrics:
            if metric not in row:
                missing = (f"trial {trial} reported no metric {metric!r} at epoch {start + len(values) + 1}; "
                           f"it reported {sorted(row)}")
                break
            value = row[metric]
            try:
                value = float(value)
            except (TypeError, ValueError):
                error = f"TypeError: metric {metric!r} must be a number, but trial {trial} reported {value!r}"
                break
            values.append(value)
            extra.append({k: _plain(v) for k, v in row.items() if k != metric})
        if missing is not None or error is not None or out.finished:
            self.drop(trial)
        has_extra = any(extra)
        runner = self.runners.get(trial)
        checkpointed = runner is not None and getattr(runner, "checkpoint", True) is not None
        return Segment(trial, start, values, out.times[: len(values)], extra if has_extra else None,
                       worker=self.index, error=error, traceback=tb, finished=out.finished, missing=missing,
                       checkpointed=checkpointed)

    def load(self, trial: int, config: dict, restored: bytes) -> None:
        """Hold a trial restored from a checkpoint without training it (to read its model)."""
        self.runners[trial] = make_runner(self.trainable, config, 1, cloudpickle.loads(restored))

    def offload(self, trial: int) -> dict | None:
        """Move a paused trial's state off this worker's device (see ``halving.trainable``):
        what was done and why, for the log; None when the trial is no longer here."""
        runner = self.runners.get(trial)
        if runner is None:
            return None
        before = _device_bytes()
        try:
            hook = runner.offload()
            if hook is None and runner.can_save():
                state = runner.save()
                self.drop(trial)  # its thread ends (a function) or its object goes: the device memory with it
                self.offloaded[trial] = (runner.config, state)
                hook = "checkpoint=" if "checkpoint" in state else "save()"
        except Exception as exc:  # noqa: BLE001 - a hook that raises leaves the trial as it was
            return {"what": "kept", "why": f"moving it off the device raised {type(exc).__name__}: {exc}",
                    "gpus": self.gpus}
        if hook is None:
            how = ("report checkpoint=... (a function trainable)" if not hasattr(runner, "obj")
                   else "define offload()/reload() or save()/restore()")
            return {"what": "kept", "why": f"paused on a GPU worker, but it cannot leave the device: {how}",
                    "gpus": self.gpus}
        _empty_device_cache()
        info = {"what": "offload", "why": "paused on a GPU worker past paused_on_device", "hook": hook,
                "gpus": self.gpus}
        if before is not None:
            info["device_bytes_freed"] = before - (_device_bytes() or 0)
        return info

    @ray.method(concurrency_group="control")
    def partial(self, trial: int) -> Segment | None:
        """The reports of a trial stuck in its grant, before its worker is ended."""
        runner = self.runners.get(trial)
        if runner is None:
            return None
        start, out = runner.partial()
        out.finished = False
        return self._segment(trial, start, out)

    @ray.method(concurrency_group="control")
    def drop(self, trial: int) -> None:
        self.offloaded.pop(trial, None)
        runner = self.runners.pop(trial, None)
        if runner is not None:
            runner.close()

    def take(self, trial: int) -> bytes:
        """Save the trial's state and let go of it (one call: a threaded actor does not order calls).

        The state travels as pickled bytes: objects Ray deserialises zero-copy have
        read-only numpy arrays, which a restored estimator could not train on.
        """
        if trial in self.offloaded:
            state = cloudpickle.dumps(self.offloaded[trial][1])
        else:
            state = cloudpickle.dumps(self.runners[trial].save())
        self.drop(trial)
        return state

    @ray.method(concurrency_group="control")
    def model(self, trial: int) -> bytes | None:
        runner = self.runners.get(trial)
        if runner is None and trial in self.offloaded:
            config, state = self.offloaded[trial]
            runner = make_runner(self.trainable, config, 1, state)  # rebuilt from its saved state
        return None if runner is None else cloudpickle.dumps(runner.model)


def _device_bytes() -> int | None:
    """Device memory torch holds on this worker's GPU, when torch is loaded and sees one."""
    torch = sys.modules.get("torch")
    try:
        return int(torch.cuda.memory_allocated()) if torch is not None and torch.cuda.is_available() else None
    except Exception:  # noqa: BLE001 - no usable device: nothing to measure
        return None


def _empty_device_cache() -> None:
    """Give the memory of tensors just dropped back to the device (torch caches it)."""
    torch = sys.modules.get("torch")
    try:
        if torch is not None and torch.cuda.is_available():
            torch.cuda.empty_cache()
    except Exception:  # noqa: BLE001 - no usable device: nothing to free
        pass


def _picklable(model: Any) -> None:
    """A model that cannot be pickled could never be returned as the best model (nor its
    trial moved or spilled): its trial fails at its first report, not at the end of the run."""
    if model is None:
        return
    try:
        cloudpickle.dumps(model)
    except Exception as exc:  # noqa: BLE001 - whatever pickling raises, the message names it
        kind = type(model)
        raise ModelNotPicklable(f"the trial's model of type {kind.__module__}.{kind.__qualname__} cannot be "
                                f"pickled ({type(exc).__name__}: {exc})") from None


def _plain(v: Any) -> Any:
    """Metrics become Arrow columns: keep numbers, strings and bools, stringify the rest."""
    if isinstance(v, (bool, int, float, str)) or v is None:
        return v
    item = getattr(v, "item", None)  # numpy and torch scalars
    if callable(item):
        try:
            return item()
        except (TypeError, ValueError, RuntimeError):
            pass
    return str(v)
