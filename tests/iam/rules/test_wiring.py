"""``iam.rules.wiring``: each rule failing, with its id and address, on a minimal mutation."""

from __future__ import annotations

from tests.iam.rules.support import (
    JOB,
    JOB_ADDR,
    ORCH,
    ORCH_ADDR,
    SUB3,
    Stack,
    case,
    mutation_tests,
    res,
    sub3,
)


@case("WIRE-001", SUB3)
def pushes_to_phase4(s: Stack) -> None:
    uri = "${google_cloud_run_v2_service.phase4_precompute_processors__service.uri}"
    push = sub3(s)["push_config"]
    push["push_endpoint"] = f"{uri}/process"
    push["oidc_token"]["audience"] = uri


@case("WIRE-001", ORCH_ADDR)
def trigger_on_other_topic(s: Stack) -> None:
    res(s, "google_cloudfunctions2_function", ORCH)["event_trigger"]["pubsub_topic"] = (
        "${google_pubsub_topic.phase2_raw_complete__topic.id}")


@case("WIRE-001", JOB_ADDR)
def schedule_changed(s: Stack) -> None:
    res(s, "google_cloud_scheduler_job", JOB)["time_zone"] = "UTC"


test_mutation_is_caught = mutation_tests(__name__)
