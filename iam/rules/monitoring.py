"""Monitoring: every delivery path, dead letter, scheduled job and the canary's heartbeat is
watched by an alert condition that notifies a channel, so a component that never runs is
still heard: by what the platform reports about it, not by its own logs.

The rules read the alert policies as Cloud Monitoring and Cloud Logging read them: a metric
condition's ``metric.type`` and ``resource.label(s).subscription_id`` (exact, or
``starts_with("…")`` for the subscription Eventarc creates for a function's trigger, which
the stack cannot declare: ``eventarc-<region>-<function>-<n>-sub-<m>``), a log condition's
``resource.type`` and ``resource.labels.job_id``. Only conditions of policies that notify a
channel of the stack (and are not disabled) count.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from iam.rules.engine import Context, Finding, rule
from iam.rules.helpers import blocks, manifest_function, push_subscriptions
from infra.stackjson.graph import StackGraph
from infra.stackjson.stack import Resource, first

OLDEST_UNACKED = "pubsub.googleapis.com/subscription/oldest_unacked_message_age"
UNDELIVERED = "pubsub.googleapis.com/subscription/num_undelivered_messages"
USER_LOG_METRIC = "logging.googleapis.com/user/"
PUBSUB_EVENT = "google.cloud.pubsub.topic.v1.messagePublished"
MONITORING_DOC = "https://cloud.google.com/pubsub/docs/monitoring"
FIX_HINT = " (infra.synth.constructs.monitoring; the stack calls it for every {what})"

_METRIC = re.compile(r'\bmetric\.type\s*=\s*"([^"]+)"')
_SUB_EXACT = re.compile(r'\bresource\.labels?\.subscription_id\s*=\s*"([^"]+)"')
_SUB_PREFIX = re.compile(
    r'\bresource\.labels?\.subscription_id\s*=\s*starts_with\(\s*"([^"]+)"\s*\)')
_RESOURCE_TYPE = re.compile(r'\bresource\.type\s*=\s*"([^"]+)"')
_JOB_ID = re.compile(r'\bresource\.labels?\.job_id\s*=\s*"([^"]+)"')
_SERVICE = re.compile(r'\bresource\.labels?\.(?:service_name|function_name)\s*=\s*"([^"]+)"')


@dataclass(frozen=True)
class Condition:
    """One condition of a policy that notifies a channel, its filter's references resolved."""

    policy: str
    """The Terraform address of its ``google_monitoring_alert_policy``."""
    kind: str
    """``threshold``, ``absent`` or ``matched_log``."""
    filter: str
    """The condition's filter with the stack's references interpolated, so the names in it are
    cloud names (``resource.label.subscription_id="nba-phase2-raw-sub"``); empty if unset."""
    comparison: str
    """Its ``comparison`` (``COMPARISON_GT``); empty when the block has none (absent, log)."""
    threshold: float | None
    """Its ``threshold_value``; ``None`` when the block has no number there (absent, log)."""

    @property
    def metric(self) -> str | None:
        m = _METRIC.search(self.filter)
        return m.group(1) if m else None

    def subscriptions(self) -> tuple[str, ...]:
        return tuple(_SUB_EXACT.findall(self.filter))

    def prefixes(self) -> tuple[str, ...]:
        return tuple(_SUB_PREFIX.findall(self.filter))


def silent_reason(g: StackGraph, body: Mapping[str, Any]) -> str | None:
    """Why an alert policy notifies no one; ``None`` when it notifies a channel of the stack."""
    if body.get("enabled") is False:
        return "it is disabled (enabled = false)"
    channels = body.get("notification_channels")
    if not isinstance(channels, list) or not channels:
        return "it has no notification_channels"
    for ch in channels:
        address = g.stack.ref_address(ch)
        if address is not None and address.startswith("google_monitoring_notification_channel.") \
                and g.exists(address):
            return None
        if isinstance(ch, str) and re.fullmatch(r"projects/[^/]+/notificationChannels/[^/]+", ch):
            return None
    return (f"its notification_channels {channels!r} name no "
            "google_monitoring_notification_channel of this stack")


def notifying_conditions(g: StackGraph) -> list[Condition]:
    """Every condition of every alert policy that notifies a channel of the stack."""
    out: list[Condition] = []
    for policy in g.resources("google_monitoring_alert_policy"):
        if silent_reason(g, policy.body) is not None:
            continue
        for cond in blocks(policy.body.get("conditions")):
            for key, kind in (("condition_threshold", "threshold"),
                              ("condition_absent", "absent"),
                              ("condition_matched_log", "matched_log")):
                block = first(cond.get(key))
                if not block:
                    continue
                value = block.get("threshold_value")
                out.append(Condition(
                    policy.address, kind, str(g.stack.interpolate(block.get("filter") or "")),
                    str(block.get("comparison") or ""),
                    float(value) if isinstance(value, int | float) else None))
    return out


