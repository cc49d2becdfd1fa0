"""How the Ray backend cuts assignments into calls: pure functions, no Ray."""

from __future__ import annotations

from dataclasses import dataclass

from halving.backends.ray_batches import BATCH_SECONDS, MAX_BATCH, batch_size, cut


@dataclass
class Job:
    trial: int
    until: int
    solo: bool = False


def _placed(*jobs: Job, start: int = 0) -> list[tuple]:
    return [(job, start, None) for job in jobs]


def _trials(calls: list[list]) -> list[list[int]]:
    return [[job.trial for job, _, _ in call] for call in calls]


def test_batch_size_follows_the_seconds_of_an_assignment_within_its_bounds():
    assert batch_size(0.0, MAX_BATCH) == 1  # nothing measured yet
    assert batch_size(1.0, MAX_BATCH) == 1  # long assignments: one per call
    assert batch_size(BATCH_SECONDS / 4, MAX_BATCH) == 4
    assert batch_size(1e-9, MAX_BATCH) == MAX_BATCH
    assert batch_size(1e-9, 1) == 1  # lookahead=0 or trial_timeout: never batched


def test_a_call_ends_once_its_expected_seconds_reach_the_target():
    per_epoch = BATCH_SECONDS / 4
    # 1 + 2 epochs stay under; the third job's 1 epoch reaches 4 epochs' worth.
    calls = cut(_placed(Job(0, 1), Job(1, 2), Job(2, 1), Job(3, 1)), per_epoch, batch=32)
    assert _trials(calls) == [[0, 1, 2], [3]]


def test_a_call_holds_at_most_batch_assignments_in_their_order():
    calls = cut(_placed(*(Job(t, 1) for t in range(7))), 1e-6, batch=3)
    assert _trials(calls) == [[0, 1, 2], [3, 4, 5], [6]]


def test_a_solo_job_goes_alone_and_the_others_keep_their_order():
    jobs = [Job(0, 1), Job(1, 1, solo=True), Job(2, 1), Job(3, 1, solo=True)]
    assert _trials(cut(_placed(*jobs), 1e-6, batch=32)) == [[0], [1], [2], [3]]
    assert cut([], 1e-6, batch=32) == []


def test_the_epochs_counted_are_those_from_where_each_assignment_starts():
    per_epoch = BATCH_SECONDS / 2
    # From epoch 8 to 9 is one epoch: two fit in a call, not one.
    calls = cut(_placed(Job(0, 9), Job(1, 9), Job(2, 9), start=8), per_epoch, batch=32)
    assert _trials(calls) == [[0, 1], [2]]
