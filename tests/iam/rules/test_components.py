"""``iam.rules.components``: each rule failing, with its id and address, on a minimal mutation."""

from __future__ import annotations

import json

from tests.iam.rules.support import (
    ORCH,
    ORCH_ADDR,
    Case,
    Stack,
    add,
    drop,
    mutation_tests,
    res,
    trigger_topic_env_removed_topic,
)


def removed_orchestrator_back(s: Stack) -> None:
    body = json.loads(json.dumps(res(s, "google_cloudfunctions2_function", ORCH)))
    body["name"] = "phase2-to-phase3-orchestrator"
    body["event_trigger"]["pubsub_topic"] = "${google_pubsub_topic.phase2_raw_complete__topic.id}"
    add(s, "google_cloudfunctions2_function", "phase2_to_phase3_orchestrator__function", body)


def job_removed(s: Stack) -> None:
    drop(s, "google_cloud_scheduler_job", "same_day_phase3_tomorrow_job__job")


CASES: list[Case] = [
    ("DRIFT-002", "google_cloudfunctions2_function.phase2_to_phase3_orchestrator__function",
     removed_orchestrator_back),
    ("DRIFT-002", ORCH_ADDR, trigger_topic_env_removed_topic),
    ("DRIFT-003", 'google_cloud_scheduler_job["same-day-phase3-tomorrow"]', job_removed),
]


test_mutation_is_caught = mutation_tests(CASES)
