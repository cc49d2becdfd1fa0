"""One writer per run dir: an exclusive lock that the operating system releases.

``acquire(run_dir)`` takes an exclusive ``flock`` on ``run_dir/.lock`` and writes the
holder's pid and host into it. The lock belongs to the open file, so when the process
exits or is killed (even by SIGKILL) the kernel drops it: a crash never leaves a stale
lock to clean up, whatever the file still says. A second process asking for it gets a
``RunLockedError`` naming the holder. The file is never deleted (deleting a lock file
lets two processes lock two different files of the same name).

The descriptor is not inherited by child processes (Ray's workers and raylet), so only
the process that took the lock holds it. ``flock`` is advisory and local: it stops
another halving, not an arbitrary program; on NFS, Linux maps it to a byte-range lock
that the server must support.
"""

from __future__ import annotations

import datetime
import fcntl
import json
import os
import socket
from pathlib import Path
from types import TracebackType

from .errors import UserError

__all__ = ["LOCK_NAME", "RunLock", "RunLockedError", "acquire"]

LOCK_NAME = ".lock"


class RunLockedError(UserError):
    """Another process holds the run dir's lock (``pid`` and ``host`` name it, when it said)."""

    def __init__(self, run_dir: Path, holder: dict) -> None:
        self.run_dir = run_dir
        self.pid = holder.get("pid")
        self.host = holder.get("host")
        who = (f"process {self.pid} on {self.host}" if self.pid is not None
               else "another process (it has not written its pid yet)")
        since = f" since {holder['since']}" if holder.get("since") else ""
        super().__init__(f"{run_dir} is in use by {who}{since}: only one run or resume may write a run dir; "
                         "wait for it to finish or stop it")


class RunLock:
    """The exclusive lock on one run dir; a context manager. ``release()`` is idempotent."""

    def __init__(self, run_dir: Path, fd: int) -> None:
        self.run_dir = run_dir
        self.path = run_dir / LOCK_NAME
        self._fd: int | None = fd

    @property
    def held(self) -> bool:
        return self._fd is not None

    def release(self) -> None:
        fd, self._fd = self._fd, None
        if fd is None:
            return
        try:
            # Cleared first, so the file never names a process that no longer holds it
            # (after a crash it does, but the lock itself is free then).
            os.ftruncate(fd, 0)
        except OSError:
            pass  # a read-only or full file system: the unlock below still frees the dir
        finally:
            # Unlocked explicitly: a child forked without exec would otherwise keep it.
            fcntl.flock(fd, fcntl.LOCK_UN)
            os.close(fd)

    def __enter__(self) -> RunLock:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.release()

    def __repr__(self) -> str:
        return f"RunLock({str(self.run_dir)!r}, held={self.held})"


def _holder(fd: int) -> dict:
    try:
        text = os.pread(fd, 4096, 0).decode("utf-8", "replace")
        holder = json.loads(text) if text.strip() else {}
    except (OSError, ValueError):
        return {}
    return holder if isinstance(holder, dict) else {}


def acquire(run_dir: str | os.PathLike) -> RunLock:
    """Take the run dir's exclusive lock (creating the dir if needed), or raise ``RunLockedError``
    naming the process that holds it. Never waits."""
    run_dir = Path(run_dir)
    if run_dir.exists() and not run_dir.is_dir():
        raise ValueError(f"run_dir {run_dir} exists and is not a directory")
    run_dir.mkdir(parents=True, exist_ok=True)
    # os.open makes the descriptor non-inheritable (PEP 446): children never share the lock.
    fd = os.open(run_dir / LOCK_NAME, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        holder = _holder(fd)
        os.close(fd)
        raise RunLockedError(run_dir, holder) from None
    except BaseException:
        os.close(fd)
        raise
    me = {"pid": os.getpid(), "host": socket.gethostname(),
          "since": datetime.datetime.now().astimezone().isoformat(timespec="seconds")}
    try:
        os.ftruncate(fd, 0)
        os.pwrite(fd, json.dumps(me).encode() + b"\n", 0)
    except OSError:
        pass  # the lock holds without its label; a second writer is still refused
    return RunLock(run_dir, fd)
