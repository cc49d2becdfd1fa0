"""Syne Tune's BOHB (ASHA with its KDE searcher), driven in this process.

Syne Tune runs trials through a backend of its own (subprocesses); here its
scheduler is driven directly, one trial at a time, as its ``Tuner`` drives it:
``suggest()`` a configuration, ``on_trial_add``, ``on_trial_result`` after every
epoch (with ``epoch`` as its ``time_attr``) until it answers STOP, then
``on_trial_remove``. Trials train until the ``EpochBudget`` is spent. Its bracket
draw uses NumPy's global generator: it is seeded for the call and restored after.

Optional: the benchmark skips it when absent (see ``INSTALL``).
"""

from __future__ import annotations

import contextlib
import datetime
import logging
import time
from typing import Any, Iterator

import numpy as np

from ..workloads import Workload
from . import EpochBudget, NotInstalled, Outcome

__all__ = ["INSTALL", "config_space", "run", "version"]

#: syne-tune's own requirements would replace this environment's numpy: its modules that BOHB
#: imports need only these, which install beside it without touching numpy, torch or Ray.
INSTALL = "pip install --no-deps syne-tune ConfigSpace statsmodels patsy dill"


def version() -> str:
    try:
        import syne_tune
        from syne_tune.optimizer.baselines import BOHB  # noqa: F401 - its KDE searcher needs statsmodels
    except ImportError as exc:
        raise NotInstalled(f"not installed ({exc}): {INSTALL}") from None
    return syne_tune.__version__


def config_space(spec: dict) -> dict[str, Any]:
    """Our space as Syne Tune's: ``loguniform``/``uniform`` as themselves, ``randint(low, high)``
    as ``randint(low, high - 1)`` (Syne Tune's includes ``upper``), ``choice`` as ``choice``,
    constants as constants."""
    import syne_tune.config_space as st

    from halving.space import Categorical, Float, Integer, Space, Uniform

    sp = Space.from_spec(spec)
    out: dict[str, Any] = dict(sp.constants)
    for name, d in sp.dimensions.items():
        if isinstance(d, Float) and isinstance(d.prior, Uniform) and d.q is None:
            out[name] = (st.loguniform if d.prior.log else st.uniform)(d.prior.low, d.prior.high)
        elif isinstance(d, Integer):
            out[name] = st.randint(d.low, d.high - 1)
        elif isinstance(d, Categorical):
            out[name] = st.choice(list(d.values))
        else:
            raise ValueError(f"parameter {name!r}: {d!r} has no Syne Tune domain in this benchmark")
    return out


@contextlib.contextmanager
def _numpy_global_seed(seed: int) -> Iterator[None]:
    saved = np.random.get_state()
    np.random.seed(seed)
    try:
        yield
    finally:
        np.random.set_state(saved)


def run(w: Workload, *, budget: int, max_epochs: int, eta: int, seed: int) -> Outcome:
    """``BOHB(grace_period=1, reduction_factor=eta, max_t=max_epochs, random_seed=seed)`` until
    ``budget`` epochs are trained; BLAS and torch at one thread."""
    version()
    from syne_tune.backend.trial_status import Trial
    from syne_tune.optimizer.baselines import BOHB
    from syne_tune.optimizer.scheduler import SchedulerDecision

    from . import one_thread

    logging.getLogger("syne_tune").setLevel(logging.ERROR)  # it warns of settings it chose itself
    R, spent = max_epochs, EpochBudget(budget)
    finals: list[tuple[int, dict]] = []
    curve: list[tuple[int, float]] = []
    sign = 1.0 if w.mode == "max" else -1.0
    with one_thread(w, True), _numpy_global_seed(seed):
        t0 = time.perf_counter()
        scheduler = BOHB(config_space(w.space), metric=w.metric, time_attr="epoch", max_t=R,
                         do_minimize=w.mode == "min", random_seed=seed, grace_period=1, reduction_factor=eta)
        trial_id = 0
        while not spent.spent:
            suggestion = scheduler.suggest()
            if suggestion is None:
                break
            trial = Trial(trial_id=trial_id, config=suggestion.config, creation_time=datetime.datetime.now())
            scheduler.on_trial_add(trial)
            state = w.start(dict(suggestion.config))
            for epoch in range(1, R + 1):
                if not spent.take():
                    break
                m = w.epoch(state, epoch)
                if epoch == R:
                    finals.append((trial_id, m))
                    curve.append((spent.used, sign * max(sign * f[1][w.metric] for f in finals)))
                if scheduler.on_trial_result(trial, {**m, "epoch": epoch}) == SchedulerDecision.STOP:
                    break
            scheduler.on_trial_remove(trial)
            trial_id += 1
        wall = time.perf_counter() - t0
    return Outcome("syne_tune", "BOHB", wall, spent.used, finals, [], {"trials_started": trial_id, "curve": curve})
