"""Checkpoints of paused trials on disk: spilled to bound a worker's memory, read back
when the trial is promoted or restarted, and removed once no trial can need them."""

from __future__ import annotations

import os
from pathlib import Path

__all__ = ["CheckpointStore"]


class CheckpointStore:
    """``trial-N.pkl`` files in one folder (the run dir's ``checkpoints/``); ``None``: no
    folder, so nothing can be spilled. The bytes are pickled state, unpickled by a worker."""

    def __init__(self, folder: str | os.PathLike | None) -> None:
        self.folder = Path(folder) if folder is not None else None
        self.spilled = 0

    @property
    def enabled(self) -> bool:
        return self.folder is not None

    def path(self, trial: int) -> Path:
        if self.folder is None:
            raise RuntimeError("spilling needs a checkpoint directory")
        return self.folder / f"trial-{trial}.pkl"

    def save(self, trial: int, state: bytes) -> None:
        path = self.path(trial)
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".tmp")
        tmp.write_bytes(state)
        os.replace(tmp, path)  # a crash never leaves half a checkpoint
        self.spilled += 1

    def has(self, trial: int) -> bool:
        return self.folder is not None and self.path(trial).exists()

    def take(self, trial: int) -> bytes | None:
        """The trial's state (spilled by this run, or left by a run that died), removed from disk."""
        if not self.has(trial):
            return None
        path = self.path(trial)
        state = path.read_bytes()
        path.unlink(missing_ok=True)
        return state

    def forget(self, trial: int) -> None:
        if self.folder is not None:
            self.path(trial).unlink(missing_ok=True)

    def prune(self, keep: set[int]) -> list[int]:
        """Remove every checkpoint (and half-written file) but those of ``keep``: after a
        crash, files of trials that ended are never read again. Returns the trials removed."""
        if self.folder is None or not self.folder.is_dir():
            return []
        removed = []
        for path in self.folder.glob("trial-*"):
            stem = path.name.split(".", 1)[0].removeprefix("trial-")
            trial = int(stem) if stem.isdigit() else None
            if trial is None or trial not in keep or path.suffix == ".tmp":
                path.unlink(missing_ok=True)
                if trial is not None and path.suffix != ".tmp":
                    removed.append(trial)
        return sorted(removed)
