"""The user's side: ``halving.report``, ``halving.cpus``, ``halving.gpus``, and the
runners that drive a trainable one granted stretch of epochs at a time.

Two trainable forms:

* a function ``train(config)`` that loops over epochs and calls
  ``halving.report(**metrics)`` once per epoch. It runs in a thread of its
  own; ``report`` blocks when the granted epochs are used up, so a paused
  trial costs only memory, and resumes exactly where it was when promoted.
* a class with ``setup(config)``, ``train_epoch() -> dict`` and optionally
  ``save()``, ``restore(state)``, ``model()``, and ``offload()``/``reload()``.

On a GPU worker, a paused trial's state leaves the device (so that the trials
training there have it) by the first of: the class's ``offload()`` hook (move
tensors to host memory; ``reload()`` moves them back before it trains again),
its ``save()`` (the object is dropped; ``setup`` and ``restore`` rebuild it on
resumption, so ``save()`` should return host data, e.g. a ``state_dict`` moved
to CPU), or a function's last ``report(checkpoint=...)`` (its thread ends; it
starts again from that checkpoint, read with ``halving.checkpoint()``). A
trial with none of these keeps its device memory while paused, and the log says so.
"""

from __future__ import annotations

import inspect
import json
import os
import threading
import time
import traceback
from typing import Any, Callable

from .errors import UserTypeError
from .scripts import keep_capturing

__all__ = ["report", "cpus", "gpus", "checkpoint", "make_runner", "TrialStopped", "describe_trainable",
           "CPUS_ENV", "GPUS_ENV"]

# Set in a worker's environment for the trial it trains (a script reads them): the CPUs
# granted, and the GPU ids Ray assigned (comma-separated, as in CUDA_VISIBLE_DEVICES).
CPUS_ENV = "HALVING_CPUS"
GPUS_ENV = "HALVING_GPUS"

_local = threading.local()


class ModelNotPicklable(BaseException):
    """A trial's model cannot be pickled, so it could never be returned or moved.

    A BaseException, like ``TrialStopped``: a trainable's ``except Exception`` must not
    swallow it and train on for nothing."""


class TrialStopped(BaseException):
    """Raised inside a function trainable's ``report`` when halving stops the trial.

    It derives from BaseException so that a trainable's ``except Exception``
    does not swallow it.
    """


def report(**metrics: Any) -> None:
    """Report one epoch's metrics. Pass ``model=obj`` to make ``obj`` the trial's model.

    Outside a halving run, prints the metrics on one line and returns, so a
    training script works on its own.
    """
    runner = getattr(_local, "runner", None)
    if runner is None:
        shown = {k: v for k, v in metrics.items() if k != "model"}
        print(json.dumps(shown, default=str), flush=True)
        return
    keep_capturing()
    runner.report(metrics)


def cpus() -> int:
    """CPUs granted to the current trial (set ``n_jobs`` or torch threads from it)."""
    runner = getattr(_local, "runner", None)
    if runner is None:
        return os.cpu_count() or 1
    return runner.cpus


def gpus() -> list[str]:
    """The ids of the GPUs Ray assigned to the current trial's worker (empty: none), as
    ``CUDA_VISIBLE_DEVICES`` lists them; Ray sets that variable for the worker, so
    ``torch.device("cuda")`` is the first of them. A trial asking for a fraction of a GPU
    shares that GPU with others. Outside halving: the ids in ``CUDA_VISIBLE_DEVICES``, if set."""
    runner = getattr(_local, "runner", None)
    if runner is None:
        visible = os.environ.get("CUDA_VISIBLE_DEVICES", "")
        return [g for g in visible.split(",") if g.strip()]
    return list(runner.gpus)


def checkpoint() -> Any:
    """The state the current trial last passed as ``report(checkpoint=...)``, restored
    after its worker was lost; ``None`` on a fresh start."""
    runner = getattr(_local, "runner", None)
    return None if runner is None else runner.restored


