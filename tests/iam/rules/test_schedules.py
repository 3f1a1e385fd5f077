"""``iam.rules.schedules``: each rule failing, with its id and address, on a minimal mutation."""

from __future__ import annotations

from iam.rules.schedules import seconds
from tests.iam.rules.support import JOB, JOB_ADDR, SVC3, Stack, case, mutation_tests, res


@case("SCHED-001", JOB_ADDR)
def deadline_below_timeout(s: Stack) -> None:
    res(s, "google_cloud_scheduler_job", JOB)["attempt_deadline"] = "320s"


@case("SCHED-001", JOB_ADDR)
def deadline_unset(s: Stack) -> None:
    del res(s, "google_cloud_scheduler_job", JOB)["attempt_deadline"]


@case("SCHED-001", JOB_ADDR)
def deadline_over_maximum(s: Stack) -> None:
    res(s, "google_cloud_scheduler_job", JOB)["attempt_deadline"] = "3600s"


@case("SCHED-001", JOB_ADDR)
def target_slower_than_deadline(s: Stack) -> None:
    res(s, "google_cloud_run_v2_service", SVC3)["template"]["timeout"] = "900s"


test_mutation_is_caught = mutation_tests(__name__)


def test_durations_are_read_in_seconds():
    assert (seconds("570s", 1), seconds(None, 180), seconds(60, 1), seconds("9m", 1)) == (
        570, 180, 60, None)
