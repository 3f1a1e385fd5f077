"""Alerts that never depend on the component that broke, each derived from what the stack declares.

ERROR-log policies (``AlertChannel.alert_on_errors``) hear only a component that runs and
logs. A consumer that never runs writes nothing, so the stack also watches what *other*
components report about it, every policy notifying the stack's one Slack channel
(``AlertChannel``) and closing its incidents by itself (``DEFAULT_AUTO_CLOSE_SECONDS``):

* **Backlog age** of every delivery subscription (a push edge's subscription; the
  subscription Eventarc creates for a function's Pub/Sub trigger, found by its name prefix
  ``eventarc-<region>-<function>-``, since the stack does not declare it), on Pub/Sub's
  ``subscription/oldest_unacked_message_age``;
* **any message** in a push edge's dead-letter subscription
  (``subscription/num_undelivered_messages`` > 0);
* **failed runs** of every Cloud Scheduler job, on Cloud Scheduler's own attempt logs;
* **the canary's heartbeat** missing for two runs of its job: a log-based counter of the
  canary's summary line and a metric-absence condition on it.

The backlog threshold is one formula over the delivery's deadline, backoff and attempts
(``infra.synth.constructs.backlog``); every alert must be loud within
``DETECTION_BUDGET_SECONDS``, or the construct raises ``ValueError`` naming what it watches.

The heartbeat
-------------

The canary logs one INFO summary line per run through ``functions/_shared/logs.py``
(``{"severity": "INFO", "message": "pipeline canary: healthy" | "pipeline canary: N
finding(s)", ...}``, ``functions/pipeline_canary/health.py``), which Cloud Logging parses into
``jsonPayload.message``; a gen2 function logs as its Cloud Run service
(``resource.type="cloud_run_revision"``, ``resource.labels.service_name`` = the function's
name). A log-based counter (``google_logging_metric``) counts those lines; an absence
condition fires when none arrived for ``HEARTBEAT_RUNS`` intervals of the job's schedule (the
longest gap between two runs of its cron, ``schedule_interval_seconds``: 15 minutes for
``*/15 * * * *``, so 30 minutes), and also must fit the 30-minute budget. The series are
summed across revisions, so a deploy (a new revision, a new time series) is not an absence.
"""

from __future__ import annotations

import bisect
import datetime as dt
import re
from dataclasses import dataclass
from zoneinfo import ZoneInfo

from cdktn_provider_google.logging_metric import LoggingMetric, LoggingMetricMetricDescriptor
from cdktn_provider_google.monitoring_alert_policy import (
    MonitoringAlertPolicy,
    MonitoringAlertPolicyAlertStrategy,
    MonitoringAlertPolicyAlertStrategyNotificationRateLimit,
    MonitoringAlertPolicyConditions,
    MonitoringAlertPolicyConditionsConditionAbsent,
    MonitoringAlertPolicyConditionsConditionAbsentAggregations,
    MonitoringAlertPolicyConditionsConditionMatchedLog,
    MonitoringAlertPolicyConditionsConditionThreshold,
    MonitoringAlertPolicyConditionsConditionThresholdAggregations,
    MonitoringAlertPolicyDocumentation,
)
from constructs import Construct
from croniter import croniter

from infra.model.components import DEFAULT_AUTO_CLOSE_SECONDS
from infra.model.limits import fire_times
from infra.synth.constructs.alerting import AlertChannel
from infra.synth.constructs.backlog import (
    BACKLOG_DURATION_SECONDS,
    DETECTION_BUDGET_SECONDS,
    Delivery,
    checked_backlog_threshold,
    retry_budget,
)
from infra.synth.constructs.base import StackConstruct, ref
from infra.synth.constructs.function import CloudFunction
from infra.synth.constructs.push_edge import PushEdge
from infra.synth.constructs.scheduled_job import ScheduledJob

ALIGNMENT_SECONDS = 60
"""Alignment period of every metric condition: one Pub/Sub sample."""
LOG_NOTIFICATION_PERIOD_SECONDS = 300
"""A log-match condition notifies at most once per period (the API requires a rate limit)."""
HEARTBEAT_RUNS = 2
"""The canary's heartbeat is missing after this many runs of its job without a summary line."""
SCHEDULE_WINDOW_DAYS = 32
"""The longest gap of a cron is searched over this many days of runs (a monthly cron's too)."""
SCHEDULE_WINDOW_START = dt.datetime(2026, 1, 5)
"""A fixed Monday, so the derived interval (and the stack) is the same on every synth."""

