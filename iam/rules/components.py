"""Components and names: what the manifest removed stays out, what it declares is rendered."""

from __future__ import annotations

import json
import re
from collections import defaultdict
from collections.abc import Iterator

from iam.rules.engine import Context, Finding, rule
from iam.rules.helpers import env_vars, missing

_REMOVABLE_TYPES = ("google_cloudfunctions2_function", "google_cloudfunctions_function",
                    "google_cloud_run_v2_service", "google_cloud_run_service",
                    "google_pubsub_topic", "google_pubsub_subscription",
                    "google_cloud_scheduler_job", "google_eventarc_trigger")
RESOURCE_BEHAVIOR_DOC = "https://developer.hashicorp.com/terraform/language/resources/behavior"


@rule("DRIFT-002", "Removed components stay removed",
      see=RESOURCE_BEHAVIOR_DOC, fix="delete the resource; see manifest 'removed'")
def removed_components(ctx: Context) -> Iterator[Finding]:
    """Terraform creates whatever the configuration declares: a component the manifest lists as
    removed that reappears (by name, in an environment variable or in an alert policy) runs,
    receives messages and raises alerts that nothing depends on."""
    g, m = ctx.graph, ctx.manifest
    if not m.removed:
        return
    sport = ctx.data.env.sport if ctx.data is not None else r"[a-z]{2,5}"
    pattern = re.compile(rf"(?<![a-z0-9-])(?:{sport}-)?(?:{'|'.join(map(re.escape, m.removed))})"
                         r"(?![a-z0-9-])")
    for rtype in _REMOVABLE_TYPES:
        for res in g.resources(rtype):
            if pattern.fullmatch(g.cloud_name(res)):
                yield Finding(res.address, f"{g.cloud_name(res)!r} was removed from the "
                              "pipeline (manifest 'removed'; seed 000: the monitoring-only "
                              "Phase 2→3 orchestrator and its subscriber-less topic); delete "
                              "this resource")
    for address, _, env in env_vars(g):
        for key, value in sorted(env.items()):
            if isinstance(value, str) and pattern.fullmatch(value):
                yield Finding(address, f"environment variable {key} names {value!r}, which "
                              "was removed from the pipeline; point it at the manifest's "
                              "current topic or component")
    for res in g.resources("google_monitoring_alert_policy"):
        text = json.dumps(res.body)
        hit = pattern.search(text.replace('\\"', " "))
        if hit:
            yield Finding(res.address, f"alerts on removed component {hit.group(0)!r}: "
                          "monitoring that fires on a component nobody depends on raised 7 "
                          "sessions of false alarms; delete the policy")


@rule("DRIFT-003", "Everything the manifest declares is in the stack",
      see=RESOURCE_BEHAVIOR_DOC,
      fix="restore the construct call in infra/synth/stacks/pipeline_stack.py", needs_env=True)
def declared_components(ctx: Context) -> Iterator[Finding]:
    """Terraform creates only what the configuration declares: a service, function, topic, push
    subscription, job or dataset of the manifest that the stack does not render is never
    created, and whatever depends on it fails at run time."""
    g, data = ctx.graph, ctx.data
    assert data is not None
    names: dict[str, set[str]] = defaultdict(set)
    for res in g.stack.resources.values():
        names[res.type].add(g.cloud_name(res))
    checks = (
        (data.services, ("google_cloud_run_v2_service", "google_cloud_run_service"), "service"),
        (data.functions, ("google_cloudfunctions2_function",), "function"),
        (data.topics, ("google_pubsub_topic",), "topic"),
        (frozenset(e.subscription for e in data.edges), ("google_pubsub_subscription",),
         "push subscription"),
        (data.jobs, ("google_cloud_scheduler_job",), "scheduler job"),
        (data.datasets, ("google_bigquery_dataset",), "dataset"),
    )
    for wanted, rtypes, what in checks:
        have = set().union(*(names[t] for t in rtypes))
        for name in sorted(wanted - have):
            yield Finding(missing(rtypes[0], name), f"the manifest declares {what} {name!r} "
                          "but the stack has no such resource (declared-but-missing); restore "
                          "the construct that renders it")
