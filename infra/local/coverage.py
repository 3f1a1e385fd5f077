"""Which alert policy of the synthesized stack covers each silence only Cloud Monitoring sees.

The canary cannot report what stops the canary (its job paused or failing, the function not
starting) nor time a delivery that is stuck short of dead-lettering; alert policies do. The
drills list those classes with the policies that cover them, read from the stack (never from
the constructs that wrote it), matched by the resource type their condition watches and
the condition's kind:

* ``canary-silenced``: a ``condition_absent`` on a ``cloud_run_revision`` metric whose filter
  (or the log-based metric it reads) names the canary's function;
* ``scheduler-failures``: for every scheduler job, a ``condition_matched_log`` or
  ``condition_threshold`` on ``cloud_scheduler_job`` naming the job;
* ``backlog-age``: for every push subscription, and the Eventarc subscription of every
  Pub/Sub-triggered function, a ``condition_threshold`` on ``pubsub_subscription``'s
  ``oldest_unacked_message_age`` naming it (the Eventarc one by its name prefix).

A class with a member no policy covers is ``NOT COVERED``.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from infra.local.topology_types import seconds
from infra.stackjson.stack import Resource, StackJson, first

ALERT_POLICY = "google_monitoring_alert_policy"
OLDEST_UNACKED = "oldest_unacked_message_age"


@dataclass(frozen=True)
class Covered:
    """One class and the policies covering it; ``missing`` names what none covers."""

    drill: str
    """The class's name (``canary-silenced``, ``scheduler-failures``, ``backlog-age``)."""
    broken: str
    """One sentence of what goes wrong unseen, with how many members the class has."""
    policies: tuple[str, ...]
    """Display names of the covering policies (the address when a policy has none), sorted."""
    missing: tuple[str, ...]
    """Members no policy covers: job names, subscription names, an Eventarc prefix with ``*``
    (``eventarc-us-west2-phase3-to-phase4-orchestrator-*``), ``heartbeat of <canary>``."""
    minutes: float | None
    """The longest time the covering conditions take to fire, when they say (a duration,
    a threshold age); ``None`` for a log match, which fires on the entry."""

    @property
    def covered(self) -> bool:
        return bool(self.policies) and not self.missing

    @property
    def by(self) -> str:
        if not self.covered:
            return "NOT COVERED" + (f" ({', '.join(self.missing)})" if self.missing else "")
        names = "; ".join(self.policies)
        return f"covered by alert polic{'y' if len(self.policies) == 1 else 'ies'} {names}"


@dataclass(frozen=True)
class _Condition:
    policy: str
    """Its policy's display name, else the policy's address."""
    kind: str
    """The condition block's key: ``condition_absent``, ``condition_threshold``, ..."""
    text: str
    """The condition's filter, with the filters of the log-based metrics it reads."""
    body: Mapping[str, Any]
    """The condition block as synthesized (``duration``, ``threshold_value`` are read from it)."""


def _conditions(stack: StackJson) -> list[_Condition]:
    out: list[_Condition] = []
    for policy in stack.of_type(ALERT_POLICY):
        name = str(policy.body.get("display_name") or policy.address)
        conditions = policy.body.get("conditions") or []
        for cond in conditions if isinstance(conditions, list) else [conditions]:
            for kind in ("condition_absent", "condition_threshold", "condition_matched_log",
                         "condition_monitoring_query_language",
                         "condition_prometheus_query_language"):
                body = first(cond.get(kind))
                if not body:
                    continue
                text = json.dumps(body)
                for address in stack.refs(body):
                    res = stack.resources.get(address)
                    if res is not None and res.type == "google_logging_metric":
                        text += " " + json.dumps(res.body)
                out.append(_Condition(name, kind, text, body))
    return out


def _watches(cond: _Condition, resource_type: str, *names: str) -> bool:
    return (f'resource.type=\\"{resource_type}\\"' in cond.text
            and all(f'\\"{n}\\"' in cond.text for n in names))


def _policies(found: Iterable[_Condition]) -> tuple[str, ...]:
    return tuple(sorted({c.policy for c in found}))


def canary_silenced(stack: StackJson, canary: str) -> Covered:
    found = [c for c in _conditions(stack) if c.kind == "condition_absent"
             and _watches(c, "cloud_run_revision", canary)]
    minutes = max((seconds(c.body.get("duration")) / 60 for c in found), default=None)
    return Covered("canary-silenced", f"the canary not running ({canary}: its job paused or "
                   "failing, the function not starting): nothing it checks is reported",
                   _policies(found), () if found else (f"heartbeat of {canary}",), minutes)


def scheduler_failures(stack: StackJson) -> Covered:
    jobs = sorted(str(j.body.get("name")) for j in stack.of_type("google_cloud_scheduler_job"))
    conditions = [c for c in _conditions(stack)
                  if c.kind in ("condition_matched_log", "condition_threshold")]
    found: list[_Condition] = []
    missing: list[str] = []
    for job in jobs:
        hits = [c for c in conditions if _watches(c, "cloud_scheduler_job", job)]
        found += hits
        if not hits:
            missing.append(job)
    return Covered("scheduler-failures", "a scheduler job's attempts failing (403, 5xx, "
                   f"deadline) for {len(jobs)} jobs", _policies(found), tuple(missing), None)


def _eventarc_prefix(region: str, function: str) -> str:
    return f"eventarc-{region}-{function}-"


def backlog_age(stack: StackJson, region: str) -> Covered:
    subs = [str(s.body.get("name")) for s in stack.of_type("google_pubsub_subscription")
            if first(s.body.get("push_config"))]
    triggered = [_eventarc_prefix(region, str(f.body.get("name")))
                 for f in stack.of_type("google_cloudfunctions2_function")
                 if first(f.body.get("event_trigger")).get("pubsub_topic")]
    conditions = [c for c in _conditions(stack)
                  if c.kind == "condition_threshold" and OLDEST_UNACKED in c.text]
    found: list[_Condition] = []
    missing: list[str] = []
    for name in [*subs, *triggered]:
        hits = [c for c in conditions if _watches(c, "pubsub_subscription", name)]
        found += hits
        if not hits:
            missing.append(name + ("*" if name in triggered else ""))
    minutes = max(((float(c.body.get("threshold_value") or 0) + seconds(c.body.get("duration")))
                   / 60 for c in found), default=None)
    return Covered("backlog-age", f"a delivery stuck short of dead-lettering ({len(subs)} push "
                   f"subscriptions, {len(triggered)} function triggers): the target hangs or "
                   "Pub/Sub does not deliver", _policies(found), tuple(missing), minutes)


def coverage(stack: StackJson, canary: str, region: str) -> list[Covered]:
    """The three classes only Cloud Monitoring sees, and what covers each."""
    return [canary_silenced(stack, canary), scheduler_failures(stack), backlog_age(stack, region)]


def policies(stack: StackJson) -> list[Resource]:
    return list(stack.of_type(ALERT_POLICY))
