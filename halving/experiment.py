"""The one definition of an experiment: every setting in one frozen, validated value.

``tune()``, the CLI's ``run``/``compare``/``resume``, ``show``, ``replay``, ``load`` and
``HalvingSearchCV`` all build or read an ``ExperimentSpec``; nothing restates its fields
one by one. Its dict form (``to_dict``) is the event log's first record and ``spec.json``,
and ``from_dict`` reads it back exactly. Adding a setting is a field here plus its use.

Building a spec starts nothing: the policy is named (``PolicySpec``) and built fresh, and
started by the engine.
"""

from __future__ import annotations

import dataclasses
import importlib
import inspect
import json
import math
import numbers
import warnings
from dataclasses import dataclass, field
from typing import Any, Mapping, Sequence

import policies as P

from . import checks, samplers as S
from .backends.protocol import Request
from .errors import SpecError, SpecTypeError
from .eventlog import json_text
from .space import Space, load_space

__all__ = ["ExperimentSpec", "PolicySpec", "SamplerSpec", "MAX_GRID"]

# A grid larger than this is refused: every trial is a row of the log and a policy entry.
MAX_GRID = 10**8


class _Pinned:
    """What PolicySpec and SamplerSpec share: the values of the parameters not given.

    A log records them beside the given ones (``policy_defaults``, ``sampler_defaults``),
    and a spec read back from it builds with them (``defaults``), so a run resumed by a
    version whose defaults changed still decides and proposes as it did. ``params`` alone
    say which experiment it is; ``defaults`` only say how it was built, and are not part
    of a spec's equality. Pinned are the constructor's named parameters that ``params()``
    reports, with values that come back unchanged from JSON (a tuple, a function or an
    array default is left to the code)."""

    name: str
    params: Mapping[str, Any]
    defaults: Mapping[str, Any]

    def _class(self) -> type:
        raise NotImplementedError

    def build(self) -> Any:
        raise NotImplementedError

    def _settable(self) -> set[str]:
        """The constructor's named parameters that a spec may set."""
        init = inspect.signature(self._class().__init__).parameters
        return {n for n, p in init.items() if p.kind not in _VARIADIC} - {"self", *P.NOT_BY_NAME}

    def _arguments(self) -> dict:
        # A pinned parameter this version no longer takes cannot be honoured: if that changes a
        # decision or a proposal, the resume's replay says which and why.
        settable = self._settable()
        return {**{k: v for k, v in self.defaults.items() if k in settable}, **self.params}

    def resolved_defaults(self) -> dict:
        """The values ``build()`` takes for the parameters not given (pinned or the code's)."""
        settable = self._settable()
        out = {}
        for k, v in self.build().params().items():
            if k in settable and k not in self.params:
                try:
                    plain = _plain(v)
                except (TypeError, ValueError):
                    continue
                if plain == v and type(plain) is type(v):
                    out[k] = plain
        return out

    def pinned(self, defaults: Mapping[str, Any] | None) -> Any:
        """This spec, built with ``defaults`` (a log's) for the parameters it does not give."""
        return dataclasses.replace(self, defaults=dict(defaults or {}))

    def _refused(self, what: str, exc: Exception) -> str:
        pins = {k: v for k, v in self.defaults.items() if k not in self.params}
        return f"{what} {self.name!r} with {dict(self.params)}{f' (and, as logged, {pins})' if pins else ''}: {exc}"


_VARIADIC = (inspect.Parameter.VAR_POSITIONAL, inspect.Parameter.VAR_KEYWORD)