def _backlog_conditions(conds: list[Condition]) -> list[Condition]:
    return [c for c in conds if c.kind == "threshold" and c.metric == OLDEST_UNACKED
            and c.comparison == "COMPARISON_GT"]


@rule("MON-001", "Every push subscription's backlog age is alerted",
      see=MONITORING_DOC,
      fix="PipelineMonitoring.alert_on_backlog(edge)" + FIX_HINT.format(what="PushEdge"))
def push_backlog(ctx: Context) -> Iterator[Finding]:
    """A push target that hangs or times out leaves messages unacknowledged for up to the
    dead-letter limit times the ack deadline before anything is dead-lettered, and writes no
    error of its own while it does. Only the subscription's oldest_unacked_message_age,
    reported by Pub/Sub, shows it; each push subscription needs a threshold condition on it
    that notifies a channel."""
    g = ctx.graph
    covered = {s for c in _backlog_conditions(notifying_conditions(g)) for s in c.subscriptions()}
    for sub, _ in push_subscriptions(g):
        name = g.cloud_name(sub)
        if name not in covered:
            yield Finding(sub.address, f"no notifying alert on the backlog age ({OLDEST_UNACKED}) "
                          f"of push subscription {name!r}: deliveries that hang or time out "
                          "stay silent until dead-lettering, an hour later; add the backlog "
                          "alert")


def _eventarc_prefix(fn: Resource) -> str | None:
    location = fn.body.get("location")
    name = fn.body.get("name")
    if not isinstance(location, str) or not isinstance(name, str) or "${" in location + name:
        return None
    return f"eventarc-{location}-{name}-"


def _pubsub_triggered(fn: Resource) -> bool:
    trigger = first(fn.body.get("event_trigger"))
    return bool(trigger) and (trigger.get("event_type") == PUBSUB_EVENT
                              or bool(trigger.get("pubsub_topic")))


@rule("MON-002", "Every function's Pub/Sub trigger backlog age is alerted",
      see="https://cloud.google.com/functions/docs/writing/retries",
      fix="PipelineMonitoring.alert_on_trigger_backlog(function)"
      + FIX_HINT.format(what="Pub/Sub-triggered CloudFunction"))
def trigger_backlog(ctx: Context) -> Iterator[Finding]:
    """Eventarc delivers a function's Pub/Sub events through a push subscription it creates
    itself (eventarc-<region>-<trigger>-sub-<n>), with no dead-letter topic: a function that
    fails to start is retried for days and logs nothing the function's own alerts see. The
    subscription is not in the stack, so its backlog age is alerted by name prefix
    (starts_with("eventarc-<region>-<function>-")), notifying a channel."""
    g = ctx.graph
    conds = _backlog_conditions(notifying_conditions(g))
    for fn in g.resources("google_cloudfunctions2_function"):
        if not _pubsub_triggered(fn):
            continue
        prefix = _eventarc_prefix(fn)
        if prefix is None:
            yield Finding(fn.address, "location or name is not a literal, so the Eventarc "
                          "subscription of its trigger cannot be named; declare both literally")
            continue
        exact = re.compile(re.escape(prefix) + r"\d+-sub-\d+")
        if not any(prefix.startswith(p) for c in conds for p in c.prefixes()) and not any(
                exact.fullmatch(s) for c in conds for s in c.subscriptions()):
            yield Finding(fn.address, f"no notifying alert on the backlog age of its Pub/Sub "
                          f"trigger's subscription (resource.label.subscription_id = "
                          f'starts_with("{prefix}")): a function that never starts is retried '
                          "silently for days; add the trigger backlog alert")


def dead_letter_subscriptions(g: StackGraph) -> list[Resource]:
    """Every subscription on a topic some push subscription dead-letters to."""
    dlq_topics = set()
    for sub, _ in push_subscriptions(g):
        policy = first(sub.body.get("dead_letter_policy"))
        topic = g.topic(policy.get("dead_letter_topic")) if policy else None
        if topic is not None:
            dlq_topics.add(topic)
    return [s for s in g.resources("google_pubsub_subscription")
            if g.topic(s.body.get("topic")) in dlq_topics]


@rule("MON-003", "Any message in a dead-letter subscription is alerted",
      see="https://cloud.google.com/pubsub/docs/handling-failures",
      fix="PipelineMonitoring.alert_on_dead_letters(edge)" + FIX_HINT.format(what="PushEdge"))
