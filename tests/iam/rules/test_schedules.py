"""``iam.rules.schedules``: each rule failing, with its id and address, on a minimal mutation."""

from __future__ import annotations

from iam.rules.schedules import seconds
from tests.iam.rules.support import JOB, JOB_ADDR, SVC3, Case, Stack, mutation_tests, res


def deadline_below_timeout(s: Stack) -> None:
    res(s, "google_cloud_scheduler_job", JOB)["attempt_deadline"] = "320s"


def deadline_unset(s: Stack) -> None:
    del res(s, "google_cloud_scheduler_job", JOB)["attempt_deadline"]


def deadline_over_maximum(s: Stack) -> None:
    res(s, "google_cloud_scheduler_job", JOB)["attempt_deadline"] = "3600s"


def target_slower_than_deadline(s: Stack) -> None:
    res(s, "google_cloud_run_v2_service", SVC3)["template"]["timeout"] = "900s"


CASES: list[Case] = [
    ("SCHED-001", JOB_ADDR, deadline_below_timeout),
    ("SCHED-001", JOB_ADDR, deadline_unset),
    ("SCHED-001", JOB_ADDR, deadline_over_maximum),
    ("SCHED-001", JOB_ADDR, target_slower_than_deadline),
]


test_mutation_is_caught = mutation_tests(CASES)


def test_durations_are_read_in_seconds():
    assert (seconds("570s", 1), seconds(None, 180), seconds(60, 1), seconds("9m", 1)) == (
        570, 180, 60, None)