@dataclass(frozen=True)
class PolicySpec(_Pinned):
    """A policy as data: a registered name (``"asha"``) or the import path of a
    ``policies.Policy`` subclass (``"mypkg.mod:MyPolicy"``), plus its constructor
    parameters. ``build()`` makes a fresh, unstarted policy from it."""

    name: str
    params: Mapping[str, Any] = field(default_factory=dict)
    defaults: Mapping[str, Any] = field(default_factory=dict, compare=False)

    @classmethod
    def of(cls, policy: str | P.Policy, params: Mapping[str, Any] | None = None, *, seed: int = 0) -> PolicySpec:
        """From a name with parameters, or from a policy object (its class and ``params()``)."""
        params = dict(params or {})
        if isinstance(policy, P.Policy):
            if params:
                raise SpecTypeError(f"policy parameters {sorted(params)} were given with a policy object "
                                f"{policy!r}; pass them to its constructor")
            return cls(_class_path(policy), policy.params())
        if not isinstance(policy, str) or not policy:
            raise SpecTypeError(f"policy must be a name or a policies.Policy, but got policy={policy!r}")
        if ":" not in policy:
            if policy not in P.POLICIES:
                raise SpecError(f"unknown policy {policy!r}; choose one of {', '.join(P.POLICIES)}")
            unknown = sorted(set(params) - set(P.parameters(policy)))
            if unknown:
                raise SpecTypeError(f"policy {policy!r} takes no parameter {unknown[0]!r}; it takes "
                                f"{sorted(P.parameters(policy)) or 'nothing'}")
        if "seed" in cls(policy)._settable() and "seed" not in params:
            params["seed"] = seed  # a policy that draws takes the experiment's seed
        spec = cls(policy, params)
        spec.build()  # bad parameters are refused here, before anything runs
        return spec

    def build(self) -> P.Policy:
        """A fresh policy (not started: the engine starts it)."""
        try:
            if ":" not in self.name:
                return P.make(self.name, **self._arguments())
            return _import_policy(self.name)(**self._arguments())
        except TypeError as exc:
            raise SpecTypeError(self._refused("policy", exc)) from None
        except ValueError as exc:
            raise SpecError(self._refused("policy", exc)) from None

    def _class(self) -> type:
        if ":" not in self.name:
            if self.name not in P.POLICIES:
                raise SpecError(f"unknown policy {self.name!r}; choose one of {', '.join(P.POLICIES)}")
            return P.POLICIES[self.name]
        return _import_policy(self.name)

    @property
    def label(self) -> str:
        """A short name for run dirs and titles."""
        return self.name.rsplit(":", 1)[-1].rsplit(".", 1)[-1]


def _class_path(policy: P.Policy) -> str:
    cls = type(policy)
    if P.POLICIES.get(getattr(policy, "name", None)) is cls:
        return policy.name
    return f"{cls.__module__}:{cls.__qualname__}"


def _import_policy(path: str) -> type[P.Policy]:
    return _import_class(path, P.Policy, "policy", "policies.Policy")


def _import_class(path: str, base: type, what: str, base_name: str) -> type:
    module_name, _, qualname = path.partition(":")
    if "<locals>" in qualname:
        raise SpecError(f"{what} class {path} is defined inside a function; define it at module level "
                        "so that resume, show, replay and load can import it")
    try:
        obj: Any = importlib.import_module(module_name)
        for part in qualname.split("."):
            obj = getattr(obj, part)
    except (ImportError, AttributeError) as exc:
        raise SpecError(f"cannot import {what} class {path}: {exc}; it must be importable where the run "
                        "is read back") from None
    if not (isinstance(obj, type) and issubclass(obj, base)):
        raise SpecError(f"{path} is not a {base_name} subclass")
    return obj


