"""Placeholder until the signing work lands: pickles in a run dir with a keyed digest."""

from __future__ import annotations

import hashlib
import hmac
import os
import pickle
import secrets
from pathlib import Path
from typing import Any

from .errors import UserError


class UntrustedFileError(UserError):
    pass


def _key(run_dir: Path, create: bool) -> bytes:
    path = run_dir / ".secret"
    if not path.exists():
        if not create:
            raise UntrustedFileError(f"{run_dir} has no key")
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "wb") as fh:
            fh.write(secrets.token_bytes(32))
    return path.read_bytes()


def save_signed_pickle(path: str | os.PathLike, obj: Any) -> None:
    path = Path(path)
    data = pickle.dumps(obj)
    digest = hmac.new(_key(path.parent, True), data, hashlib.sha256).hexdigest()
    tmp = path.with_suffix(".tmp")
    tmp.write_bytes(data)
    os.replace(tmp, path)
    path.with_name(path.name + ".sig").write_text(digest)


def load_signed_pickle(path: str | os.PathLike) -> Any:
    path = Path(path)
    data = path.read_bytes()
    sig = path.with_name(path.name + ".sig")
    want = hmac.new(_key(path.parent, False), data, hashlib.sha256).hexdigest()
    if not sig.exists() or not hmac.compare_digest(sig.read_text().strip(), want):
        raise UntrustedFileError(f"{path} was not written by this run")
    return pickle.loads(data)
