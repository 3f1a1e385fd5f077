"""``iam.rules.components``: each rule failing, with its id and address, on a minimal mutation."""

from __future__ import annotations

import json

from tests.iam.rules.support import ORCH, Stack, add, case, drop, mutation_tests, res


@case("DRIFT-002", "google_cloudfunctions2_function.phase2_to_phase3_orchestrator__function")
def removed_orchestrator_back(s: Stack) -> None:
    body = json.loads(json.dumps(res(s, "google_cloudfunctions2_function", ORCH)))
    body["name"] = "phase2-to-phase3-orchestrator"
    body["event_trigger"]["pubsub_topic"] = "${google_pubsub_topic.phase2_raw_complete__topic.id}"
    add(s, "google_cloudfunctions2_function", "phase2_to_phase3_orchestrator__function", body)


@case("DRIFT-003", 'google_cloud_scheduler_job["same-day-phase3-tomorrow"]')
def job_removed(s: Stack) -> None:
    drop(s, "google_cloud_scheduler_job", "same_day_phase3_tomorrow_job__job")


test_mutation_is_caught = mutation_tests(__name__)