@dataclass(frozen=True)
class SamplerSpec(_Pinned):
    """A sampler as data: a registered name (``"tpe"``) or the import path of a
    ``halving.samplers.Sampler`` subclass (``"mypkg.mod:MySampler"``), plus its constructor
    parameters. ``build()`` makes a fresh, unstarted sampler from it."""

    name: str
    params: Mapping[str, Any] = field(default_factory=dict)
    defaults: Mapping[str, Any] = field(default_factory=dict, compare=False)

    @classmethod
    def of(cls, sampler: str | S.Sampler | SamplerSpec, params: Mapping[str, Any] | None = None) -> SamplerSpec:
        """From a name with parameters, or from a sampler object (its class and ``params()``)."""
        if isinstance(sampler, SamplerSpec):
            return sampler
        params = dict(params or {})
        if isinstance(sampler, S.Sampler):
            if params:
                raise SpecTypeError(f"sampler parameters {sorted(params)} were given with a sampler object "
                                    f"{sampler!r}; pass them to its constructor")
            cls_ = type(sampler)
            name = sampler.name if S.SAMPLERS.get(sampler.name) is cls_ else f"{cls_.__module__}:{cls_.__qualname__}"
            spec = cls(name, _plain(sampler.params()))
        elif isinstance(sampler, str) and sampler:
            if ":" not in sampler and sampler not in S.SAMPLERS:
                raise SpecError(f"unknown sampler {sampler!r}; choose one of {', '.join(S.SAMPLERS)}, or give a "
                                "halving.samplers.Sampler object or 'module:Class'")
            spec = cls(sampler, params)
        else:
            raise SpecTypeError(f"sampler must be a name ({', '.join(S.SAMPLERS)}), 'module:Class' or a "
                                f"halving.samplers.Sampler, but got sampler={sampler!r}")
        spec.build()  # bad parameters are refused here, before anything runs
        return spec

    def _class(self) -> type:
        if self.name == "rows":  # a curve table's (space=None): chosen by the experiment, never by name
            return S.RowSampler
        if ":" not in self.name:
            if self.name not in S.SAMPLERS:
                raise SpecError(f"unknown sampler {self.name!r}; choose one of {', '.join(S.SAMPLERS)}")
            return S.SAMPLERS[self.name]
        return _import_class(self.name, S.Sampler, "sampler", "halving.samplers.Sampler")

    @property
    def observes(self) -> bool:
        """Does the sampler learn from reports (and so wants each as soon as it comes)?"""
        return bool(self.build().observes)

    def build(self) -> S.Sampler:
        """A fresh sampler (not started: the engine starts it)."""
        try:
            return self._class()(**self._arguments())
        except TypeError as exc:
            raise SpecTypeError(self._refused("sampler", exc)) from None
        except ValueError as exc:
            raise SpecError(self._refused("sampler", exc)) from None


