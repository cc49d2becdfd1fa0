"""Run by tests/test_cluster_faults.py in its own process: start Ray through
``start_local`` and print, as JSON, every TCP socket its processes listen on."""

from __future__ import annotations

import ipaddress
import json
import os
import sys

import ray

from halving.backends.ray_cluster import start_local


def _listening_inodes() -> dict[str, str]:
    """Socket inode -> "address:port" of every LISTEN row of /proc/net/tcp and tcp6."""
    out = {}
    for name, width in (("tcp", 8), ("tcp6", 32)):
        with open(f"/proc/net/{name}") as f:
            next(f)
            for row in f:
                cols = row.split()
                if cols[3] != "0A":  # 0A: TCP_LISTEN
                    continue
                addr, port = cols[1].split(":")
                out[cols[9]] = f"{_address(addr, width)}:{int(port, 16)}"
    return out


def _address(hexaddr: str, width: int) -> str:
    """The kernel writes addresses as 32-bit words in host (little-endian) order."""
    words = [hexaddr[i:i + 8] for i in range(0, width, 8)]
    ip = ipaddress.ip_address(b"".join(bytes.fromhex(w)[::-1] for w in words))
    mapped = getattr(ip, "ipv4_mapped", None)  # ::ffff:127.0.0.1 is IPv4 loopback on a dual-stack socket
    return str(mapped or ip)


def _descendants(root: int) -> set[int]:
    """``root`` and every process below it (Ray's daemons are started by the driver)."""
    children: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as f:
                ppid = int(f.read().rsplit(")", 1)[1].split()[1])
        except OSError:
            continue
        children.setdefault(ppid, []).append(int(entry))
    seen, todo = set(), [root]
    while todo:
        pid = todo.pop()
        if pid not in seen:
            seen.add(pid)
            todo.extend(children.get(pid, []))
    return seen


def _name(pid: int) -> str | None:
    """The program a process runs (Ray's workers rename themselves ray::...)."""
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as f:
            argv = f.read().split(b"\0")
    except OSError:
        return None
    name = argv[0].decode(errors="replace").rsplit("/", 1)[-1]
    if name.startswith("python") and len(argv) > 1 and argv[1].endswith(b".py"):
        name += " " + argv[1].decode(errors="replace").rsplit("/", 1)[-1]  # dashboard.py, agent.py, ...
    return name


def _sockets_of(pids: set[int], listening: dict[str, str]) -> list[dict]:
    out = []
    for pid in sorted(pids):
        try:
            fds = os.listdir(f"/proc/{pid}/fd")
        except OSError:
            continue
        cmd = _name(pid)
        for fd in fds:
            try:
                target = os.readlink(f"/proc/{pid}/fd/{fd}")
            except OSError:
                continue
            if target.startswith("socket:[") and target[8:-1] in listening:
                out.append({"pid": pid, "process": cmd, "listen": listening[target[8:-1]]})
    return out


def main() -> None:
    start_local(num_cpus=1, log_to_driver=False)
    try:
        ray.get(ray.remote(lambda: 1).remote())  # a worker process too, with its own servers
        # Processes that Ray starts detached are reparented; the session's procs share its dir.
        pids = _descendants(os.getpid()) | _session_pids()
        print("RESULT " + json.dumps({"sockets": _sockets_of(pids, _listening_inodes()),
                                      "processes": sorted({_name(pid) for pid in pids} - {None})}))
    finally:
        ray.shutdown()


def _session_pids() -> set[int]:
    """Processes whose command line names this Ray session's directory."""
    session = ray._private.worker.global_worker.node.get_session_dir_path()
    out = set()
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/cmdline", "rb") as f:
                    if session.encode() in f.read():
                        out.add(int(entry))
            except OSError:
                pass
    return out


if __name__ == "__main__":
    sys.exit(main())
