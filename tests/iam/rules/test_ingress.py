"""``iam.rules.ingress``: each rule failing, with its id and address, on a minimal mutation."""

from __future__ import annotations

from infra.stackjson.ingress import vpc_egress
from tests.iam.rules.support import SVC3, SVC3_ADDR, Stack, case, drop, mutation_tests, res

WORKER = "prediction_worker__service"
WORKER_ADDR = f"google_cloud_run_v2_service.{WORKER}"
WORKER_INVOKER = "prediction_worker__invoker_prediction_coordinator_identity"
COORDINATOR = "prediction_coordinator__service"


@case("INGRESS-001", SVC3_ADDR)
def public_ingress(s: Stack) -> None:
    res(s, "google_cloud_run_v2_service", SVC3)["ingress"] = "INGRESS_TRAFFIC_ALL"


@case("INGRESS-001", WORKER_ADDR)
def worker_open_without_service_caller(s: Stack) -> None:
    """The coordinator no longer calls the worker: all traffic is no longer needed."""
    drop(s, "google_cloud_run_v2_service_iam_member", WORKER_INVOKER)


@case("INGRESS-002", WORKER_ADDR)
def worker_internal_only(s: Stack) -> None:
    res(s, "google_cloud_run_v2_service", WORKER)["ingress"] = "INGRESS_TRAFFIC_INTERNAL_ONLY"


test_mutation_is_caught = mutation_tests(__name__)


def test_the_worker_takes_all_traffic_for_its_one_service_caller(prod):
    members = prod["resource"]["google_cloud_run_v2_service_iam_member"]
    assert prod["resource"]["google_cloud_run_v2_service"][WORKER]["ingress"] == (
        "INGRESS_TRAFFIC_ALL")
    invokers = [m["member"] for m in members.values()
                if m["name"] == f"${{{WORKER_ADDR}.name}}"]
    assert invokers == [
        "serviceAccount:${google_service_account.prediction_coordinator__identity.email}"]


def test_a_caller_routing_all_traffic_through_a_vpc_is_internal(prod, check):
    worker_internal_only(prod)
    tpl = res(prod, "google_cloud_run_v2_service", COORDINATOR)["template"]
    tpl["vpc_access"] = {"network_interfaces": [{"network": "default"}],
                         "egress": "PRIVATE_RANGES_ONLY"}
    assert any(v.rule == "INGRESS-002" for v in check(prod))
    tpl["vpc_access"]["egress"] = "ALL_TRAFFIC"
    assert [v for v in check(prod) if v.rule.startswith("INGRESS")] == []


def test_vpc_egress_reads_connectors_of_functions_too():
    body = {"service_config": {"vpc_connector": "c", "vpc_connector_egress_settings":
                               "ALL_TRAFFIC"}}
    assert vpc_egress("google_cloudfunctions2_function", body)
    body["service_config"]["vpc_connector_egress_settings"] = "PRIVATE_RANGES_ONLY"
    assert not vpc_egress("google_cloudfunctions2_function", body)
    assert not vpc_egress("google_cloud_run_v2_service", {"template": {}})
