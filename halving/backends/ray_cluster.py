"""Ray in one place: start or join a cluster, size it, share data and code with the
workers, disconnect. No module of halving outside ``halving/backends/`` imports ray.

``connect(None)`` uses a Ray already initialised in this process as it is, or starts a
local one that listens on the loopback interface only (nothing on this machine's other
interfaces) and shuts it down at the end. ``connect("auto")``, ``connect("host:port")``
or ``connect("ray://host:port")`` joins a running cluster, fails fast with one clear line
when nothing answers there, the cluster refuses this process's token or runs another Ray
version (within ``CONNECT_SECONDS`` whatever else goes wrong), and disconnects at the end,
leaving the cluster running.

``connect(..., keep=True)`` (``tune()`` and ``halving run`` with no address, which may run
again in the same process; the scikit-learn search, whose ``fit`` runs many times in one
process, e.g. under ``cross_val_score``) does not let go of a Ray it starts or joins: later
``connect(..., keep=True)`` calls of the process use it, and it is shut down at interpreter
exit. A local Ray kept so also keeps the workers of finished experiments idle for the next
one (``ray_pool.keep_idle_in_session``). A Ray the user initialised is never shut down here.
"""

from __future__ import annotations

import atexit
import contextlib
import os
import socket
import threading
from dataclasses import dataclass
from typing import Any, Iterator

import ray
from ray import cloudpickle

from ..errors import UserError
from .ray_pool import keep_idle_in_session, session_id

__all__ = ["ClusterError", "Capacity", "SharedRef", "capacity", "connect", "ship_by_value", "CONNECT_SECONDS"]

# How long joining a cluster may take before it is called unreachable.
CONNECT_SECONDS = 30.0
LOOPBACK = "127.0.0.1"
_CLUSTERS_ENV = "RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER"


class ClusterError(UserError):
    """A Ray cluster that cannot be reached or used."""


@dataclass(frozen=True)
class Capacity:
    """What the live nodes of the cluster offer."""

    cpus: float
    max_node_cpus: float
    alive: frozenset[str]  # node ids


def capacity() -> Capacity:
    """CPUs of the nodes Ray reports alive, in all and on the largest node."""
    alive = [n for n in ray.nodes() if n.get("Alive")]
    cpus = [float(n["Resources"].get("CPU", 0.0)) for n in alive]
    return Capacity(cpus=sum(cpus), max_node_cpus=max(cpus, default=0.0),
                    alive=frozenset(n["NodeID"] for n in alive))


# The Ray that connect(keep=True) started or joined: its address and session, or None.
_kept: dict[str, Any] = {"address": None, "session": None, "atexit": False}


@contextlib.contextmanager
def connect(address: str | None, *, keep: bool = False) -> Iterator[Capacity]:
    """Ray for the length of the block, or with ``keep=True`` for the process (see the
    module docstring)."""
    owned = False
    if address is None:
        if not ray.is_initialized():
            start_local()
            owned = True
    elif not (keep and ray.is_initialized() and _is_kept(address)):
        if ray.is_initialized():
            if _kept["session"] is not None and _kept["session"] == session_id():
                raise ClusterError(f"this process already runs the Ray that halving kept for it ("
                                   f"{_kept['address'] or 'local'}); call ray.shutdown() before joining {address}")
            raise ClusterError("Ray is already initialised in this process; pass address=None to use it")
        join(address)
        owned = True
    if owned and keep:
        _keep(address)
        owned = False
    try:
        yield capacity()
    finally:
        if owned:
            ray.shutdown()


def _is_kept(address: str | None) -> bool:
    return _kept["session"] is not None and _kept["address"] == address and _kept["session"] == session_id()


def _keep(address: str | None) -> None:
    _kept.update(address=address, session=session_id())
    if address is None:
        # Idle workers hold their CPUs: only on a Ray of this process's own, never on a shared cluster.
        keep_idle_in_session()
    if not _kept["atexit"]:
        atexit.register(_shutdown_kept)
        _kept["atexit"] = True


def _shutdown_kept() -> None:
    """At interpreter exit: shut down the Ray that ``connect(keep=True)`` started or joined,
    unless the user has since shut it down (and perhaps started another of their own)."""
    if ray.is_initialized() and _is_kept(_kept["address"]):
        ray.shutdown()
    _kept.update(address=None, session=None)


def start_local(**kwargs: Any) -> None:
    """A local Ray on loopback only; ``kwargs`` go to ``ray.init`` (``num_cpus``, ...)."""
    with _loopback_node():
        ray.init(address="local", include_dashboard=False, configure_logging=False,
                 _node_ip_address=LOOPBACK, **kwargs)


