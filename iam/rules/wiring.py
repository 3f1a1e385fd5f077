"""The stack's subscriptions, triggers and jobs are the ones the manifest declares."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import TypeVar

from iam.grants import IamData
from iam.rules.engine import Context, Finding, rule
from iam.rules.helpers import decoded, push_subscriptions
from infra.stackjson.graph import StackGraph
from infra.stackjson.stack import Resource, first

S = TypeVar("S")


@rule("WIRE-001", "Subscriptions, triggers and jobs are wired as the manifest declares",
      see="https://cloud.google.com/pubsub/docs/push",
      fix="change infra/model/pipeline.py, not the stack", needs_env=True)
def wiring(ctx: Context) -> Iterator[Finding]:
    """A subscription delivers every message of its topic to its push endpoint, and an event
    trigger or scheduler job calls its target on its own: one on the wrong topic or target, or
    one the manifest does not know, is a delivery path nobody reviewed."""
    g, data = ctx.graph, ctx.data
    assert data is not None
    specs = {e.subscription: e for e in data.edges}
    for sub, push in push_subscriptions(g):
        name = g.cloud_name(sub)
        spec = specs.get(name)
        if spec is None:
            yield Finding(sub.address, f"push subscription {name!r} is not a transition of "
                          f"the manifest (declared: {sorted(specs)}); declare it in "
                          "infra/model/pipeline.py or remove it")
            continue
        topic_name = _topic_name(g, sub.body.get("topic"))
        if topic_name != spec.topic:
            yield Finding(sub.address, f"subscribes to {topic_name!r} but the manifest says "
                          f"{spec.topic!r}")
        ep = g.endpoint(push.get("push_endpoint"))
        if ep.target is not None and (ep.target.target != spec.target or ep.path != spec.path):
            yield Finding(sub.address, f"pushes to {ep.target.target}{ep.path} but the "
                          f"manifest says {spec.target}{spec.path}")
        dlq = g.topic(first(sub.body.get("dead_letter_policy")).get("dead_letter_topic"))
        dlq_name = g.cloud_name(g.stack.resources[dlq]) if dlq else None
        if dlq_name is not None and dlq_name != spec.dead_letter_topic:
            yield Finding(sub.address, f"dead-letters to {dlq_name!r}, another edge's topic; "
                          f"its own dead-letter topic is {spec.dead_letter_topic!r}")
    for sub in g.resources("google_pubsub_subscription"):
        spec = specs.get(g.cloud_name(sub))
        if spec is not None and not first(sub.body.get("push_config")):
            yield Finding(sub.address, f"{spec.subscription!r} has no push_config, so nothing "
                          f"delivers its messages to {spec.target}{spec.path}; the manifest "
                          "declares a push edge")
    yield from _trigger_wiring(g, data)
    yield from _job_wiring(g, data)


def _topic_name(g: StackGraph, ref: object) -> object:
    """The cloud name of the topic ``ref`` names, or ``ref`` itself when it names none."""
    topic = g.topic(ref)
    return g.cloud_name(g.stack.resources[topic]) if topic else ref


def _by_name(g: StackGraph, rtype: str,
             specs: Mapping[str, S]) -> Iterator[tuple[Resource, str, S | None]]:
    """Every ``rtype`` resource, its cloud name and the spec declared under that name."""
    for res in g.resources(rtype):
        name = g.cloud_name(res)
        yield res, name, specs.get(name)


def _trigger_wiring(g: StackGraph, data: IamData) -> Iterator[Finding]:
    triggers = {t.function: t for t in data.triggers}
    for fn, name, spec in _by_name(g, "google_cloudfunctions2_function", triggers):
        trig = first(fn.body.get("event_trigger"))
        if spec is None:
            if trig:
                yield Finding(fn.address, f"function {name!r} has an event trigger but the "
                              "manifest declares it as an HTTP function (no trigger_topic)")
            continue
        if not trig:
            yield Finding(fn.address, f"function {name!r} has no event_trigger; the manifest "
                          f"triggers it from {spec.topic!r}")
            continue
        topic_name = _topic_name(g, trig.get("pubsub_topic"))
        if topic_name != spec.topic:
            yield Finding(fn.address, f"event_trigger.pubsub_topic is {topic_name!r} but the "
                          f"manifest triggers it from {spec.topic!r}")


def _job_wiring(g: StackGraph, data: IamData) -> Iterator[Finding]:
    jobs = {j.job: j for j in data.jobs_wiring}
    for job, name, jspec in _by_name(g, "google_cloud_scheduler_job", jobs):
        http = first(job.body.get("http_target"))
        if jspec is None:
            yield Finding(job.address, f"scheduler job {name!r} is not declared in the "
                          f"manifest (declared: {sorted(jobs)})")
            continue
        if not http:
            yield Finding(job.address, f"scheduler job {name!r} has no http_target; the "
                          f"manifest has it call {jspec.target}{jspec.path}")
            continue
        ep = g.endpoint(http.get("uri"))
        if ep.target is not None and (ep.target.target != jspec.target or ep.path != jspec.path):
            yield Finding(job.address, f"calls {ep.target.target}{ep.path} but the manifest "
                          f"says {jspec.target}{jspec.path}")
        if http.get("http_method", "POST") != jspec.http_method:
            yield Finding(job.address, f"http_method {http.get('http_method')!r} but the "
                          f"manifest says {jspec.http_method!r}")
        body, want_body = http.get("body"), jspec.body
        for fld, got, want in (("schedule", job.body.get("schedule"), jspec.schedule),
                               ("time_zone", job.body.get("time_zone"), jspec.time_zone),
                               ("http_target.body (decoded)",
                                decoded(str(body)) if body else body,
                                decoded(want_body) if want_body else want_body)):
            if got != want:
                yield Finding(job.address, f"{fld} is {got!r} but the manifest says {want!r}; "
                              "schedules and payloads come from infra/model/pipeline.py")
