"""Alert policies on ERROR logs, delivered to a Slack channel whose token is in Secret Manager."""

from __future__ import annotations

from dataclasses import dataclass

from cdktn_provider_google.data_google_secret_manager_secret_version import (
    DataGoogleSecretManagerSecretVersion,
)
from cdktn_provider_google.monitoring_alert_policy import (
    MonitoringAlertPolicy,
    MonitoringAlertPolicyAlertStrategy,
    MonitoringAlertPolicyAlertStrategyNotificationRateLimit,
    MonitoringAlertPolicyConditions,
    MonitoringAlertPolicyConditionsConditionMatchedLog,
    MonitoringAlertPolicyDocumentation,
)
from cdktn_provider_google.monitoring_notification_channel import (
    MonitoringNotificationChannel,
    MonitoringNotificationChannelSensitiveLabels,
)
from constructs import Construct

from infra.synth.constructs.base import pin_address


@dataclass(frozen=True)
class AlertChannelProps:
    """``token_secret``: Secret Manager secret id holding the Slack bot token (never a value)."""

    project: str
    slack_channel: str
    token_secret: str
    component: str = "alerts"


def error_log_filter(cloud_name: str) -> str:
    """ERROR-or-worse logs of a Cloud Run service or a gen2 function (which runs on Run)."""
    return (
        f'severity>=ERROR AND ((resource.type="cloud_run_revision" AND '
        f'resource.labels.service_name="{cloud_name}") OR (resource.type="cloud_function" AND '
        f'resource.labels.function_name="{cloud_name}"))'
    )


class AlertChannel(Construct):
    def __init__(self, scope: Construct, id: str, props: AlertChannelProps) -> None:
        super().__init__(scope, id)
        self.props = props
        token = DataGoogleSecretManagerSecretVersion(
            self, "token", project=props.project, secret=props.token_secret,
        )
        token.override_logical_id(f"{props.component}__slack_token")
        self.channel = MonitoringNotificationChannel(
            self, "channel", project=props.project, type="slack",
            display_name=f"Pipeline alerts {props.slack_channel}",
            labels={"channel_name": props.slack_channel},
            sensitive_labels=MonitoringNotificationChannelSensitiveLabels(
                auth_token=token.secret_data,
            ),
        )
        pin_address(self.channel, props.component, "slack_channel")

    def alert_on_errors(self, component: str, cloud_name: str, auto_close_seconds: int) -> None:
        """An ERROR log of ``cloud_name`` opens an incident; it auto-closes when quiet."""
        policy = MonitoringAlertPolicy(
            self, f"errors-{component}", project=self.props.project,
            display_name=f"ERROR logs: {cloud_name}", combiner="OR",
            conditions=[MonitoringAlertPolicyConditions(
                display_name=f"{cloud_name} logged an ERROR",
                condition_matched_log=MonitoringAlertPolicyConditionsConditionMatchedLog(
                    filter=error_log_filter(cloud_name),
                ),
            )],
            notification_channels=[self.channel.name],
            alert_strategy=MonitoringAlertPolicyAlertStrategy(
                auto_close=f"{auto_close_seconds}s",
                notification_rate_limit=MonitoringAlertPolicyAlertStrategyNotificationRateLimit(
                    period="300s",
                ),
            ),
            documentation=MonitoringAlertPolicyDocumentation(
                content=f"{cloud_name} logged an ERROR. Open its logs, then see README "
                        "'Operating the stacks'.",
                mime_type="text/markdown",
            ),
        )
        pin_address(policy, self.props.component, f"errors_{component}")
