"""Every rule: clean on the real stacks, and failing with its id and address on a mutation."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest

from iam.rules import RULES

Stack = dict[str, Any]

SUB3 = "google_pubsub_subscription.phase3_analytics_sub__subscription"
SUB3_NAME = "phase3_analytics_sub__subscription"
INV3 = "phase3_analytics_processors__invoker_phase3_analytics_sub_push_identity"
INV3_ADDR = f"google_cloud_run_v2_service_iam_member.{INV3}"
SVC3 = "phase3_analytics_processors__service"
SVC3_ADDR = f"google_cloud_run_v2_service.{SVC3}"
ORCH = "phase3_to_phase4_orchestrator__function"
ORCH_ADDR = f"google_cloudfunctions2_function.{ORCH}"
CANARY = "pipeline_canary__function"
CANARY_ADDR = f"google_cloudfunctions2_function.{CANARY}"
JOB = "same_day_phase3_job__job"
JOB_ADDR = f"google_cloud_scheduler_job.{JOB}"
CANARY_JOB_ADDR = "google_cloud_scheduler_job.pipeline_canary_job__job"
PUSH3_SA = "${google_service_account.phase3_analytics_sub__push_identity.email}"
PUSH2_SA = "${google_service_account.phase2_raw_sub__push_identity.email}"


def res(stack: Stack, rtype: str, name: str) -> dict[str, Any]:
    return stack["resource"][rtype][name]


def sub3(stack: Stack) -> dict[str, Any]:
    return res(stack, "google_pubsub_subscription", SUB3_NAME)


def inv3(stack: Stack) -> dict[str, Any]:
    return res(stack, "google_cloud_run_v2_service_iam_member", INV3)


def add(stack: Stack, rtype: str, name: str, body: dict[str, Any]) -> None:
    stack["resource"].setdefault(rtype, {})[name] = body


def drop(stack: Stack, rtype: str, name: str) -> None:
    del stack["resource"][rtype][name]


def orch_env(stack: Stack) -> dict[str, str]:
    return res(stack, "google_cloudfunctions2_function", ORCH)["service_config"][
        "environment_variables"]


def canary_env(stack: Stack) -> dict[str, str]:
    return res(stack, "google_cloudfunctions2_function", CANARY)["service_config"][
        "environment_variables"]


def project_member(role: str, member: str) -> dict[str, Any]:
    return {"project": "nba-props-platform", "role": role, "member": member}


# ----- mutations (each a minimal break of one class of mistake) -----

def no_oidc(s: Stack) -> None:
    del sub3(s)["push_config"]["oidc_token"]


def no_audience(s: Stack) -> None:
    del sub3(s)["push_config"]["oidc_token"]["audience"]


def wrong_audience(s: Stack) -> None:
    sub3(s)["push_config"]["oidc_token"]["audience"] = (
        "${google_cloud_run_v2_service.phase4_precompute_processors__service.uri}")


def literal_endpoint(s: Stack) -> None:
    sub3(s)["push_config"]["push_endpoint"] = (
        "https://nba-phase3-analytics-processors-756957797294.us-west2.run.app/process")


def invoker_removed(s: Stack) -> None:
    drop(s, "google_cloud_run_v2_service_iam_member", INV3)


def token_creator_removed(s: Stack) -> None:
    drop(s, "google_service_account_iam_member",
         "phase3_analytics_sub__push_identity_token_creator_pubsub_agent")


def pushes_to_phase4(s: Stack) -> None:
    uri = "${google_cloud_run_v2_service.phase4_precompute_processors__service.uri}"
    push = sub3(s)["push_config"]
    push["push_endpoint"] = f"{uri}/process"
    push["oidc_token"]["audience"] = uri


def trigger_on_other_topic(s: Stack) -> None:
    res(s, "google_cloudfunctions2_function", ORCH)["event_trigger"]["pubsub_topic"] = (
        "${google_pubsub_topic.phase2_raw_complete__topic.id}")


def trigger_invoker_removed(s: Stack) -> None:
    drop(s, "google_cloud_run_v2_service_iam_member",
         "phase3_to_phase4_orchestrator__invoker_phase3_to_phase4_orchestrator_trigger_identity")


def job_without_oidc(s: Stack) -> None:
    del res(s, "google_cloud_scheduler_job", JOB)["http_target"]["oidc_token"]


def job_invoker_removed(s: Stack) -> None:
    drop(s, "google_cloud_run_v2_service_iam_member",
         "pipeline_canary__invoker_pipeline_canary_job_identity")


def widened_to_admin(s: Stack) -> None:
    inv3(s)["role"] = "roles/run.admin"


def no_replace_triggered_by(s: Stack) -> None:
    del inv3(s)["lifecycle"]


def replace_triggered_by_other(s: Stack) -> None:
    inv3(s)["lifecycle"]["replace_triggered_by"] = [
        "google_cloud_run_v2_service.phase4_precompute_processors__service"]


def conditional(s: Stack) -> None:
    inv3(s)["condition"] = {"title": "until", "expression":
                            'request.time < timestamp("2026-03-01T00:00:00Z")'}


def made_authoritative(s: Stack) -> None:
    body = s["resource"]["google_cloud_run_v2_service_iam_member"].pop(INV3)
    body["members"] = [body.pop("member")]
    add(s, "google_cloud_run_v2_service_iam_binding", "phase3_invokers", body)


def project_policy(s: Stack) -> None:
    s.setdefault("data", {})["google_iam_policy"] = {"admins": {"binding": [
        {"role": "roles/datastore.user", "members": [
            "serviceAccount:${google_service_account.phase3_to_phase4_orchestrator__runtime_identity.email}"]}]}}
    add(s, "google_project_iam_policy", "project", {
        "project": "nba-props-platform",
        "policy_data": "${data.google_iam_policy.admins.policy_data}"})


def all_users(s: Stack) -> None:
    inv3(s)["member"] = "allUsers"


def invoker_iam_disabled(s: Stack) -> None:
    res(s, "google_cloud_run_v2_service", SVC3)["invoker_iam_disabled"] = True


def omitted_service_account(s: Stack) -> None:
    del res(s, "google_cloud_run_v2_service", SVC3)["template"]["service_account"]


def compute_member(s: Stack) -> None:
    inv3(s)["member"] = "serviceAccount:756957797294-compute@developer.gserviceaccount.com"


def omitted_build_account(s: Stack) -> None:
    del res(s, "google_cloudfunctions2_function", ORCH)["build_config"]["service_account"]


def other_project_member(s: Stack) -> None:
    inv3(s)["member"] = (
        "serviceAccount:nba-push-phase2-to-phase3@nba-props-platform-dev.iam.gserviceaccount.com")


def literal_agent_number(s: Stack) -> None:
    member = res(s, "google_pubsub_subscription_iam_member",
                 "phase3_analytics_sub__subscriber_pubsub_agent")
    member["member"] = "serviceAccount:service-756957797294@gcp-sa-pubsub.iam.gserviceaccount.com"


def canary_runs_as_orchestrator(s: Stack) -> None:
    res(s, "google_cloudfunctions2_function", CANARY)["service_config"][
        "service_account_email"] = (
        "${google_service_account.phase3_to_phase4_orchestrator__runtime_identity.email}")


def swapped_push_identity(s: Stack) -> None:
    sub3(s)["push_config"]["oidc_token"]["service_account_email"] = PUSH2_SA


def project_editor(s: Stack) -> None:
    add(s, "google_project_iam_member", "ops_editor", project_member(
        "roles/editor", f"serviceAccount:{PUSH3_SA}"))


def topic_admin(s: Stack) -> None:
    res(s, "google_pubsub_topic_iam_member",
        "phase4_trigger__topic_publisher_phase3_to_phase4_orchestrator_runtime_identity")[
        "role"] = "roles/pubsub.admin"


def dead_letter_cut(s: Stack) -> None:
    del sub3(s)["dead_letter_policy"]


def dead_letter_subscription_removed(s: Stack) -> None:
    drop(s, "google_pubsub_subscription", "phase3_analytics_sub__dead_letter_subscription")


def dead_letter_is_source(s: Stack) -> None:
    sub3(s)["dead_letter_policy"]["dead_letter_topic"] = sub3(s)["topic"]


def dead_letter_publisher_removed(s: Stack) -> None:
    drop(s, "google_pubsub_topic_iam_member",
         "phase3_analytics_sub__dead_letter_topic_publisher_pubsub_agent")


def dead_letter_subscriber_removed(s: Stack) -> None:
    drop(s, "google_pubsub_subscription_iam_member",
         "phase3_analytics_sub__subscriber_pubsub_agent")


def orphan_topic(s: Stack) -> None:
    add(s, "google_pubsub_topic", "phase9_orphan__topic",
        {"name": "nba-phase9-orphan", "project": "nba-props-platform"})


def expects_disabled_processor(s: Stack) -> None:
    env = orch_env(s)
    env["EXPECTED_PROCESSORS"] = json.dumps(
        [*json.loads(env["EXPECTED_PROCESSORS"]), "p2_bdl_box_scores"])


def canary_expects_fewer(s: Stack) -> None:
    env = canary_env(s)
    gated = json.loads(env["GATED_TRANSITIONS"])
    gated[0]["expected"] = gated[0]["expected"][:-1]
    env["GATED_TRANSITIONS"] = json.dumps(gated)


def removed_orchestrator_back(s: Stack) -> None:
    body = json.loads(json.dumps(res(s, "google_cloudfunctions2_function", ORCH)))
    body["name"] = "phase2-to-phase3-orchestrator"
    body["event_trigger"]["pubsub_topic"] = "${google_pubsub_topic.phase2_raw_complete__topic.id}"
    add(s, "google_cloudfunctions2_function", "phase2_to_phase3_orchestrator__function", body)


def job_removed(s: Stack) -> None:
    drop(s, "google_cloud_scheduler_job", "same_day_phase3_tomorrow_job__job")


def project_invoker(s: Stack) -> None:
    add(s, "google_project_iam_member", "push_invoker", project_member(
        "roles/run.invoker", f"serviceAccount:{PUSH3_SA}"))


def publisher_removed(s: Stack) -> None:
    drop(s, "google_pubsub_topic_iam_member",
         "phase4_trigger__topic_publisher_phase3_to_phase4_orchestrator_runtime_identity")


def slack_token_literal(s: Stack) -> None:
    res(s, "google_monitoring_notification_channel", "alerts__slack_channel")[
        "sensitive_labels"]["auth_token"] = "xoxb-2222222222-AbCdEfGhIjKlMnOp"


def webhook_env(s: Stack) -> None:
    res(s, "google_cloud_run_v2_service", SVC3)["template"]["containers"][0]["env"].append(
        {"name": "ALERT_WEBHOOK", "value": "https://hooks.slack.com/services/T0/B0/abcdef"})


def api_token_env(s: Stack) -> None:
    orch_env(s)["API_TOKEN"] = "c2VjcmV0LXZhbHVlLXRoYXQtc2hvdWxkLW5vdC1iZS1oZXJl"


def service_account_key(s: Stack) -> None:
    add(s, "google_service_account_key", "push_key", {
        "service_account_id": "${google_service_account.phase3_analytics_sub__push_identity.name}"})


def public_ingress(s: Stack) -> None:
    res(s, "google_cloud_run_v2_service", SVC3)["ingress"] = "INGRESS_TRAFFIC_ALL"


def topic_in_dev_project(s: Stack) -> None:
    res(s, "google_pubsub_topic", "phase4_trigger__topic")["project"] = "nba-props-platform-dev"


def provider_of_dev(s: Stack) -> None:
    s["provider"]["google"][0]["project"] = "nba-props-platform-dev"


def trigger_topic_env_removed_topic(s: Stack) -> None:
    orch_env(s)["TRIGGER_TOPIC"] = "nba-phase3-trigger"


def member_without_prefix(s: Stack) -> None:
    inv3(s)["member"] = PUSH3_SA


def oidc_email_with_prefix(s: Stack) -> None:
    sub3(s)["push_config"]["oidc_token"]["service_account_email"] = f"serviceAccount:{PUSH3_SA}"


def subscription_expires(s: Stack) -> None:
    del res(s, "google_pubsub_subscription",
            "phase3_analytics_sub__dead_letter_subscription")["expiration_policy"]


def schedule_changed(s: Stack) -> None:
    res(s, "google_cloud_scheduler_job", JOB)["time_zone"] = "UTC"


def bucket_not_enforced(s: Stack) -> None:
    del res(s, "google_storage_bucket", "function_sources__bucket")["public_access_prevention"]


def push_account_removed(s: Stack) -> None:
    drop(s, "google_service_account", "phase3_analytics_sub__push_identity")


def no_retry_policy(s: Stack) -> None:
    del sub3(s)["retry_policy"]


def retry_without_backoff(s: Stack) -> None:
    sub3(s)["retry_policy"] = {"maximum_backoff": "600s"}


DATASET = "dataset_orchestration__dataset"
TABLE = "dataset_orchestration__table_phase_completions"


def firestore_destroyable(s: Stack) -> None:
    del res(s, "google_firestore_database", "firestore__database")["lifecycle"]


def dataset_contents_deleted(s: Stack) -> None:
    res(s, "google_bigquery_dataset", DATASET)["delete_contents_on_destroy"] = True


def table_unprotected(s: Stack) -> None:
    res(s, "google_bigquery_table", TABLE)["deletion_protection"] = False


def dataset_access_entry(s: Stack) -> None:
    add(s, "google_bigquery_dataset_access", "ops_owner", {
        "dataset_id": f"${{google_bigquery_dataset.{DATASET}.dataset_id}}",
        "role": "OWNER", "user_by_email": "ops@example.com"})


def dataset_access_blocks(s: Stack) -> None:
    res(s, "google_bigquery_dataset", DATASET)["access"] = [
        {"role": "roles/bigquery.dataViewer", "special_group": "allAuthenticatedUsers"}]


def bucket_acl(s: Stack) -> None:
    add(s, "google_storage_bucket_acl", "sources", {
        "bucket": "${google_storage_bucket.function_sources__bucket.name}",
        "role_entity": ["READER:allUsers"]})


# (rule, address the violation must name, mutation)
CASES: list[tuple[str, str, Callable[[Stack], None]]] = [
    ("ENV-001", "google_pubsub_topic.phase4_trigger__topic", topic_in_dev_project),
    ("ENV-001", "provider.google", provider_of_dev),
    ("PUSH-001", SUB3, no_oidc),
    ("PUSH-001", SUB3, no_audience),
    ("PUSH-001", SUB3, wrong_audience),
    ("PUSH-002", SUB3, literal_endpoint),
    ("PUSH-003", SUB3, invoker_removed),
    ("PUSH-003", SUB3, swapped_push_identity),
    ("PUSH-004", SUB3, token_creator_removed),
    ("WIRE-001", SUB3, pushes_to_phase4),
    ("WIRE-001", ORCH_ADDR, trigger_on_other_topic),
    ("INVOKE-001", ORCH_ADDR, trigger_invoker_removed),
    ("INVOKE-002", JOB_ADDR, job_without_oidc),
    ("INVOKE-002", CANARY_JOB_ADDR, job_invoker_removed),
    ("INVOKE-003", INV3_ADDR, widened_to_admin),
    ("COND-001", INV3_ADDR, conditional),
    ("LIFE-001", INV3_ADDR, no_replace_triggered_by),
    ("LIFE-001", INV3_ADDR, replace_triggered_by_other),
    ("AUTH-001", "google_cloud_run_v2_service_iam_binding.phase3_invokers", made_authoritative),
    ("AUTH-001", "google_project_iam_policy.project", project_policy),
    ("PUBLIC-001", INV3_ADDR, all_users),
    ("PUBLIC-001", SVC3_ADDR, invoker_iam_disabled),
    ("SA-001", SVC3_ADDR, omitted_service_account),
    ("SA-001", INV3_ADDR, compute_member),
    ("SA-001", ORCH_ADDR, omitted_build_account),
    ("SA-002", INV3_ADDR, other_project_member),
    ("SA-002", "google_pubsub_subscription_iam_member."
               "phase3_analytics_sub__subscriber_pubsub_agent", literal_agent_number),
    ("SA-002", INV3_ADDR, member_without_prefix),
    ("SA-002", SUB3, oidc_email_with_prefix),
    ("SA-003", CANARY_ADDR, canary_runs_as_orchestrator),
    ("SA-003", SUB3, swapped_push_identity),
    ("ROLE-001", "google_project_iam_member.ops_editor", project_editor),
    ("ROLE-001", "google_pubsub_topic_iam_member."
                 "phase4_trigger__topic_publisher_phase3_to_phase4_orchestrator_runtime_identity",
     topic_admin),
    ("ROLE-002", "google_project_iam_member.push_invoker", project_invoker),
    ("DLQ-001", SUB3, dead_letter_cut),
    ("DLQ-001", SUB3, dead_letter_subscription_removed),
    ("DLQ-001", SUB3, dead_letter_is_source),
    ("DLQ-002", SUB3, dead_letter_publisher_removed),
    ("DLQ-003", SUB3, dead_letter_subscriber_removed),
    ("SUB-001", "google_pubsub_subscription.phase3_analytics_sub__dead_letter_subscription",
     subscription_expires),
    ("SUB-002", SUB3, no_retry_policy),
    ("SUB-002", SUB3, retry_without_backoff),
    ("DATA-001", "google_firestore_database.firestore__database", firestore_destroyable),
    ("DATA-001", f"google_bigquery_dataset.{DATASET}", dataset_contents_deleted),
    ("DATA-001", f"google_bigquery_table.{TABLE}", table_unprotected),
    ("ACL-001", "google_bigquery_dataset_access.ops_owner", dataset_access_entry),
    ("ACL-001", f"google_bigquery_dataset.{DATASET}", dataset_access_blocks),
    ("PUBLIC-001", f"google_bigquery_dataset.{DATASET}", dataset_access_blocks),
    ("ACL-001", "google_storage_bucket_acl.sources", bucket_acl),
    ("PUBLIC-001", "google_storage_bucket_acl.sources", bucket_acl),
    ("WIRE-001", JOB_ADDR, schedule_changed),
    ("PUBLIC-001", "google_storage_bucket.function_sources__bucket", bucket_not_enforced),
    ("TOPIC-001", "google_pubsub_topic.phase9_orphan__topic", orphan_topic),
    ("TOPIC-001", "google_pubsub_topic.phase3_analytics_sub__dead_letter_topic",
     dead_letter_subscription_removed),
    ("DRIFT-001", ORCH_ADDR, expects_disabled_processor),
    ("DRIFT-001", CANARY_ADDR, canary_expects_fewer),
    ("DRIFT-002", "google_cloudfunctions2_function.phase2_to_phase3_orchestrator__function",
     removed_orchestrator_back),
    ("DRIFT-002", ORCH_ADDR, trigger_topic_env_removed_topic),
    ("DRIFT-001", ORCH_ADDR, trigger_topic_env_removed_topic),
    ("DRIFT-003", 'google_cloud_scheduler_job["nba-same-day-phase3-tomorrow"]', job_removed),
    ("GRANT-001", "google_project_iam_member.push_invoker", project_invoker),
    ("GRANT-001", INV3_ADDR, widened_to_admin),
    ("GRANT-002", "google_pubsub_topic.phase4_trigger__topic", publisher_removed),
    ("GRANT-003", CANARY_ADDR, canary_runs_as_orchestrator),
    ("GRANT-003", SUB3, swapped_push_identity),
    ("SECRET-001", "google_monitoring_notification_channel.alerts__slack_channel",
     slack_token_literal),
    ("SECRET-001", SVC3_ADDR, webhook_env),
    ("SECRET-001", ORCH_ADDR, api_token_env),
    ("SECRET-001", "google_service_account_key.push_key", service_account_key),
    ("INGRESS-001", SVC3_ADDR, public_ingress),
    ("REF-001", SUB3, push_account_removed),
]


@pytest.mark.parametrize("env", ["dev", "prod"])
def test_real_stacks_are_clean(stack_json, check, env):
    violations = check(stack_json[env], env)
    assert violations == [], "\n".join(v.line() for v in violations)


@pytest.mark.parametrize("env", ["dev", "prod"])
def test_real_stacks_are_clean_with_manifest_only_rules(stack_json, check, env):
    assert check(stack_json[env], None) == []


@pytest.mark.parametrize(("rule", "address", "mutate"), CASES,
                         ids=[f"{r}-{m.__name__}" for r, _, m in CASES])
def test_mutation_is_caught(prod, check, rule, address, mutate):
    mutate(prod)
    violations = check(prod)
    hits = [v for v in violations if v.rule == rule and v.address == address]
    assert hits, (f"expected {rule} on {address}; got:\n"
                  + "\n".join(v.line() for v in violations))
    assert all(v.message and v.stack == "pipeline-prod" for v in violations)


def test_every_rule_has_a_mutation():
    assert {r.id for r in RULES} == {rule for rule, _, _ in CASES}


def test_rule_ids_are_unique_and_documented():
    ids = [r.id for r in RULES]
    assert len(ids) == len(set(ids))
    for r in RULES:
        assert r.title and r.fix and len(r.rationale) > 80, r.id


def test_removed_invoker_is_caught_without_env(prod, check):
    invoker_removed(prod)
    rules = {v.rule for v in check(prod, None)}
    assert "PUSH-003" in rules
    assert not rules & {"GRANT-001", "GRANT-002", "GRANT-003", "WIRE-001", "DRIFT-003"}


def test_literal_member_matching_the_account_is_accepted(prod, check):
    inv3(prod)["member"] = (
        "serviceAccount:nba-push-phase2-to-phase3@nba-props-platform.iam.gserviceaccount.com")
    assert check(prod) == []


def test_literal_target_name_is_resolved(prod, check):
    inv3(prod)["name"] = "nba-phase3-analytics-processors"
    assert check(prod) == []


def test_literal_member_of_default_account_names_the_fix(prod, check):
    compute_member(prod)
    (hit,) = [v for v in check(prod) if v.rule == "SA-001"]
    assert "756957797294-compute@developer" in hit.message
    assert "own identity" in hit.message


def test_swapped_identity_grant_names_the_right_target(prod, check):
    inv3(prod)["member"] = f"serviceAccount:{PUSH2_SA}"
    (hit,) = [v for v in check(prod) if v.rule == "GRANT-001"]
    assert hit.address == INV3_ADDR
    assert "only on ['run.service nba-phase2-raw-processors']" in hit.message


def test_drift_message_names_the_disabled_processor(prod, check):
    expects_disabled_processor(prod)
    (hit,) = [v for v in check(prod) if v.rule == "DRIFT-001"]
    assert "p2_bdl_box_scores is a phase 2 processor, disabled: BDL scrapers are off" in hit.message
    assert "lists 6 processors but the manifest enables 5" in hit.message


def test_source_phase_cannot_redirect_the_expected_set(prod, check):
    env = orch_env(prod)
    env["SOURCE_PHASE"] = "phase_2_raw"
    env["EXPECTED_PROCESSORS"] = json.dumps(["p2_bdl_box_scores"])
    messages = [v.message for v in check(prod) if v.rule == "DRIFT-001"]
    assert any("SOURCE_PHASE 'phase_2_raw' but the manifest gates phase_3_analytics" in m
               for m in messages)
    assert any("missing ['player_game_summary'" in m for m in messages)


def test_phase2_gate_expecting_the_disabled_processor(prod, check):
    # The seed-198 incident: a Phase 2 gate that still expects the disabled BDL processor.
    from infra.model.pipeline import load

    fn = res(prod, "google_cloudfunctions2_function", ORCH)
    fn["name"] = "phase2-gate"
    env = orch_env(prod)
    env["SOURCE_PHASE"] = "phase_2_raw"
    env["EXPECTED_PROCESSORS"] = json.dumps([*load().enabled_processors(2), "p2_bdl_box_scores"])
    messages = [v.message for v in check(prod, None) if v.rule == "DRIFT-001"]
    assert messages == [
        "EXPECTED_PROCESSORS lists 6 processors but the manifest enables 5 in phase 2 "
        "['p2_bigdataball_pbp', 'p2_nbacom_boxscores', 'p2_nbacom_gamebook_pdf', "
        "'p2_odds_game_lines', 'p2_odds_player_props']: p2_bdl_box_scores is disabled (BDL "
        "scrapers are off), so it never completes and the gate waits forever; it is generated "
        "by infra.function_config from the manifest, never edited by hand"]


def test_secret_manager_reference_is_accepted(prod, check):
    orch_env(prod)["API_TOKEN"] = (
        "${data.google_secret_manager_secret_version.alerts__slack_token.secret_data}")
    assert [v for v in check(prod) if v.rule == "SECRET-001"] == []


def test_secret_in_scheduler_body_is_found(prod, check):
    import base64

    body = base64.b64encode(b'{"hook": "https://hooks.slack.com/services/T0/B0/x"}').decode()
    res(prod, "google_cloud_scheduler_job", JOB)["http_target"]["body"] = body
    hits = [v for v in check(prod) if v.rule == "SECRET-001"]
    assert [v.address for v in hits] == [JOB_ADDR]


def test_secret_in_variable_default_and_backend(prod, check):
    prod["variable"] = {"slack_bot_token": {"type": "string", "default": "not-a-real-value"}}
    prod["terraform"]["backend"]["gcs"]["credentials"] = (
        '{"type": "service_account", "private_key": "-----BEGIN PRIVATE KEY-----"}')
    hits = sorted(v.address for v in check(prod) if v.rule == "SECRET-001")
    assert hits == ["terraform.backend", "variable.slack_bot_token"]
