"""AlertChannel: a Slack channel whose token is read from Secret Manager, one ERROR-log
policy per component."""

from __future__ import annotations

from typing import Any

from cdktn import TerraformStack

from infra.synth.constructs.alerting import AlertChannel, AlertChannelProps, error_log_filter
from tests.synth.constructs.support import PROJECT, synthesized
from tests.synth.tfassert import assert_inventory

CHANNEL = "google_monitoring_notification_channel.alerts__slack_channel"


def build(stack: TerraformStack) -> None:
    channel = AlertChannel(stack, "alerts", AlertChannelProps(PROJECT, "#pipeline", "slack-token"))
    channel.alert_on_errors("orch", "nba-orch", 1800)
    channel.alert_on_errors("canary", "nba-canary", 3600)


doc = synthesized(build)


def test_inventory(doc: dict[str, Any]) -> None:
    assert_inventory(doc, counts={
        "ephemeral.google_secret_manager_secret_version": 1,
        "google_monitoring_notification_channel": 1,
        "google_monitoring_alert_policy": 2,
    }, values={
        "ephemeral.google_secret_manager_secret_version.alerts__slack_token": {
            "project": PROJECT, "secret": "slack-token"},
        CHANNEL: {
            "type": "slack", "labels": {"channel_name": "#pipeline"},
            # Read ephemerally into a write-only argument: the token never reaches state.
            "sensitive_labels": {
                "auth_token_wo": "${ephemeral.google_secret_manager_secret_version"
                                 ".alerts__slack_token.secret_data}",
                "auth_token_wo_version": "1"},
        },
        "google_monitoring_alert_policy.alerts__errors_orch": {
            "display_name": "ERROR logs: nba-orch", "combiner": "OR",
            "conditions": [{"display_name": "nba-orch logged an ERROR",
                            "condition_matched_log": {"filter": error_log_filter("nba-orch")}}],
            "notification_channels": [f"${{{CHANNEL}.name}}"],
            "alert_strategy": {"auto_close": "1800s",
                               "notification_rate_limit": {"period": "300s"}},
        },
        "google_monitoring_alert_policy.alerts__errors_canary": {
            "alert_strategy": {"auto_close": "3600s"}},
    })


def test_error_filter_covers_services_and_functions() -> None:
    text = error_log_filter("nba-x")
    assert text.startswith("severity>=ERROR AND ")
    assert 'resource.labels.service_name="nba-x"' in text
    assert 'resource.labels.function_name="nba-x"' in text