def describe_trainable(trainable: Any) -> str:
    if inspect.isclass(trainable):
        missing = [m for m in ("setup", "train_epoch") if not callable(getattr(trainable, m, None))]
        if missing:
            raise UserTypeError(
                f"trainable class {trainable.__name__} must define setup(config) and train_epoch(); missing {missing}"
            )
        return "class"
    if callable(trainable):
        return "function"
    raise UserTypeError(f"trainable must be a function train(config) or a class with setup/train_epoch, but got {trainable!r}")


class _Epochs:
    """What a runner hands back for one grant."""

    __slots__ = ("metrics", "times", "error", "traceback", "finished")

    def __init__(self) -> None:
        self.metrics: list[dict] = []
        self.times: list[float] = []
        self.error: str | None = None
        self.traceback: str | None = None
        self.finished = False


class FunctionRunner:
    """Runs ``train(config)`` in a thread; ``advance(until)`` lets it train up to ``until``."""

    def __init__(self, fn: Callable, config: dict, cpus: int, restored: Any = None) -> None:
        self.check_model: Callable[[Any], None] | None = None  # set by the worker: checked at the first model
        self.stop_if: Callable[[dict], bool] | None = None  # set by the worker: a report that ends the trial
        self.fn = fn
        self.config = config
        self.cpus = cpus
        self.gpus: list[str] = []  # set by the worker
        self.restored = restored
        self.model: Any = None
        self.checkpoint: Any = None
        self.epoch = 0
        self.granted = 0
        self._cond = threading.Condition()
        self._out = _Epochs()
        self._done = False
        self._stop = False
        self._thread: threading.Thread | None = None

    def _main(self) -> None:
        _local.runner = self
        try:
            self.fn(dict(self.config))
        except TrialStopped:
            pass
        except BaseException as exc:  # the trial failed: report it, never kill the worker
            with self._cond:
                self._out.error = f"{type(exc).__name__}: {exc}"
                self._out.traceback = traceback.format_exc()
        finally:
            with self._cond:
                self._done = True
                self._cond.notify_all()

    def report(self, metrics: dict) -> None:
        model = metrics.pop("model", None)
        ckpt = metrics.pop("checkpoint", None)
        with self._cond:
            if self._stop:
                raise TrialStopped()
            if self.epoch >= self.granted:
                raise RuntimeError(f"report() called past the granted epoch {self.granted}")
            if model is not None:
                if self.check_model is not None:
                    self.check_model(model)
                    self.check_model = None
                self.model = model
            if ckpt is not None:
                self.checkpoint = ckpt
            self.epoch += 1
            self._out.metrics.append(metrics)
            self._out.times.append(time.time())
            self._cond.notify_all()
            if self.stop_if is not None and self.stop_if(metrics):
                raise TrialStopped()  # e.g. a NaN: the trial ends at this report, not at its grant's end
            while self.epoch >= self.granted and not self._stop:
                self._cond.wait()
            if self._stop:
                raise TrialStopped()

    def advance(self, until: int) -> _Epochs:
        with self._cond:
            self.granted = until
            self._cond.notify_all()
        if self._thread is None:
            self._thread = threading.Thread(target=self._main, name="halving-trial", daemon=True)
            self._thread.start()
        with self._cond:
            while self.epoch < until and not self._done:
                self._cond.wait()
            out, self._out = self._out, _Epochs()
            out.finished = self._done and out.error is None
        return out

    def close(self) -> None:
        with self._cond:
            self._stop = True
            self._cond.notify_all()

    def partial(self) -> tuple[int, _Epochs]:
        """What the trial reported so far in its current grant (when it hangs): (start, epochs)."""
        with self._cond:
            out, self._out = self._out, _Epochs()
            return self.epoch - len(out.metrics), out

    def can_save(self) -> bool:
        return self.checkpoint is not None

    def offload(self) -> str | None:
        return None  # a function's state leaves a device only through its checkpoint

    def save(self) -> Any:
        if self.checkpoint is None:
            raise NotImplementedError("a function trainable can move workers only if it reports checkpoint=...")
        return {"checkpoint": self.checkpoint, "epoch": self.epoch, "model": self.model}