@dataclass(frozen=True, eq=False)
class ExperimentSpec:
    """Every setting of one experiment. Defaults live here and nowhere else.

    ``space=None`` means rows of a curve table (``halving.simulate``): trial i's
    config is ``{"row": i}``, and ``trials`` is the number of rows.
    """

    metric: str
    mode: str
    max_epochs: int
    space: Space | None = None
    policy: PolicySpec = PolicySpec("asha")
    # None: the default, resolved at construction: "grid" with trials=None, else "random".
    sampler: SamplerSpec | None = None
    trials: int | None = None
    budget: int | None = None
    workers: int | None = None
    timeout: float | None = None
    seed: int = 0
    max_failures: int = 0
    trial_timeout: float | None = None
    paused_in_memory: int = 64
    # Resources per trial: a number, or one per rung (a trial on rung k gets entry min(k, len-1)).
    cpus: float | tuple[float, ...] | None = None  # None: one CPU, or a share when workers exceed CPUs
    gpus: float | tuple[float, ...] = 0
    resources: Mapping[str, float | tuple[float, ...]] = field(default_factory=dict)  # custom Ray resources
    paused_on_device: int = 0  # paused trials a GPU worker keeps on its device; the rest are offloaded
    cpus_per_rung: tuple[int, ...] | None = None  # deprecated alias of cpus (a list): always None once built
    lookahead: int = 1
    target: str | None = None

    # Fields that make an experiment a different one; the others may change on resume.
    IDENTITY = ("space", "metric", "mode", "policy", "policy_params", "sampler", "sampler_params", "max_epochs",
                "n_trials", "budget", "seed")

    def __post_init__(self) -> None:
        if not isinstance(self.metric, str) or not self.metric:
            raise SpecError(f"metric must be a non-empty string, but got metric={self.metric!r}")
        if self.mode is None:
            raise SpecError(f"mode is required: mode='max' if a larger {self.metric} is better, mode='min' if a "
                            "smaller one is")
        if self.mode not in ("max", "min"):
            raise SpecError(f"mode must be 'max' or 'min', but got mode={self.mode!r}")
        if not isinstance(self.policy, PolicySpec):
            raise SpecError(f"policy must be a PolicySpec, but got policy={self.policy!r}")
        try:
            for name in ("max_epochs", "trials", "budget", "workers"):
                checks.count(name, getattr(self, name), allow_none=name != "max_epochs")
            checks.count("seed", self.seed, low=0)
            checks.count("max_failures", self.max_failures, low=0)
            checks.count("paused_in_memory", self.paused_in_memory, low=0)
            checks.count("lookahead", self.lookahead, low=0)
            checks.count("paused_on_device", self.paused_on_device, low=0)
            checks.seconds("timeout", self.timeout)
            checks.seconds("trial_timeout", self.trial_timeout)
        except ValueError as exc:
            raise SpecError(str(exc)) from None
        self._resources_checked()
        if self.space is not None and not isinstance(self.space, Space):
            object.__setattr__(self, "space", _space(self.space))
        if self.space is None and self.trials is None:
            raise SpecError("a curve table experiment (space=None) needs trials=N rows")
        self.n_trials  # a grid's size is checked now, not when the first trial starts
        if self.sampler is None:
            default = "rows" if self.space is None else "grid" if self.trials is None else "random"
            object.__setattr__(self, "sampler", SamplerSpec(default))
        elif not isinstance(self.sampler, SamplerSpec):
            object.__setattr__(self, "sampler", SamplerSpec.of(self.sampler))
        # A sampler that refuses this space or trial count stops us here; kept for config_of.
        object.__setattr__(self, "_sampler", self.started_sampler())

    # ------------------------------------------------------------ derived
    @property
    def n_trials(self) -> int:
        if self.trials is not None:
            return self.trials
        try:
            size = self.space.grid_size()
        except ValueError as exc:
            raise SpecError(f"trials=None enumerates a grid, but {exc}; pass trials=N to sample") from None
        if size > MAX_GRID:
            raise SpecError(f"trials=None enumerates the grid, but it has {size:.3g} points (more than "
                            f"{MAX_GRID:.0e}); pass trials=N to sample from it")
        return size

    def config_of(self, trial: int) -> dict:
        """Trial ``trial``'s configuration under a sampler that learns nothing (random, grid,
        a curve table's rows): the same for the same seed, in any process. A model-based
        sampler's configs depend on the reports: they are in the run's log."""
        sampler = self.__dict__["_sampler"]
        if sampler.observes:
            raise SpecError(f"trial {trial}'s config under the {self.sampler.name!r} sampler depends on the "
                            "trials' reports: read it from the run (result.configs)")
        return sampler.propose(trial, ()).config

    def started_sampler(self, levels: Sequence[int] = ()) -> S.Sampler:
        """A fresh sampler started for this experiment (``levels``: the policy's rung epochs);
        one that refuses the experiment (a grid of continuous dimensions, say) is a ``SpecError``."""
        sampler = self.sampler.build()
        try:
            sampler.start(self.space, seed=self.seed, mode=self.mode, n_trials=self.n_trials, levels=levels)
        except TypeError as exc:
            raise SpecTypeError(f"sampler {self.sampler.name!r}: {exc}") from None
        except ValueError as exc:
            raise SpecError(f"sampler {self.sampler.name!r}: {exc}") from None
        return sampler

    def _resources_checked(self) -> None:
        """Resource fields in their one form: numbers or tuples, custom names sorted."""
        if self.cpus_per_rung is not None:
            warnings.warn("cpus_per_rung is deprecated; pass cpus=[...] (a number or one per rung)",
                          DeprecationWarning, stacklevel=4)
            ladder = _check_ladder(self.cpus_per_rung)
            if self.cpus is not None and _amounts("cpus", self.cpus) != ladder:
                raise SpecError(f"cpus_per_rung={list(ladder)} and cpus={self.cpus!r} were both given; "
                                "cpus_per_rung is the old name of cpus: give cpus alone")
            object.__setattr__(self, "cpus", ladder if len(ladder) > 1 else ladder[0])
            object.__setattr__(self, "cpus_per_rung", None)
        if self.cpus is not None:
            object.__setattr__(self, "cpus", _amount_form("cpus", self.cpus))
        object.__setattr__(self, "gpus", _amount_form("gpus", self.gpus))
        if not isinstance(self.resources, Mapping):
            raise SpecTypeError(f"resources must be a dict of Ray resource names to amounts, such as "
                                f"{{'accelerator_x': 1}}, but got resources={self.resources!r}")
        custom = {}
        for name in sorted(self.resources):
            if not isinstance(name, str) or not name or name in ("CPU", "GPU", "memory", "object_store_memory"):
                raise SpecError(f"resources: {name!r} is not a custom Ray resource name (CPUs and GPUs are "
                                "cpus= and gpus=)")
            custom[name] = _amount_form(f"resources[{name!r}]", self.resources[name])
        object.__setattr__(self, "resources", custom)

    def requests(self, rungs: int) -> list[Request]:
        """What a trial asks for on each of ``rungs`` rungs (a list's last entry holds for the
        rungs past it); a list longer than ``rungs`` is refused."""
        fields = {"cpus": self.cpus, "gpus": self.gpus, **{f"resources[{k!r}]": v for k, v in self.resources.items()}}
        for name, value in fields.items():
            if isinstance(value, tuple) and len(value) > max(1, rungs):
                raise SpecError(f"{name}={list(value)} has {len(value)} entries, one per rung, but policy "
                                f"{self.policy.name!r} has {max(1, rungs)} rung{'s' * (max(1, rungs) > 1)} here "
                                f"(max_epochs={self.max_epochs}); give at most {max(1, rungs)}")

        def at(value: Any, k: int) -> Any:
            return value[min(k, len(value) - 1)] if isinstance(value, tuple) else value

        return [Request(cpus=None if self.cpus is None else float(at(self.cpus, k)), gpus=float(at(self.gpus, k)),
                        custom=tuple((n, float(at(v, k))) for n, v in self.resources.items() if at(v, k) > 0))
                for k in range(max(1, rungs))]

    def started_policy(self) -> P.Policy:
        """A fresh policy started for this experiment; a policy that refuses the
        experiment (``min_epochs`` past ``max_epochs``, say) is a ``SpecError`` here."""
        policy = self.policy.build()
        try:
            policy.start(n_trials=self.n_trials, max_epochs=self.max_epochs, mode=self.mode)
        except TypeError as exc:
            raise SpecTypeError(str(exc)) from None
        except ValueError as exc:
            raise SpecError(str(exc)) from None
        self.requests(len(getattr(policy, "levels", None) or ()))  # a per-rung list longer than its rungs
        return policy

    def replace(self, **changes: Any) -> ExperimentSpec:
        return dataclasses.replace(self, **changes)

    # ------------------------------------------------------------ dict form
    def to_dict(self) -> dict:
        """The log's first record and ``spec.json`` (flat, JSON-ready)."""
        out: dict[str, Any] = {}
        for f in dataclasses.fields(self):
            value = getattr(self, f.name)
            if f.name == "space":
                value = None if value is None else value.to_spec()
            elif f.name == "policy":
                out["policy"], out["policy_params"] = value.name, _plain(dict(value.params))
                out["policy_defaults"] = value.resolved_defaults()
                continue
            elif f.name == "sampler":
                out["sampler"], out["sampler_params"] = value.name, _plain(dict(value.params))
                out["sampler_defaults"] = value.resolved_defaults()
                continue
            elif f.name == "cpus_per_rung":
                continue  # an alias, mapped to cpus when the spec was built
            elif isinstance(value, tuple):
                value = list(value)
            elif f.name == "resources":
                value = {k: list(v) if isinstance(v, tuple) else v for k, v in value.items()}
            out[f.name] = value
        out["n_trials"] = self.n_trials
        return out

    @classmethod
    def from_dict(cls, data: Mapping[str, Any], **changes: Any) -> ExperimentSpec:
        """The spec a log or ``spec.json`` holds; absent fields take their defaults."""
        if not isinstance(data, Mapping) or "policy" not in data:
            raise SpecError(f"not an experiment spec: {str(data)[:200]}")
        names = {f.name for f in dataclasses.fields(cls)} - {"policy", "sampler"}
        args = {k: v for k, v in data.items() if k in names and v is not None}
        args["trials"] = data.get("trials")  # None is meaningful: the whole grid
        ladder = args.pop("cpus_per_rung", None)  # a log written before cpus= existed
        if ladder is not None and "cpus" not in args:
            args["cpus"] = ladder[0] if len(ladder) == 1 else ladder
        if args.get("space") is not None:
            args["space"] = Space.from_spec(args["space"])
        # A log written before defaults were logged has none: today's are used (a resume warns
        # if the sampler then proposes otherwise than the log holds).
        args["policy"] = PolicySpec(data["policy"], dict(data.get("policy_params") or {}),
                                    dict(data.get("policy_defaults") or {}))
        if data.get("sampler"):  # a log written before samplers existed has none: the default
            args["sampler"] = SamplerSpec(data["sampler"], dict(data.get("sampler_params") or {}),
                                          dict(data.get("sampler_defaults") or {}))
        args.update(changes)
        return cls(**args)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, ExperimentSpec) and _plain(self.to_dict()) == _plain(other.to_dict())

    __hash__ = None  # type: ignore[assignment]

    def continuing(self, logged: ExperimentSpec) -> ExperimentSpec:
        """This spec, to continue ``logged`` (checked the same by ``check_same``): built with
        the defaults the log pinned, not this version's."""
        return self.replace(policy=self.policy.pinned(logged.policy.defaults),
                            sampler=self.sampler.pinned(logged.sampler.defaults))

    def check_same(self, logged: Mapping[str, Any], where: Any) -> None:
        """Refuse to continue a log of another experiment."""
        mine = self.to_dict()
        for key in self.IDENTITY:
            a, b = _plain(mine.get(key)), _plain(logged.get(key))
            if a != b:
                raise SpecError(f"{where} holds another experiment: its {key} is {b!r}, but this one has {a!r}")


