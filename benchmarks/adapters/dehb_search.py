"""The ``dehb`` package's DEHB (differential evolution over Hyperband brackets), through
its ask/tell interface, in this process with one worker.

``ask()`` gives a configuration and a fidelity (epochs, R * eta**-k, rounded); the
configuration trains to it and ``tell()`` gets ``fitness`` (the metric, negated for
"max": DEHB minimises) and ``cost`` (the epochs trained). A configuration asked again
at a higher fidelity (a promotion: same ``config_id``, same values) continues from its
state instead of training again from scratch, the same courtesy halving's and Syne
Tune's promotions get; every epoch trained is counted against the ``EpochBudget``.

Optional: the benchmark skips it when absent (see ``INSTALL``).
"""

from __future__ import annotations

import tempfile
import time
from typing import Any

from ..workloads import Workload
from . import EpochBudget, NotInstalled, Outcome

__all__ = ["INSTALL", "config_space", "run", "version"]

#: dehb's declared requirements pin numpy below 2 and pull dask's cluster: with --no-deps it
#: installs beside this environment's numpy; its imports need only these.
INSTALL = ("pip install --no-deps dehb ConfigSpace loguru dask distributed 'importlib_metadata<8.6' zipp locket "
           "partd toolz tblib tornado zict psutil more_itertools")


def version() -> str:
    try:
        import ConfigSpace  # noqa: F401
        import dehb
    except ImportError as exc:
        raise NotInstalled(f"not installed ({exc}): {INSTALL}") from None
    from importlib.metadata import version as dist_version

    return getattr(dehb, "__version__", None) or dist_version("dehb")


def config_space(spec: dict, seed: int) -> Any:
    """Our space as a ConfigSpace: floats as ``UniformFloatHyperparameter(log=...)``,
    ``randint(low, high)`` as ``UniformIntegerHyperparameter(low, high - 1)``, ``choice`` as
    ``CategoricalHyperparameter``; constants are added back to each configuration."""
    import ConfigSpace as CS

    from halving.space import Categorical, Float, Integer, Space, Uniform

    cs = CS.ConfigurationSpace(seed=seed)
    for name, d in Space.from_spec(spec).dimensions.items():
        if isinstance(d, Float) and isinstance(d.prior, Uniform) and d.q is None:
            cs.add(CS.UniformFloatHyperparameter(name, d.prior.low, d.prior.high, log=d.prior.log))
        elif isinstance(d, Integer):
            cs.add(CS.UniformIntegerHyperparameter(name, d.low, d.high - 1))
        elif isinstance(d, Categorical):
            # ConfigSpace keeps the choices as strings where they mix types: index them instead
            cs.add(CS.CategoricalHyperparameter(name, [str(i) for i in range(len(d.values))]))
        else:
            raise ValueError(f"parameter {name!r}: {d!r} has no ConfigSpace hyperparameter in this benchmark")
    return cs


def _plain_config(spec: dict, configuration: Any) -> dict[str, Any]:
    """A ConfigSpace configuration back in our values: plain floats and ints, the chosen value."""
    from halving.space import Categorical, Integer, Space

    sp = Space.from_spec(spec)
    out = dict(sp.constants)
    for name, d in sp.dimensions.items():
        v = configuration[name]
        out[name] = d.values[int(v)] if isinstance(d, Categorical) else int(v) if isinstance(d, Integer) else float(v)
    return out


def run(w: Workload, *, budget: int, max_epochs: int, eta: int, seed: int) -> Outcome:
    """``DEHB(min_fidelity=1, max_fidelity=max_epochs, eta=eta, n_workers=1, seed=seed)`` until
    ``budget`` epochs are trained; BLAS and torch at one thread."""
    version()
    from dehb import DEHB

    from . import one_thread

    R, spent = max_epochs, EpochBudget(budget)
    finals: list[tuple[int, dict]] = []
    curve: list[tuple[int, float]] = []
    sign = 1.0 if w.mode == "max" else -1.0
    # config_id -> (config, state, epochs trained, metrics at the last of them)
    states: dict[int, tuple[dict, Any, int, dict | None]] = {}
    asked = 0
    with one_thread(w, True), tempfile.TemporaryDirectory(prefix="bench-dehb-") as out:
        t0 = time.perf_counter()
        opt = DEHB(cs=config_space(w.space, seed), min_fidelity=1, max_fidelity=R, eta=eta, n_workers=1, seed=seed,
                   output_path=out, log_level="ERROR", save_freq="end")
        while not spent.spent:
            job = opt.ask()
            asked += 1
            config = _plain_config(w.space, job["config"])
            fidelity = max(1, min(R, round(job["fidelity"])))
            kept = states.get(int(job["config_id"]))
            if kept is not None and kept[0] == config and kept[2] <= fidelity:
                _, state, done, m = kept  # a promotion: continue where it stopped
            else:
                state, done, m = w.start(config), 0, None
            cost = 0
            while done < fidelity and spent.take():
                done += 1
                m, cost = w.epoch(state, done), cost + 1
            states[int(job["config_id"])] = (config, state, done, m)
            if done < fidelity:
                break  # the budget ended inside this job: it is not told
            if done == R:
                finals.append((int(job["config_id"]), m))
                curve.append((spent.used, sign * max(sign * f[1][w.metric] for f in finals)))
            opt.tell(job, {"fitness": -sign * m[w.metric], "cost": float(cost)})
        wall = time.perf_counter() - t0
    return Outcome("dehb", "DEHB", wall, spent.used, finals, [], {"trials_started": len(states), "curve": curve,
                                                                  "jobs": asked})