class ClassRunner:
    """Drives a class trainable: ``setup(config)`` once, ``train_epoch()`` per epoch."""

    def __init__(self, cls: type, config: dict, cpus: int, restored: Any = None) -> None:
        self.check_model: Callable[[Any], None] | None = None  # set by the worker: checked after epoch 1
        self.stop_if: Callable[[dict], bool] | None = None  # set by the worker: a report that ends the trial
        self.cpus = cpus
        self.gpus: list[str] = []  # set by the worker
        self.config = config
        self.epoch = 0
        self.off_device = False  # its offload() hook ran: reload() before it trains again
        self.obj = cls()
        self.restored = None
        self.current = _Epochs()
        _local.runner = self
        try:
            if restored is not None:
                self.epoch = restored["epoch"]
                if hasattr(self.obj, "restore"):
                    self.obj.setup(dict(config))
                    self.obj.restore(restored["state"])
                else:
                    self.obj = restored["state"]
            else:
                self.obj.setup(dict(config))
        finally:
            _local.runner = None

    @property
    def model(self) -> Any:
        fn = getattr(self.obj, "model", None)
        return fn() if callable(fn) else None

    def offload(self) -> str | None:
        """Run the object's ``offload()`` hook, if it has one: which hook ran, or None."""
        fn = getattr(self.obj, "offload", None)
        if not callable(fn):
            return None
        _local.runner = self
        try:
            fn()
        finally:
            _local.runner = None
        self.off_device = True
        return "offload()"

    def advance(self, until: int) -> _Epochs:
        out = self.current = _Epochs()
        _local.runner = self
        try:
            if self.off_device:
                self.off_device = False
                fn = getattr(self.obj, "reload", None)
                if callable(fn):
                    fn()
            while self.epoch < until:
                metrics = self.obj.train_epoch()
                if not isinstance(metrics, dict):
                    raise TypeError(f"train_epoch() must return a dict of metrics, but returned {metrics!r}")
                if self.check_model is not None:
                    self.check_model(self.model)
                    self.check_model = None
                self.epoch += 1
                out.metrics.append(metrics)
                out.times.append(time.time())
                if self.stop_if is not None and self.stop_if(metrics):
                    break
        except BaseException as exc:
            out.error = f"{type(exc).__name__}: {exc}"
            out.traceback = traceback.format_exc()
        finally:
            _local.runner = None
        return out

    def close(self) -> None:
        pass

    def partial(self) -> tuple[int, _Epochs]:
        out = self.current
        return self.epoch - len(out.metrics), out

    def can_save(self) -> bool:
        """Does ``save()`` give a state apart from the object (so dropping it frees its memory)?"""
        return callable(getattr(self.obj, "save", None))

    def save(self) -> Any:
        fn = getattr(self.obj, "save", None)
        # Without save(), the instance itself is the state (pickled by Ray when it moves).
        return {"epoch": self.epoch, "state": fn() if callable(fn) else self.obj}


def make_runner(trainable: Any, config: dict, cpus: int, restored: Any = None,
                check_model: Callable[[Any], None] | None = None,
                stop_if: Callable[[dict], bool] | None = None) -> FunctionRunner | ClassRunner:
    """A runner of ``trainable``; ``check_model`` vets the trial's model once, at its first report;
    a report for which ``stop_if`` is true is the trial's last."""
    if inspect.isclass(trainable):
        runner: FunctionRunner | ClassRunner = ClassRunner(trainable, config, cpus, restored)
    elif restored is not None:
        runner = FunctionRunner(trainable, config, cpus, restored=restored.get("checkpoint"))
        runner.epoch = runner.granted = restored["epoch"]
        runner.model = restored.get("model")
    else:
        runner = FunctionRunner(trainable, config, cpus)
    runner.check_model = check_model
    runner.stop_if = stop_if
    return runner