OLDEST_UNACKED_AGE = "pubsub.googleapis.com/subscription/oldest_unacked_message_age"
UNDELIVERED_MESSAGES = "pubsub.googleapis.com/subscription/num_undelivered_messages"
USER_LOG_METRIC = "logging.googleapis.com/user/"
SCHEDULER_ATTEMPT_FINISHED = "type.googleapis.com/google.cloud.scheduler.logging.AttemptFinished"
"""``jsonPayload`` type of the entry Cloud Scheduler logs on the job (``cloud_scheduler_job``)
when an attempt ends; a failed one carries a non-OK ``jsonPayload.status`` (``NOT_FOUND``,
``PERMISSION_DENIED``, ...), as in the entry quoted in
https://github.com/GoogleCloudPlatform/gcr-cleaner/issues/121, and is logged at ERROR
(Cloud Scheduler's "View logs" page, linked from
https://cloud.google.com/scheduler/docs/audit-logging). The failure filter matches either sign
(``scheduler_failure_filter``)."""
CANARY_SUMMARY_PREFIX = "pipeline canary: "
"""How every run's summary line of ``functions/pipeline_canary/health.py`` starts."""

def eventarc_subscription_prefix(region: str, function: str) -> str:
    """The name prefix of the subscription Eventarc creates for ``function``'s Pub/Sub trigger:
    ``eventarc-<region>-<trigger>-sub-<n>``, the trigger named ``<function>-<n>``
    (``infra.model.provider.resources.EVENTARC_SUBSCRIPTION``)."""
    return f"eventarc-{region}-{function}-"


def subscription_filter(metric: str, subscription: str) -> str:
    """A Monitoring filter on ``metric`` of exactly one subscription."""
    return (f'metric.type="{metric}" AND resource.type="pubsub_subscription" AND '
            f'resource.label.subscription_id="{subscription}"')


def subscription_prefix_filter(metric: str, prefix: str) -> str:
    """A Monitoring filter on ``metric`` of every subscription whose name starts with
    ``prefix`` (https://cloud.google.com/monitoring/api/v3/filters: ``starts_with``)."""
    return (f'metric.type="{metric}" AND resource.type="pubsub_subscription" AND '
            f'resource.label.subscription_id=starts_with("{prefix}")')


def scheduler_failure_filter(job: str, region: str) -> str:
    """Cloud Logging query for the failed attempts of Cloud Scheduler job ``job``: logged at
    ERROR, or an ``AttemptFinished`` entry whose ``status`` is set and not ``OK``, so a failure
    is caught whichever of the two the entry carries."""
    return (f'resource.type="cloud_scheduler_job" AND resource.labels.job_id="{job}" AND '
            f'resource.labels.location="{region}" AND (severity>=ERROR OR '
            f'(jsonPayload."@type"="{SCHEDULER_ATTEMPT_FINISHED}" AND jsonPayload.status:* AND '
            'NOT jsonPayload.status="OK"))')


_PLAIN_PREFIX = re.compile(r"^[A-Za-z0-9 _:,-]+$")


def heartbeat_log_filter(service: str, prefix: str) -> str:
    """Cloud Logging query for the summary line (``jsonPayload.message`` starting with
    ``prefix``, a regular expression anchored at its start) of the gen2 function whose Cloud
    Run service is ``service``. ``ValueError`` naming the prefix when it holds characters a
    regular expression or the query's string would read specially."""
    if not _PLAIN_PREFIX.match(prefix):
        raise ValueError(f"heartbeat prefix {prefix!r}: use letters, digits, spaces and _:,- "
                         "only (it is matched as a regular expression)")
    return (f'resource.type="cloud_run_revision" AND resource.labels.service_name="{service}" '
            f'AND jsonPayload.message=~"^{prefix}"')


