"""Alert policies on ERROR logs, delivered to a Slack channel whose token is in Secret Manager.

The token never reaches Terraform state or plan files: it is read by an *ephemeral* resource
(``ephemeral.google_secret_manager_secret_version``, Terraform >= 1.10) and handed to the
channel's write-only ``sensitive_labels.auth_token_wo`` (Terraform >= 1.11; provider doc
website/docs/r/monitoring_notification_channel.html.markdown: "All arguments marked as
write-only values will not be stored in the state"). A data source would store the value in
state in plain text. Terraform sends a write-only value only when ``auth_token_wo_version``
changes: bump ``EnvConfig.alert_token_version`` after rotating the secret.
"""

from __future__ import annotations

from dataclasses import dataclass

from cdktn_provider_google.ephemeral_google_secret_manager_secret_version import (
    EphemeralGoogleSecretManagerSecretVersion,
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

from infra.synth.constructs.base import StackConstruct, ref


@dataclass(frozen=True)
class AlertChannelProps:
    """``token_secret``: Secret Manager secret id holding the Slack bot token (never a value).

    ``token_version``: the write-only token's version, default 1; bump it to send a rotated
    token (Terraform cannot see a write-only value change).
    """

    project: str
    """The GCP project id the resources are created in."""
    slack_channel: str
    """The Slack channel notified (``#nba-pipeline-alerts``); also the channel's ``channel_name`` label."""
    token_secret: str
    component: str = "alerts"
    """Address prefix: resources are ``<type>.<component>__<part>`` (``-`` becomes ``_``)."""
    token_version: int = 1
    display_name: str | None = None
    """Default: ``Pipeline alerts <slack_channel>``."""


def error_log_filter(cloud_name: str) -> str:
    """ERROR-or-worse logs of a Cloud Run service or a gen2 function (which runs on Run)."""
    return (
        f'severity>=ERROR AND ((resource.type="cloud_run_revision" AND '
        f'resource.labels.service_name="{cloud_name}") OR (resource.type="cloud_function" AND '
        f'resource.labels.function_name="{cloud_name}"))'
    )


class AlertChannel(StackConstruct):
    def __init__(self, scope: Construct, id: str, props: AlertChannelProps) -> None:
        super().__init__(scope, id)
        self.props = props
        token = EphemeralGoogleSecretManagerSecretVersion(
            self, "token", project=props.project, secret=props.token_secret,
        )
        token.override_logical_id(f"{props.component}__slack_token")
        self.channel = MonitoringNotificationChannel(
            self, "channel", project=props.project, type="slack",
            display_name=props.display_name or f"Pipeline alerts {props.slack_channel}",
            labels={"channel_name": props.slack_channel},
            sensitive_labels=MonitoringNotificationChannelSensitiveLabels(
                auth_token_wo=token.secret_data,
                auth_token_wo_version=str(props.token_version),
            ),
        )
        self.channel_name = ref(self.pin(self.channel, props.component, "slack_channel"), "name")
        """The channel's ``name`` as a reference (every policy notifying it follows it)."""

    def alert_on_errors(self, component: str, cloud_name: str, auto_close_seconds: int,
                        display_name: str | None = None) -> None:
        """An ERROR log of ``cloud_name`` opens an incident; it auto-closes when quiet.

        ``display_name``: default ``ERROR logs: <cloud_name>``.
        """
        policy = MonitoringAlertPolicy(
            self, f"errors-{component}", project=self.props.project,
            display_name=display_name or f"ERROR logs: {cloud_name}", combiner="OR",
            conditions=[MonitoringAlertPolicyConditions(
                display_name=f"{cloud_name} logged an ERROR",
                condition_matched_log=MonitoringAlertPolicyConditionsConditionMatchedLog(
                    filter=error_log_filter(cloud_name),
                ),
            )],
            notification_channels=[self.channel_name],
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
        self.pin(policy, self.props.component, f"errors_{component}")