@contextlib.contextmanager
def _loopback_node() -> Iterator[None]:
    """While Ray starts, make it take 127.0.0.1 as this node's address.

    ``ray.init`` replaces a loopback ``_node_ip_address`` with this machine's routable
    address (``services.resolve_ip_for_localhost``), unless Ray clusters are disabled, as on
    macOS and Windows (``RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER=0``, read once, when ray is
    imported). Ray's C++ servers listen on every interface unless the node's address is
    loopback, so without this they are reachable from the network. The variable is also set
    for the processes Ray starts meanwhile (they inherit it), and both are put back after.
    """
    from ray._private import ray_constants

    before = ray_constants.ENABLE_RAY_CLUSTER, os.environ.get(_CLUSTERS_ENV)
    ray_constants.ENABLE_RAY_CLUSTER = False
    os.environ[_CLUSTERS_ENV] = "0"
    try:
        yield
    finally:
        ray_constants.ENABLE_RAY_CLUSTER = before[0]
        if before[1] is None:
            os.environ.pop(_CLUSTERS_ENV, None)
        else:
            os.environ[_CLUSTERS_ENV] = before[1]


def join(address: str) -> None:
    """Join a running cluster, or raise ``ClusterError`` within ``CONNECT_SECONDS``."""
    if not isinstance(address, str) or not address.strip():
        raise ClusterError(f"address must be 'auto', 'host:port' or 'ray://host:port', but got address={address!r}")
    _check_listening(address)
    outcome: dict[str, BaseException | None] = {}

    def attempt() -> None:
        try:
            _check_gcs(address)
            ray.init(address=address, include_dashboard=False, configure_logging=False)
            outcome["error"] = None
        except BaseException as exc:  # noqa: BLE001 - reported to the caller's thread below
            outcome["error"] = exc

    # ray.init retries an unreachable or refusing cluster for minutes with no message.
    thread = threading.Thread(target=attempt, name="halving-ray-join", daemon=True)
    thread.start()
    thread.join(CONNECT_SECONDS)
    if thread.is_alive():
        raise ClusterError(f"could not join the Ray cluster at {address} within {CONNECT_SECONDS:.0f} s "
                           "(is it running, and is this Ray's version and token the cluster's?)")
    exc = outcome["error"]
    if isinstance(exc, ClusterError):
        raise exc
    if exc is not None:
        raise ClusterError(f"could not join the Ray cluster at {address}: {_root_cause(exc)}") from None


def _check_gcs(address: str) -> None:
    """Ask the cluster's GCS once for its id and Ray version: ``ray.init`` retries a refused
    token for 20 s and then names neither the token nor the version."""
    if address.startswith("ray://"):
        return  # a Ray Client server is not a GCS: ray.init reports its refusals
    if address == "auto":
        try:  # the cluster this machine belongs to, as ray.init would find it
            address = ray._private.services.canonicalize_bootstrap_address(address)
        except Exception:  # noqa: BLE001 - none found: ray.init says so
            return
        if address is None:
            return
    from ray._common.usage import usage_lib
    from ray._raylet import GcsClient
    from ray.exceptions import AuthenticationError

    try:
        client = GcsClient(address=address)
    except AuthenticationError:
        raise ClusterError(f"the Ray cluster at {address} refused this process's authentication token; "
                           "give it the cluster's token (RAY_AUTH_TOKEN, RAY_AUTH_TOKEN_PATH or "
                           "~/.ray/auth_token)") from None
    theirs = (usage_lib.get_cluster_metadata(client) or {}).get("ray_version")
    if theirs and theirs != ray.__version__:
        raise ClusterError(f"the Ray cluster at {address} runs Ray {theirs} and this process Ray "
                           f"{ray.__version__}; install ray=={theirs} here (or join a cluster of this version)")


def _root_cause(exc: BaseException) -> str:
    """The first line of the innermost cause: ray.init wraps the real one in 'Failed to connect'."""
    while exc.__cause__ is not None or exc.__context__ is not None:
        exc = exc.__cause__ or exc.__context__
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


def _check_listening(address: str) -> None:
    """An explicit host:port with nothing listening is refused at once."""
    if address == "auto":
        return
    hostport = address.removeprefix("ray://")
    host, _, port = hostport.rpartition(":")
    if not host or not port.isdigit():
        raise ClusterError(f"address must be 'auto', 'host:port' or 'ray://host:port', but got address={address!r}")
    try:
        with socket.create_connection((host, int(port)), timeout=5.0):
            pass
    except OSError as exc:
        raise ClusterError(f"nothing answers at {hostport} ({exc.strerror or exc}); start the cluster with "
                           "`ray start --head` there, or check the address") from None


class SharedRef:
    """An object put once into Ray's object store, read by any worker with ``get()``."""

    def __init__(self, obj: Any) -> None:
        self._ref = ray.put(obj)

    def get(self) -> Any:
        return ray.get(self._ref)


def ship_by_value(module: Any) -> None:
    """Send ``module``'s code to workers with the objects that use it (a module loaded
    from a file path, which the workers could not import by name)."""
    cloudpickle.register_pickle_by_value(module)