def schedule_interval_seconds(schedule: str, time_zone: str) -> int:
    """The longest gap between two consecutive runs of cron ``schedule`` in ``time_zone``, over
    ``SCHEDULE_WINDOW_DAYS`` from a fixed date (``*/15 * * * *`` → 900).

    The runs are ``infra.model.limits.fire_times`` of the window's year (cached: the manifest's
    validation has already computed the canary job's), not thousands of croniter steps.
    """
    if not croniter.is_valid(schedule):
        raise ValueError(f"schedule {schedule!r} is not a cron expression")
    start = SCHEDULE_WINDOW_START.replace(tzinfo=ZoneInfo(time_zone))
    end = (start + dt.timedelta(days=SCHEDULE_WINDOW_DAYS)).timestamp()
    fires = fire_times(schedule, time_zone, start.year)
    longest = 0
    # From the first run after the start, each run before the end and the one after it.
    for i in range(bisect.bisect_right(fires, start.timestamp()), len(fires) - 1):
        if fires[i] >= end:
            break
        longest = max(longest, int(fires[i + 1] - fires[i]))
    return longest


def heartbeat_absence_seconds(job: str, schedule: str, time_zone: str) -> int:
    """``HEARTBEAT_RUNS`` intervals of the job's schedule; ``ValueError`` naming the job when
    that is not a whole number of minutes (the API's unit) or exceeds the 30-minute budget."""
    absence = HEARTBEAT_RUNS * schedule_interval_seconds(schedule, time_zone)
    if absence % 60:
        raise ValueError(f"job {job}: {HEARTBEAT_RUNS} runs of {schedule!r} take {absence}s, "
                         "not a whole number of minutes as a metric-absence duration must be")
    if absence > DETECTION_BUDGET_SECONDS:
        raise ValueError(f"job {job}: {HEARTBEAT_RUNS} runs of {schedule!r} take {absence}s, "
                         f"beyond the {DETECTION_BUDGET_SECONDS}s budget; run the canary at "
                         f"least every {DETECTION_BUDGET_SECONDS // HEARTBEAT_RUNS // 60} "
                         "minutes")
    return absence


@dataclass(frozen=True)
class MonitoringProps:
    """``channel``: the stack's alert channel, the one every policy notifies.

    ``auto_close_seconds``: how long an incident stays open once quiet; default the
    manifest's ``DEFAULT_AUTO_CLOSE_SECONDS``.
    """

    project: str
    """The project every policy and the heartbeat metric are created in, also named in the
    runbooks' ``gcloud`` commands."""
    channel: AlertChannel
    auto_close_seconds: int = DEFAULT_AUTO_CLOSE_SECONDS


@dataclass(frozen=True)
class Watch:
    """One alert policy the construct declared: what it watches and its derived threshold."""

    kind: str
    """``backlog``, ``dead_letters``, ``trigger_backlog``, ``job_failures`` or ``heartbeat``."""
    watched: str
    """The subscription, subscription prefix, job or function it watches (cloud names)."""
    address: str
    """Terraform address of the policy (``google_monitoring_alert_policy.<component>__<part>``)."""
    display_name: str
    """The policy's title (``Backlog age: <subscription>``)."""
    threshold: str
    """The condition as a reader checks it (``age > 750s for 120s``)."""


