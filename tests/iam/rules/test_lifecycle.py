"""``iam.rules.lifecycle``: each rule failing, with its id and address, on a minimal mutation."""

from __future__ import annotations

from tests.iam.rules.support import INV3_ADDR, SVC3, SVC3_ADDR, Stack, case, inv3, mutation_tests, res


@case("LIFE-002", INV3_ADDR)
def whole_service_trigger(s: Stack) -> None:
    inv3(s)["lifecycle"]["replace_triggered_by"] = [SVC3_ADDR]


@case("LIFE-002", INV3_ADDR)
def trigger_on_an_updated_attribute(s: Stack) -> None:
    inv3(s)["lifecycle"]["replace_triggered_by"] = [f"{SVC3_ADDR}.generation"]


@case("DEPLOY-001", SVC3_ADDR)
def image_managed(s: Stack) -> None:
    res(s, "google_cloud_run_v2_service", SVC3)["lifecycle"]["ignore_changes"] = ["client"]


@case("DEPLOY-001", SVC3_ADDR)
def everything_ignored(s: Stack) -> None:
    res(s, "google_cloud_run_v2_service", SVC3)["lifecycle"]["ignore_changes"] = "all"


test_mutation_is_caught = mutation_tests(__name__)


def test_a_whole_function_trigger_on_its_invoker_is_refused(prod, check):
    fn = "google_cloudfunctions2_function.phase3_to_phase4_orchestrator__function"
    inv = ("phase3_to_phase4_orchestrator__invoker_"
           "phase3_to_phase4_orchestrator_trigger_identity")
    res(prod, "google_cloud_run_v2_service_iam_member", inv)["lifecycle"] = {
        "replace_triggered_by": [fn]}
    hits = [v for v in check(prod) if v.rule == "LIFE-002"]
    assert [v.address for v in hits] == [f"google_cloud_run_v2_service_iam_member.{inv}"]
    assert f"names the whole resource {fn}" in hits[0].message


def test_a_whole_service_trigger_is_told_the_attribute_to_name(prod, check):
    inv3(prod)["lifecycle"]["replace_triggered_by"] = [SVC3_ADDR]
    hits = [v for v in check(prod) if v.rule == "LIFE-002"]
    assert [v.address for v in hits] == [INV3_ADDR]
    assert f"name {SVC3_ADDR}.uid instead" in hits[0].message
