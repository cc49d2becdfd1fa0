"""Checkpoints of paused trials on disk: spilled to bound a worker's memory, read back
when the trial is promoted or restarted, and removed once no trial can need them.

Each file is signed with the run dir's key (``halving.signing``): a checkpoint is
unpickled by a worker only after the driver has verified that this run wrote it, so a
file placed in a shared run dir is never executed; it is treated as missing."""

from __future__ import annotations

import os
from pathlib import Path

from ..signing import UntrustedFileError, read_signed, signature_path, write_signed

__all__ = ["CheckpointStore"]


class CheckpointStore:
    """``trial-N.pkl`` files in one folder (the run dir's ``checkpoints/``), signed with
    ``key``; ``folder=None``: no folder, so nothing can be spilled."""

    def __init__(self, folder: str | os.PathLike | None, key: bytes | None = None) -> None:
        self.folder = Path(folder) if folder is not None else None
        self.key = key
        self.spilled = 0
        self.refused: list[str] = []  # checkpoints found that this run did not write

    @property
    def enabled(self) -> bool:
        return self.folder is not None and self.key is not None

    def path(self, trial: int) -> Path:
        if self.folder is None:
            raise RuntimeError("spilling needs a checkpoint directory")
        return self.folder / f"trial-{trial}.pkl"

    def save(self, trial: int, state: bytes) -> None:
        if self.key is None:
            raise RuntimeError("spilling needs the run dir's key")
        path = self.path(trial)
        path.parent.mkdir(parents=True, exist_ok=True)
        write_signed(path, state, self.key)  # atomic: a crash never leaves half a checkpoint
        self.spilled += 1

    def has(self, trial: int) -> bool:
        return self.folder is not None and self.path(trial).exists()

    def take(self, trial: int) -> bytes | None:
        """The trial's state (spilled by this run, or left by a run that died), removed from
        disk; None when there is none, or when this run cannot be shown to have written it."""
        if not self.has(trial) or self.key is None:
            return None
        path = self.path(trial)
        try:
            state = read_signed(path, self.key)
        except UntrustedFileError as exc:
            self.refused.append(str(exc))
            state = None
        self.forget(trial)
        return state

    def forget(self, trial: int) -> None:
        if self.folder is not None:
            path = self.path(trial)
            path.unlink(missing_ok=True)
            signature_path(path).unlink(missing_ok=True)

    def prune(self, keep: set[int]) -> list[int]:
        """Remove every checkpoint (and half-written file) but those of ``keep``: after a
        crash, files of trials that ended are never read again. Returns the trials removed."""
        if self.folder is None or not self.folder.is_dir():
            return []
        removed = set()
        for path in [*self.folder.glob("trial-*"), *self.folder.glob(".trial-*.tmp")]:
            stem = path.name.split(".", 1)[0].removeprefix("trial-")
            trial = int(stem) if stem.isdigit() else None
            if trial is None or trial not in keep or path.name.endswith(".tmp"):
                path.unlink(missing_ok=True)
                if trial is not None and path.suffix == ".pkl":
                    removed.add(trial)
        return sorted(removed)
