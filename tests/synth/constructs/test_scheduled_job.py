"""ScheduledJob: an HTTP job with an OIDC token for its own identity, invoker on the target."""

from __future__ import annotations

import base64
from typing import Any

import pytest
from cdktn import TerraformStack

from infra.synth.constructs.scheduled_job import ScheduledJob, ScheduledJobProps
from tests.synth.constructs.support import PROJECT, REGION, new_stack, service, synthesized
from tests.synth.tfassert import assert_inventory, synth

JOB_SA = "google_service_account.same_day__identity"
TARGET = "google_cloud_run_v2_service.svc__service"
BODY = '{"start_date": "TODAY"}'


def job(stack: TerraformStack, component: str, **changes: object) -> ScheduledJob:
    props = dict(name=f"nba-{component}", component=component, project=PROJECT, region=REGION,
                 schedule="30 10 * * *", time_zone="America/New_York", target=service(stack),
                 path="/process-date-range", identity_account_id=f"nba-job-{component}",
                 body=BODY) | changes
    return ScheduledJob(stack, component, ScheduledJobProps(**props))  # type: ignore[arg-type]


def build(stack: TerraformStack) -> None:
    job(stack, "same-day")


doc = synthesized(build)


def test_inventory(doc: dict[str, Any]) -> None:
    assert_inventory(doc, counts={
        "google_cloud_scheduler_job": 1,
        "google_service_account": 2,
        "google_cloud_run_v2_service": 1,
        "google_cloud_run_v2_service_iam_member": 1,
    }, values={
        "google_cloud_scheduler_job.same_day__job": {
            "name": "nba-same-day", "region": REGION, "schedule": "30 10 * * *",
            "time_zone": "America/New_York",
            # The target's 540 s timeout + 30 s; a retry waits 60 s after a failed attempt.
            "attempt_deadline": "570s",
            "retry_config": {"retry_count": 1, "min_backoff_duration": "60s"},
            "http_target": {
                "uri": f"${{{TARGET}.uri}}/process-date-range", "http_method": "POST",
                "headers": {"Content-Type": "application/json"},
                "body": base64.b64encode(BODY.encode()).decode(),
                "oidc_token": {"service_account_email": f"${{{JOB_SA}.email}}",
                               "audience": f"${{{TARGET}.uri}}"},
            },
        },
        JOB_SA: {"account_id": "nba-job-same-day"},
        "google_cloud_run_v2_service_iam_member.svc__invoker_same_day_identity": {
            "role": "roles/run.invoker", "member": f"serviceAccount:${{{JOB_SA}.email}}",
            "name": f"${{{TARGET}.name}}", "lifecycle": {"replace_triggered_by": [f"{TARGET}.uid"]},
        },
    })


def test_a_job_without_body_sends_no_body_or_content_type() -> None:
    stack = new_stack("scheduled-job-get")
    job(stack, "ping", http_method="GET", body=None)
    http = synth(stack)["resource"]["google_cloud_scheduler_job"]["ping__job"]["http_target"]
    assert (http["http_method"], "body" in http, "headers" in http) == ("GET", False, False)


def test_job_body_needs_post() -> None:
    with pytest.raises(ValueError, match="a body needs http_method POST, got GET"):
        job(new_stack("scheduled-job-invalid"), "j", http_method="GET", body="{}")
