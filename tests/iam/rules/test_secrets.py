"""``iam.rules.secrets``: each rule failing, with its id and address, on a minimal mutation."""

from __future__ import annotations

from tests.iam.rules.support import (
    JOB,
    JOB_ADDR,
    ORCH_ADDR,
    SVC3,
    SVC3_ADDR,
    Stack,
    add,
    case,
    mutation_tests,
    orch_env,
    res,
)


@case("SECRET-001", "google_monitoring_notification_channel.alerts__slack_channel")
def slack_token_literal(s: Stack) -> None:
    res(s, "google_monitoring_notification_channel", "alerts__slack_channel")[
        "sensitive_labels"]["auth_token"] = "xoxb-2222222222-AbCdEfGhIjKlMnOp"


@case("SECRET-001", SVC3_ADDR)
def webhook_env(s: Stack) -> None:
    res(s, "google_cloud_run_v2_service", SVC3)["template"]["containers"][0]["env"].append(
        {"name": "ALERT_WEBHOOK", "value": "https://hooks.slack.com/services/T0/B0/abcdef"})


@case("SECRET-001", ORCH_ADDR)
def api_token_env(s: Stack) -> None:
    orch_env(s)["API_TOKEN"] = "c2VjcmV0LXZhbHVlLXRoYXQtc2hvdWxkLW5vdC1iZS1oZXJl"


@case("SECRET-001", "google_service_account_key.push_key")
def service_account_key(s: Stack) -> None:
    add(s, "google_service_account_key", "push_key", {
        "service_account_id": "${google_service_account.phase3_analytics_sub__push_identity.name}"})


CHANNEL = "google_monitoring_notification_channel.alerts__slack_channel"


@case("SECRET-001", CHANNEL)
@case("SECRET-002", "data.google_secret_manager_secret_version.slack")
def token_through_a_data_source(s: Stack) -> None:
    s.setdefault("data", {})["google_secret_manager_secret_version"] = {
        "slack": {"secret": "pipeline-alerts-slack-token"}}
    labels = res(s, "google_monitoring_notification_channel", "alerts__slack_channel")[
        "sensitive_labels"]
    labels["auth_token_wo"] = "${data.google_secret_manager_secret_version.slack.secret_data}"


test_mutation_is_caught = mutation_tests(__name__)


def test_secret_manager_reference_is_accepted(prod, check):
    orch_env(prod)["API_TOKEN"] = (
        "${ephemeral.google_secret_manager_secret_version.alerts__slack_token.secret_data}")
    assert [v for v in check(prod) if v.rule == "SECRET-001"] == []


def test_the_alert_token_is_write_only_and_read_ephemerally(prod):
    labels = res(prod, "google_monitoring_notification_channel", "alerts__slack_channel")[
        "sensitive_labels"]
    assert labels == {
        "auth_token_wo": "${ephemeral.google_secret_manager_secret_version.alerts__slack_token"
                         ".secret_data}",
        "auth_token_wo_version": "1"}
    assert "google_secret_manager_secret_version" not in prod.get("data", {})


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
