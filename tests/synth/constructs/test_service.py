"""CloudRunService: internal-only service under its own identity, invoker members on it."""

from __future__ import annotations

from typing import Any

import pytest
from cdktn import TerraformStack

from tests.synth.constructs.support import INVENTORIES, PROJECT, identity, new_stack, service, synthesized
from tests.synth.tfassert import assert_inventory_file


def build(stack: TerraformStack) -> None:
    svc = service(stack, "phase3", env=(("SPORT", "nba"),), min_instances=1,
                  timeout_seconds=300)
    svc.grant_invoke(identity(stack, "nba-push-p3", "push"))


doc = synthesized(build)


def test_inventory(doc: dict[str, Any]) -> None:
    assert_inventory_file(doc, INVENTORIES / "service.yaml")


def test_a_timeout_outside_cloud_runs_range_is_refused() -> None:
    with pytest.raises(ValueError, match=r"timeout_seconds 3601 outside Cloud Run's 1..3600"):
        service(new_stack("service-bad-timeout"), timeout_seconds=3601)


def test_an_unknown_ingress_is_refused() -> None:
    with pytest.raises(ValueError, match="ingress 'INTERNAL' is not one of"):
        service(new_stack("service-bad-ingress"), ingress="INTERNAL")


def test_an_internal_only_service_refuses_a_service_caller_without_vpc_egress() -> None:
    stack = new_stack("service-to-service")
    worker = service(stack, "worker")
    coordinator = service(stack, "coordinator")
    with pytest.raises(ValueError, match="ingress INGRESS_TRAFFIC_INTERNAL_ONLY refuses calls "
                       "from service nba-coordinator, which has no VPC egress"):
        worker.grant_invoke(coordinator.identity)


def test_a_service_taking_all_traffic_admits_its_service_caller_by_iam_only() -> None:
    stack = new_stack("service-to-service-open")
    worker = service(stack, "worker", ingress="INGRESS_TRAFFIC_ALL")
    grant = worker.grant_invoke(service(stack, "coordinator").identity)
    assert grant.member == (
        f"serviceAccount:nba-run-coordinator@{PROJECT}.iam.gserviceaccount.com")


class _Public:
    member = literal_member = "allUsers"
    component = "public"


def test_a_public_invoker_is_refused() -> None:
    svc = service(new_stack("service-public"), ingress="INGRESS_TRAFFIC_ALL")
    with pytest.raises(ValueError, match="invoker allUsers is public"):
        svc.grant_invoke(_Public())