def _space(obj: Any) -> Space:
    try:
        return load_space(obj)
    except TypeError as exc:
        raise SpecTypeError(str(exc)) from None
    except ValueError as exc:
        raise SpecError(str(exc)) from None


def _check_ladder(ladder: Sequence[int] | None) -> tuple[int, ...] | None:
    if ladder is None:
        return None
    steps = tuple(ladder) if isinstance(ladder, (list, tuple)) else ()
    if not steps or any(isinstance(c, bool) or not isinstance(c, int) or c < 1 for c in steps):
        raise SpecError(f"cpus_per_rung must be a list of positive ints such as [1, 2, 4], but got {ladder!r}")
    return steps


def _amount_form(name: str, value: Any) -> float | tuple[float, ...]:
    """A resource amount as a number, or a per-rung list of them as a tuple."""
    amounts = _amounts(name, value)
    return amounts if isinstance(value, (list, tuple)) else amounts[0]


def _amounts(name: str, value: Any) -> tuple[float, ...]:
    """Each amount checked: a finite number >= 0, and a whole number above 1 (Ray shares
    only fractions of one unit)."""
    if isinstance(value, (list, tuple)):
        if not value:
            raise SpecError(f"{name} must be a number or a non-empty per-rung list, but got {name}={value!r}")
        items = tuple(value)
    else:
        items = (value,)
    out = []
    for v in items:
        if isinstance(v, bool) or not isinstance(v, numbers.Real):
            raise SpecTypeError(f"{name} must be a number or a list of numbers, one per rung, but got {name}={value!r}")
        if not math.isfinite(v) or v < 0:
            raise SpecError(f"{name} must be a finite amount >= 0, but got {name}={value!r}")
        if v > 1 and v != int(v):
            raise SpecError(f"{name}: an amount above 1 must be whole (Ray shares fractions of one unit only), "
                            f"but got {v!r} in {name}={value!r}")
        out.append(int(v) if v == int(v) else float(v))
    return tuple(out)


def _plain(value: Any) -> Any:
    """JSON's view of a value: what a log holds, and what compares equal after a round trip."""
    return json.loads(json_text(value))