def dead_letters_alerted(ctx: Context) -> Iterator[Finding]:
    """A dead-lettered message is one the target refused on every attempt (a stripped invoker
    binding, a crashing target); Pub/Sub keeps it in the dead-letter subscription and tells
    no one. Its num_undelivered_messages above zero must notify a channel, whatever else is
    watching."""
    g = ctx.graph
    conds = [c for c in notifying_conditions(g) if c.kind == "threshold"
             and c.metric == UNDELIVERED and c.comparison == "COMPARISON_GT"]
    for dlq in dead_letter_subscriptions(g):
        name = g.cloud_name(dlq)
        mine = [c for c in conds if name in c.subscriptions()]
        if any(c.threshold is not None and c.threshold < 1 for c in mine):
            continue
        if mine:
            yield Finding(dlq.address, f"dead-letter subscription {name!r} is alerted only above "
                          f"{min(c.threshold or 0 for c in mine):g} messages; alert on any "
                          "(num_undelivered_messages > 0)")
        else:
            yield Finding(dlq.address, f"no notifying alert on {UNDELIVERED} > 0 of dead-letter "
                          f"subscription {name!r}: refused pushes pile up there unseen; add "
                          "the dead-letter alert")


@rule("MON-004", "Every scheduler job's failed runs are alerted",
      see="https://cloud.google.com/logging/docs/alerting/log-based-alerts",
      fix="PipelineMonitoring.alert_on_job_failures(job)" + FIX_HINT.format(what="ScheduledJob"))
def job_failures(ctx: Context) -> Iterator[Finding]:
    """Cloud Scheduler records a failed attempt (403, 5xx, deadline exceeded) in its own log
    entry on the job, not in the target's logs: a target that refuses the call, or is never
    reached, logs nothing. Each job needs a log-match condition on its cloud_scheduler_job
    entries that notifies a channel."""
    g = ctx.graph
    covered = {job for c in notifying_conditions(g) if c.kind == "matched_log"
               and "cloud_scheduler_job" in _RESOURCE_TYPE.findall(c.filter)
               for job in _JOB_ID.findall(c.filter)}
    for job in g.resources("google_cloud_scheduler_job"):
        name = g.cloud_name(job)
        if name not in covered:
            yield Finding(job.address, f"no notifying log alert on failed attempts of scheduler "
                          f'job {name!r} (resource.type="cloud_scheduler_job" AND '
                          f'resource.labels.job_id="{name}"); add the job failure alert')


@rule("MON-005", "The canary's heartbeat is alerted when it goes missing",
      see="https://cloud.google.com/logging/docs/logs-based-metrics",
      fix="PipelineMonitoring.alert_on_missing_heartbeat(canary, job)"
      + FIX_HINT.format(what="canary of the manifest"))
def canary_heartbeat(ctx: Context) -> Iterator[Finding]:
    """A check that does not run reports nothing, healthy or not: the canary's own findings
    stop with it. A log-based counter of its per-run summary line, with a metric-absence
    condition notifying a channel, makes a canary that stopped running loud."""
    g = ctx.graph
    conds = [c for c in notifying_conditions(g) if c.kind == "absent"]
    for fn in g.resources("google_cloudfunctions2_function"):
        mfn = manifest_function(ctx.manifest, g.cloud_name(fn))
        if mfn is None or mfn.role != "canary":
            continue
        name = g.cloud_name(fn)
        counters = [m for m in g.resources("google_logging_metric")
                    if name in _SERVICE.findall(str(m.body.get("filter") or ""))]
        watched = {f"{USER_LOG_METRIC}{g.cloud_name(m)}" for m in counters}
        if not counters:
            yield Finding(fn.address, f"no google_logging_metric counts the logs of canary "
                          f"{name!r}, so nothing can tell that it stopped running; add its "
                          "heartbeat")
        elif not any(c.metric in watched for c in conds):
            yield Finding(fn.address, f"no notifying metric-absence alert on the heartbeat of "
                          f"canary {name!r} ({', '.join(sorted(watched))}); add it")


@rule("MON-006", "Every alert policy notifies a channel",
      see="https://cloud.google.com/monitoring/support/notification-options",
      fix="notification_channels = [the AlertChannel's channel]; enabled unset")
def policies_notify(ctx: Context) -> Iterator[Finding]:
    """An alert policy without a notification channel, or a disabled one, opens incidents
    that nobody is told about: the failure it watches for stays as silent as with no
    policy at all."""
    g = ctx.graph
    for policy in g.resources("google_monitoring_alert_policy"):
        why = silent_reason(g, policy.body)
        if why is not None:
            yield Finding(policy.address, f"notifies no one: {why}; name the stack's alert "
                          "channel")
