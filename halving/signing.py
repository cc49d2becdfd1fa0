"""Files a run wrote, verified before they are trusted: an HMAC-SHA256 per file.

Loading a pickle runs code, so a resume must unpickle only checkpoints (and models) that
its own run wrote. The writer keeps a random secret in the run dir (``.secret``, mode
0600, created only by the writer, never by a reader) and writes, beside each file it
signs, ``NAME.sig`` holding the HMAC of the file's name and bytes under that secret.
``read_signed`` reads the bytes once, checks them, and returns exactly the bytes it
checked; ``load_pickle`` unpickles only those.

What this protects against: a file put into or changed in a run dir by someone who
cannot read its secret (another user with write access to a shared dir, a file copied
in from elsewhere), a file renamed over another (the name is signed too), and a file
half-written when its writer died. What it cannot protect against: a run dir made
whole by someone else carries their secret, and its files verify. Treat a run dir you
did not write like any pickle from a stranger: read it (``show``, ``replay``,
``export`` never unpickle unless asked), do not resume it or load its model.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import pickle
import secrets
import stat
from pathlib import Path
from typing import Any, Callable

from .errors import UserError

__all__ = ["SECRET_NAME", "UntrustedFileError", "run_key", "write_signed", "read_signed", "dump_pickle",
           "load_pickle", "signature_path"]

SECRET_NAME = ".secret"
_SIG_SUFFIX = ".sig"
_SIG_PREFIX = "halving-hmac-sha256-v1 "
_KEY_BYTES = 32


class UntrustedFileError(UserError):
    """A file cannot be shown to come from this run: its signature (or the secret) is missing or wrong."""

    def __init__(self, path: str | os.PathLike, why: str) -> None:
        self.path = Path(path)
        self.why = why
        super().__init__(f"{self.path}: {why}; refusing to load it")


def signature_path(path: str | os.PathLike) -> Path:
    path = Path(path)
    return path.with_name(path.name + _SIG_SUFFIX)


def _check_key_file(path: Path, st: os.stat_result) -> None:
    if not stat.S_ISREG(st.st_mode):
        raise UntrustedFileError(path, "the run's secret is not a regular file")
    if hasattr(os, "geteuid") and st.st_uid != os.geteuid():
        raise UntrustedFileError(path, f"the run's secret belongs to user id {st.st_uid}, not to you")
    if st.st_mode & 0o077:
        raise UntrustedFileError(path, f"the run's secret is readable by others (mode {stat.S_IMODE(st.st_mode):o})")


def _read_key(path: Path) -> bytes:
    fd = os.open(path, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0))
    try:
        _check_key_file(path, os.fstat(fd))
        text = os.read(fd, 4 * _KEY_BYTES).decode("ascii", "replace").strip()
    finally:
        os.close(fd)
    try:
        key = bytes.fromhex(text)
    except ValueError:
        key = b""
    if len(key) != _KEY_BYTES:
        raise UntrustedFileError(path, "this is not a halving run secret")
    return key


def _create_key(path: Path) -> bytes:
    key = secrets.token_bytes(_KEY_BYTES)
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0)
    fd = os.open(path, flags, 0o600)
    try:
        os.write(fd, key.hex().encode("ascii") + b"\n")
        os.fsync(fd)
    finally:
        os.close(fd)
    return key


def run_key(run_dir: str | os.PathLike, *, create: bool = False) -> bytes:
    """The run dir's secret. ``create=True`` (the writer only) makes one if there is none;
    otherwise a missing, foreign or malformed secret raises ``UntrustedFileError``."""
    path = Path(run_dir) / SECRET_NAME
    try:
        return _read_key(path)
    except FileNotFoundError:
        if not create:
            raise UntrustedFileError(path, "the run dir has no secret, so none of its files can be verified") from None
    try:
        return _create_key(path)
    except FileExistsError:  # another writer made it between our two calls
        return _read_key(path)


def _digest(key: bytes, name: str, data: bytes) -> bytes:
    if not isinstance(key, bytes) or len(key) != _KEY_BYTES:
        raise TypeError(f"key must be the {_KEY_BYTES} bytes run_key returns, not {type(key).__name__}")
    mac = hmac.new(key, digestmod=hashlib.sha256)
    mac.update(b"halving-signed-file-v1\0" + name.encode("utf-8") + b"\0")
    mac.update(data)
    return mac.digest()


def _atomic_write(path: Path, data: bytes) -> None:
    """Write through a temporary file and rename, so readers see the old file or the new one."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}.tmp")
    try:
        with open(tmp, "xb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def write_signed(path: str | os.PathLike, data: bytes, key: bytes) -> None:
    """Write ``data`` to ``path`` atomically, then its signature to ``path.sig``. A crash
    between the two leaves a pair that does not verify: refused, never trusted."""
    path = Path(path)
    if not isinstance(data, (bytes, bytearray, memoryview)):
        raise TypeError(f"data must be bytes, not {type(data).__name__}")
    data = bytes(data)
    digest = _digest(key, path.name, data)
    _atomic_write(path, data)
    _atomic_write(signature_path(path), (_SIG_PREFIX + digest.hex() + "\n").encode("ascii"))


def _signed_digest(path: Path) -> bytes:
    sig = signature_path(path)
    try:
        text = sig.read_bytes().decode("ascii", "replace").strip()
    except FileNotFoundError:
        raise UntrustedFileError(path, f"it has no signature ({sig.name}), so this run did not write it") from None
    if not text.startswith(_SIG_PREFIX):
        raise UntrustedFileError(path, f"{sig.name} is not a halving signature")
    try:
        return bytes.fromhex(text[len(_SIG_PREFIX):])
    except ValueError:
        raise UntrustedFileError(path, f"{sig.name} is not a halving signature") from None


def read_signed(path: str | os.PathLike, key: bytes) -> bytes:
    """The bytes of ``path`` if its signature matches them under ``key``; otherwise
    ``UntrustedFileError`` naming the file. The bytes returned are the bytes checked."""
    path = Path(path)
    data = path.read_bytes()
    expected = _digest(key, path.name, data)
    if not hmac.compare_digest(expected, _signed_digest(path)):
        raise UntrustedFileError(path, "its signature does not match: this run did not write it, or it was "
                                       "changed since")
    return data


def dump_pickle(obj: Any, path: str | os.PathLike, key: bytes, *,
                dumps: Callable[[Any], bytes] = pickle.dumps) -> None:
    """Pickle ``obj`` (with ``dumps``, e.g. cloudpickle's) and write it signed."""
    write_signed(path, dumps(obj), key)


def load_pickle(path: str | os.PathLike, key: bytes, *, loads: Callable[[bytes], Any] = pickle.loads) -> Any:
    """Unpickle ``path`` only after its signature is verified (``UntrustedFileError`` if not)."""
    return loads(read_signed(path, key))
