"""AlertChannel: a Slack channel whose token is read from Secret Manager, one ERROR-log
policy per component."""

from __future__ import annotations

from typing import Any

from cdktn import TerraformStack

from infra.synth.constructs.alerting import AlertChannel, AlertChannelProps, error_log_filter
from tests.synth.constructs.support import INVENTORIES, PROJECT, synthesized
from tests.synth.tfassert import assert_inventory_file


def build(stack: TerraformStack) -> None:
    channel = AlertChannel(stack, "alerts", AlertChannelProps(PROJECT, "#pipeline", "slack-token"))
    channel.alert_on_errors("orch", "nba-orch", 1800)
    channel.alert_on_errors("canary", "nba-canary", 3600)


doc = synthesized(build)


def test_inventory(doc: dict[str, Any]) -> None:
    assert_inventory_file(doc, INVENTORIES / "alerting.yaml")


def test_error_filter_covers_services_and_functions() -> None:
    text = error_log_filter("nba-x")
    assert text.startswith("severity>=ERROR AND ")
    assert 'resource.labels.service_name="nba-x"' in text
    assert 'resource.labels.function_name="nba-x"' in text
