"""CloudRunService: internal-only service under its own identity, invoker members on it."""

from __future__ import annotations

from typing import Any

import pytest
from cdktn import TerraformStack

from tests.synth.constructs.support import PROJECT, REGION, identity, new_stack, service, synthesized
from tests.synth.tfassert import assert_inventory

SVC = "google_cloud_run_v2_service.phase3__service"
SA = "google_service_account.phase3__identity"


def build(stack: TerraformStack) -> None:
    svc = service(stack, "phase3", env=(("SPORT", "nba"),), min_instances=1, timeout="300s")
    svc.grant_invoke(identity(stack, "nba-push-p3", "push"))


doc = synthesized(build)


def test_inventory(doc: dict[str, Any]) -> None:
    assert_inventory(doc, counts={
        "google_cloud_run_v2_service": 1,
        "google_cloud_run_v2_service_iam_member": 1,
        "google_service_account": 2,
    }, values={
        SVC: {
            "name": "nba-phase3", "project": PROJECT, "location": REGION,
            "ingress": "INGRESS_TRAFFIC_INTERNAL_ONLY", "deletion_protection": False,
            "template": {
                "service_account": f"${{{SA}.email}}", "timeout": "300s",
                "scaling": {"min_instance_count": 1, "max_instance_count": 10},
                "containers": [{"image": "img", "ports": {"container_port": 8080},
                                "env": [{"name": "SPORT", "value": "nba"}]}],
            },
        },
        SA: {"account_id": "nba-run-phase3"},
        "google_cloud_run_v2_service_iam_member.phase3__invoker_push_identity": {
            "role": "roles/run.invoker", "name": f"${{{SVC}.name}}", "location": REGION,
            "member": "serviceAccount:${google_service_account.push__identity.email}",
            "lifecycle": {"replace_triggered_by": [SVC]},
        },
    })


def test_public_ingress_is_refused() -> None:
    with pytest.raises(ValueError, match="ingress INGRESS_TRAFFIC_ALL is not allowed"):
        service(new_stack("service-public"), ingress="INGRESS_TRAFFIC_ALL")