class PipelineMonitoring(StackConstruct):
    """The alert policies (and the heartbeat's log-based metric) watching a stack's delivery
    paths from the outside; one method per kind of silence, each returning what it declared."""

    def __init__(self, scope: Construct, id: str, props: MonitoringProps) -> None:
        super().__init__(scope, id)
        if props.auto_close_seconds < 1:
            raise ValueError(f"auto_close_seconds {props.auto_close_seconds!r} must be a "
                             "positive number of seconds")
        self.props = props
        self.watches: list[Watch] = []

    def _policy(self, component: str, part: str, kind: str, watched: str, display_name: str,
                condition: MonitoringAlertPolicyConditions, threshold: str, runbook: str,
                rate_limited: bool = False) -> Watch:
        policy = MonitoringAlertPolicy(
            self, f"{component}-{part}", project=self.props.project,
            display_name=display_name, combiner="OR", conditions=[condition],
            notification_channels=[self.props.channel.channel_name],
            alert_strategy=MonitoringAlertPolicyAlertStrategy(
                auto_close=f"{self.props.auto_close_seconds}s",
                notification_rate_limit=MonitoringAlertPolicyAlertStrategyNotificationRateLimit(
                    period=f"{LOG_NOTIFICATION_PERIOD_SECONDS}s") if rate_limited else None,
            ),
            documentation=MonitoringAlertPolicyDocumentation(
                content=f"{runbook} Runbook: docs/operating.md, 'When an alert fires'.",
                mime_type="text/markdown",
            ),
        )
        watch = Watch(kind, watched, self.pin(policy, component, part), display_name,
                      threshold)
        self.watches.append(watch)
        return watch

    def _backlog_condition(self, title: str, filter: str, threshold: int,
                           reducer: str | None = None) -> MonitoringAlertPolicyConditions:
        return MonitoringAlertPolicyConditions(
            display_name=title,
            condition_threshold=MonitoringAlertPolicyConditionsConditionThreshold(
                filter=filter, comparison="COMPARISON_GT", threshold_value=threshold,
                duration=f"{BACKLOG_DURATION_SECONDS}s",
                aggregations=[MonitoringAlertPolicyConditionsConditionThresholdAggregations(
                    alignment_period=f"{ALIGNMENT_SECONDS}s", per_series_aligner="ALIGN_MAX",
                    cross_series_reducer=reducer,
                    group_by_fields=["resource.label.subscription_id"] if reducer else None,
                )],
            ),
        )

    def alert_on_backlog(self, edge: PushEdge) -> Watch:
        """The oldest unacknowledged message of ``edge``'s subscription is older than its
        delivery can take short of dead-lettering (``backlog_threshold``)."""
        d = Delivery.of_push_edge(edge)
        threshold = checked_backlog_threshold(d)
        sub = edge.props.name
        return self._policy(
            edge.props.component, "backlog_age_alert", "backlog", sub, f"Backlog age: {sub}",
            self._backlog_condition(
                f"oldest unacked message of {sub} older than {threshold}s",
                subscription_filter(OLDEST_UNACKED_AGE, sub), threshold),
            f"age > {threshold}s for {BACKLOG_DURATION_SECONDS}s",
            f"A message on push subscription `{sub}` has waited more than {threshold}s (one "
            f"{d.attempt_deadline_seconds}s attempt plus the {retry_budget(d)}s of backoff "
            "before dead-lettering): its deliveries hang or time out, or Pub/Sub is not "
            f"pushing. First: `gcloud pubsub subscriptions describe {sub} "
            f"--project={self.props.project}`, then the target's request logs.")

    def alert_on_dead_letters(self, edge: PushEdge) -> Watch:
        """Any message waiting in ``edge``'s dead-letter subscription: the edge's pushes were
        refused ``max_delivery_attempts`` times (a stripped invoker, a crashing target)."""
        dlq = edge.props.dead_letter_subscription
        condition = MonitoringAlertPolicyConditions(
            display_name=f"messages waiting in {dlq}",
            condition_threshold=MonitoringAlertPolicyConditionsConditionThreshold(
                filter=subscription_filter(UNDELIVERED_MESSAGES, dlq),
                comparison="COMPARISON_GT", threshold_value=0, duration="0s",
                aggregations=[MonitoringAlertPolicyConditionsConditionThresholdAggregations(
                    alignment_period=f"{ALIGNMENT_SECONDS}s", per_series_aligner="ALIGN_MAX",
                )],
            ),
        )
        return self._policy(
            edge.props.component, "dead_letter_alert", "dead_letters", dlq,
            f"Dead letters: {dlq}", condition, "messages > 0",
            f"`{edge.props.name}` gave up on a message after {edge.props.max_delivery_attempts} "
            f"refused pushes and dead-lettered it to `{dlq}` (kept 7 days, never consumed by "
            "the canary). First: `gcloud pubsub subscriptions pull "
            f"{dlq} --project={self.props.project} --limit=5` (no --auto-ack: it peeks), then "
            "the target's IAM and logs.")

    def alert_on_trigger_backlog(self, fn: CloudFunction) -> Watch:
        """The oldest unacknowledged message of the subscription Eventarc created for ``fn``'s
        Pub/Sub trigger (not in the stack: matched by name prefix) is older than one run at
        the function's timeout plus Eventarc's longest backoff."""
        d = Delivery.of_function_trigger(fn)
        threshold = checked_backlog_threshold(d)
        prefix = eventarc_subscription_prefix(fn.props.region, fn.props.name)
        return self._policy(
            fn.props.component, "trigger_backlog_alert", "trigger_backlog", f"{prefix}*",
            f"Backlog age: {fn.props.name} trigger",
            self._backlog_condition(
                f"oldest unacked message of {prefix}* older than {threshold}s",
                subscription_prefix_filter(OLDEST_UNACKED_AGE, prefix), threshold,
                reducer="REDUCE_MAX"),
            f"age > {threshold}s for {BACKLOG_DURATION_SECONDS}s",
            f"An event for function `{fn.props.name}` has waited more than {threshold}s (one "
            f"{d.attempt_deadline_seconds}s run plus Eventarc's {retry_budget(d)}s longest "
            "backoff): the function fails (a crash at startup, a failed health check) or is "
            "not invoked, and nothing dead-letters. First: `gcloud functions describe "
            f"{fn.props.name} --region={fn.props.region} --project={self.props.project}` "
            "(state, last deploy), then its logs.")

    def alert_on_job_failures(self, job: ScheduledJob) -> Watch:
        """A failed attempt of ``job`` in Cloud Scheduler's own logs (403, 5xx, deadline)."""
        name, region = job.props.name, job.props.region
        condition = MonitoringAlertPolicyConditions(
            display_name=f"{name} attempt failed",
            condition_matched_log=MonitoringAlertPolicyConditionsConditionMatchedLog(
                filter=scheduler_failure_filter(name, region)),
        )
        return self._policy(
            job.props.component, "failure_alert", "job_failures", name,
            f"Scheduler job failed: {name}", condition, "any failed attempt",
            f"Cloud Scheduler logged a failed attempt of job `{name}` (its status says why: "
            "PERMISSION_DENIED, UNAUTHENTICATED, NOT_FOUND, DEADLINE_EXCEEDED, INTERNAL...). "
            f"First: `gcloud scheduler jobs describe {name} --location={region} "
            f"--project={self.props.project}` (status, last attempt), then its logs.",
            rate_limited=True)

    def alert_on_missing_heartbeat(self, fn: CloudFunction, job: ScheduledJob,
                                   summary_prefix: str = CANARY_SUMMARY_PREFIX) -> Watch:
        """No summary line of ``fn`` (called by ``job``) for ``HEARTBEAT_RUNS`` runs of the
        job: the canary is not running, whatever the reason (job paused or failing, function
        broken, logs lost). Declares the log-based counter the condition reads."""
        if job.props.target is not fn:
            raise ValueError(f"job {job.props.name} does not call function {fn.props.name}; "
                             "the heartbeat interval comes from the job that runs it")
        absence = heartbeat_absence_seconds(job.props.name, job.props.schedule,
                                            job.props.time_zone)
        metric = LoggingMetric(
            self, f"{fn.props.component}-heartbeat-metric", project=self.props.project,
            name=f"{fn.props.name}-heartbeat",
            description=f"Summary lines of {fn.props.name}, one per run ({summary_prefix!r}...)",
            filter=heartbeat_log_filter(fn.props.name, summary_prefix),
            metric_descriptor=LoggingMetricMetricDescriptor(metric_kind="DELTA",
                                                            value_type="INT64"),
        )
        metric_address = self.pin(metric, fn.props.component, "heartbeat_metric")
        condition = MonitoringAlertPolicyConditions(
            display_name=f"no summary line of {fn.props.name} for {absence}s",
            condition_absent=MonitoringAlertPolicyConditionsConditionAbsent(
                # The metric's name attribute: the policy waits for the metric to exist.
                filter=(f'metric.type="{USER_LOG_METRIC}{ref(metric_address, "name")}" AND '
                        'resource.type="cloud_run_revision"'),
                duration=f"{absence}s",
                aggregations=[MonitoringAlertPolicyConditionsConditionAbsentAggregations(
                    alignment_period=f"{ALIGNMENT_SECONDS}s", per_series_aligner="ALIGN_SUM",
                    cross_series_reducer="REDUCE_SUM",
                )],
            ),
        )
        return self._policy(
            fn.props.component, "heartbeat_alert", "heartbeat", fn.props.name,
            f"Heartbeat missing: {fn.props.name}", condition, f"absent for {absence}s",
            f"`{fn.props.name}` logged no summary line for {absence}s ({HEARTBEAT_RUNS} runs of "
            f"`{job.props.name}`, `{job.props.schedule}`): the canary is not running, so none "
            "of its checks are. First: `gcloud scheduler jobs describe "
            f"{job.props.name} --location={job.props.region} --project={self.props.project}` "
            "(state ENABLED? last attempt status?), then the function's logs.")
