"""ScheduledJob: an HTTP job with an OIDC token for its own identity, invoker on the target."""

from __future__ import annotations

import base64
from typing import Any

import pytest
from cdktn import TerraformStack

from infra.synth.constructs.scheduled_job import ScheduledJob, ScheduledJobProps
from tests.synth.constructs.support import INVENTORIES, PROJECT, REGION, new_stack, service, synthesized
from tests.synth.tfassert import assert_inventory_file, synth

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
    assert_inventory_file(doc, INVENTORIES / "scheduled_job.yaml", {
        "google_cloud_scheduler_job.same_day__job": {
            "http_target": {"body": base64.b64encode(BODY.encode()).decode()}},
    })


def test_a_job_without_body_sends_no_body_or_content_type() -> None:
    stack = new_stack("scheduled-job-get")
    job(stack, "ping", http_method="GET", body=None)
    http = synth(stack)["resource"]["google_cloud_scheduler_job"]["ping__job"]["http_target"]
    assert (http["http_method"], "body" in http, "headers" in http) == ("GET", False, False)


def test_job_body_needs_post() -> None:
    with pytest.raises(ValueError, match="a body needs http_method POST, got GET"):
        job(new_stack("scheduled-job-invalid"), "j", http_method="GET", body="{}")
