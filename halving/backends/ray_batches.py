"""How many assignments a Ray worker holds, and how they are cut into calls (pure).

Each call to a worker costs the driver about a millisecond of Ray's own work. When
assignments take less than that, the driver, not the workers, would set the pace: so a
call carries about ``BATCH_SECONDS`` of assignments (by the seconds measured so far),
at most ``MAX_BATCH``, and a decision waits about that much longer for its trial's
results. Batching is lookahead: the backend uses it only when ``lookahead`` is at least
1, no ``trial_timeout`` is set (a call that does not return must name its trial) and the
sampler does not learn from reports (more trials in flight are proposed knowing less).
"""

from __future__ import annotations

from typing import Sequence

__all__ = ["BATCH_SECONDS", "MAX_BATCH", "Pace", "batch_size", "cut"]

BATCH_SECONDS = 0.01
MAX_BATCH = 32


def batch_size(job_seconds: float, max_batch: int) -> int:
    """Assignments per call for assignments of ``job_seconds`` each: 1 to ``max_batch``."""
    if job_seconds <= 0:
        return 1
    return max(1, min(max_batch, int(BATCH_SECONDS / job_seconds)))


class Pace:
    """What an epoch and an assignment take on the workers (running averages quick to follow:
    a trial's first assignment on a fresh worker can take far longer than the ones after
    it), and the ``batch`` they give, at most ``max_batch``."""

    def __init__(self, max_batch: int) -> None:
        self.max_batch = max_batch
        self.epoch_seconds = 0.0
        self.job_seconds = 0.0
        self.batch = 1

    def observe(self, seconds: float, epochs: int) -> None:
        """An assignment of ``epochs`` epochs took ``seconds`` on its worker."""
        took = seconds / epochs
        self.epoch_seconds = took if not self.epoch_seconds else 0.5 * (self.epoch_seconds + took)
        self.job_seconds = seconds if not self.job_seconds else 0.5 * (self.job_seconds + seconds)
        self.batch = batch_size(self.job_seconds, self.max_batch)


def cut(placed: Sequence[tuple], epoch_seconds: float, batch: int) -> list[list]:
    """``placed`` (``(job, start, config)`` each, in order) cut into calls: consecutive
    assignments until their expected seconds (epochs times ``epoch_seconds``) reach
    ``BATCH_SECONDS`` or their number ``batch``; a job marked ``solo`` goes alone."""
    calls: list[list] = []
    part: list = []
    seconds = 0.0
    for item in placed:
        job, start, _ = item
        if job.solo:
            if part:
                calls.append(part)
            calls.append([item])
            part, seconds = [], 0.0
            continue
        part.append(item)
        seconds += (job.until - start) * epoch_seconds
        if seconds >= BATCH_SECONDS or len(part) >= batch:
            calls.append(part)
            part, seconds = [], 0.0
    if part:
        calls.append(part)
    return calls
