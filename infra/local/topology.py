"""The synthesized stack (``cdk.tf.json``) as the local pipeline runs it.

Everything here is read from the stack Terraform applies, never from the manifest: topics,
subscriptions with their dead-letter and retry policies and ack deadlines, the Cloud Run
targets (services and gen2 functions), who may invoke each target (``roles/run.invoker``
members, resolved through ``infra.stackjson``) and whether its ingress is internal-only or
its own calls leave through a VPC (``infra.stackjson.ingress``), the functions' event
triggers and the scheduler jobs. Removing an invoker binding from the JSON therefore removes
it locally too. The only convention it shares with the manifest, ``<sport>-<key>`` cloud names, comes from
``infra.model.naming``.

A gen2 function's event trigger is an Eventarc-managed push subscription in the cloud; it
is not in the stack, so it is derived from ``event_trigger``: a push subscription on the
trigger topic to the function's service at ``/projects/P/topics/T`` (the path from which
functions-framework builds the CloudEvent) under the trigger's service account, with
Eventarc's retry policy (10 s .. 600 s) and no dead-letter topic.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator, Mapping
from dataclasses import replace
from pathlib import Path
from typing import Any

from infra.local.errors import LocalError
from infra.local.topology_types import (
    FunctionSpec,
    JobSpec,
    PushSpec,
    SubscriptionSpec,
    Target,
    TopicSpec,
    Topology,
    seconds,
)
from infra.model.naming import key_of
from infra.model.permissions import INVOKER
from infra.stackjson.ingress import internal_only, vpc_egress
from infra.stackjson.stack import Resource, StackJson, first

RUN_SERVICE = "google_cloud_run_v2_service"
FUNCTION = "google_cloudfunctions2_function"
PUBSUB_EVENT = "google.cloud.pubsub.topic.v1.messagePublished"
# Roles that carry run.routes.invoke, the permission Cloud Run checks on every request.
INVOKER_ROLES = frozenset({
    INVOKER, "roles/run.servicesInvoker", "roles/run.admin", "roles/owner",
    "roles/editor",
})
# Eventarc's retry policy on the subscriptions it creates for function triggers.
EVENTARC_MIN_BACKOFF = "10s"
EVENTARC_MAX_BACKOFF = "600s"
DEFAULT_COMPUTE_IDENTITY = "default-compute@developer.gserviceaccount.com"


def load_stack(path: Path) -> StackJson:
    """The stack at ``path``; ``LocalError`` with the fix when it is missing or not JSON."""
    if not path.is_file():
        raise LocalError(
            f"no synthesized stack at {path}; run `make synth` (or "
            "`python -m infra.main --env dev`) first, or pass --stack PATH"
        )
    try:
        return StackJson(json.loads(path.read_text()), path)
    except (ValueError, UnicodeDecodeError) as exc:
        raise LocalError(
            f"{path} is not valid JSON ({exc}); re-synthesize it with `make synth`"
        ) from exc


class _Reader:
    def __init__(self, stack: StackJson, sport: str) -> None:
        self.stack = stack
        self.sport = sport

    def short(self, name: str) -> str:
        return key_of(self.sport, name)

    def text(self, value: object) -> str | None:
        if value is None:
            return None
        resolved = self.stack.interpolate(value)
        return str(resolved)

    def email(self, value: object) -> str | None:
        text = self.text(value)
        if text is None:
            return None
        if "${" in text:
            raise LocalError(
                f"{self.stack.path}: cannot resolve identity {text!r}; the local pipeline "
                "needs google_service_account resources with account_id and project"
            )
        return text.split(":", 1)[-1]

    def resource(self, ref: object, where: str) -> Resource:
        address = self.stack.ref_address(ref)
        res = self.stack.resources.get(address or "")
        if res is None:
            raise LocalError(f"{self.stack.path}: {where} references {ref!r}, which the stack "
                             "does not declare; re-synthesize with `make synth`")
        return res

    def target_of(self, value: object, where: str) -> tuple[Resource, str]:
        """The Cloud Run target a URI (``${service.uri}/path``) points at, and the path."""
        text = str(value or "")
        refs = [a for a in self.stack.refs(text) if a.split(".")[0] in (RUN_SERVICE, FUNCTION)]
        if not refs or not text.startswith("${"):
            raise LocalError(
                f"{self.stack.path}: {where} endpoint {text!r} is not a Cloud Run service or "
                "function of this stack; the local pipeline serves only declared targets"
            )
        res = self.stack.resources[refs[0]]
        return res, text.rsplit("}", 1)[-1]


def _project(stack: StackJson) -> str:
    provider = stack.data.get("provider", {}).get("google")
    block = first(provider)
    if isinstance(block.get("project"), str):
        return str(block["project"])
    for res in stack.resources.values():
        if isinstance(res.body.get("project"), str) and "${" not in res.body["project"]:
            return str(res.body["project"])
    raise LocalError(f"{stack.path}: no project declared (provider google.project); "
                     "re-synthesize with `make synth`")


def region_of(stack: StackJson) -> str:
    """The region of the stack's google provider (its default when none is set)."""
    block = first((stack.data.get("provider") or {}).get("google"))
    return str(block.get("region") or "us-central1")


def read_topology(path: Path, sport: str, project: str | None = None) -> Topology:
    """Read the stack at ``path``; ``project`` overrides the emulator project id."""
    stack = load_stack(path)
    reader = _Reader(stack, sport)
    stack_project = _project(stack)
    emulator_project = project or stack_project
    notes: list[str] = []

    topics: dict[str, TopicSpec] = {}
    by_address: dict[str, str] = {}
    for res in stack.of_type("google_pubsub_topic"):
        name = str(res.body.get("name"))
        spec = TopicSpec(short=reader.short(name), name=name, address=res.address)
        topics[spec.short] = spec
        by_address[res.address] = spec.short

    def topic_short(ref: object, where: str) -> str:
        res = reader.resource(ref, where)
        return by_address[res.address]

    found: list[Target] = []
    for res in stack.of_type(RUN_SERVICE):
        tpl = first(res.body.get("template"))
        found.append(_target(reader, res, "service", int(seconds(tpl.get("timeout"), 300.0)),
                             tpl.get("service_account")))
    for res in stack.of_type(FUNCTION):
        svc = first(res.body.get("service_config"))
        found.append(_target(reader, res, "function", int(svc.get("timeout_seconds") or 60),
                             svc.get("service_account_email")))
    targets = {t.name: t for t in found}
    target_by_address = {t.address: t.name for t in found}

    _collect_invokers(stack, reader, targets, target_by_address)

    subscriptions: list[SubscriptionSpec] = []
    for res in stack.of_type("google_pubsub_subscription"):
        body = res.body
        name = str(body.get("name"))
        where = f"subscription {name}"
        push_cfg = first(body.get("push_config"))
        push = None
        if push_cfg:
            target_res, sub_path = reader.target_of(push_cfg.get("push_endpoint"), where)
            oidc = first(push_cfg.get("oidc_token"))
            push = PushSpec(
                target=target_by_address[target_res.address], path=sub_path or "/",
                identity=reader.email(oidc.get("service_account_email")) if oidc else None,
            )
        dlp = first(body.get("dead_letter_policy"))
        retry = first(body.get("retry_policy"))
        subscriptions.append(SubscriptionSpec(
            short=reader.short(name), name=name, topic=topic_short(body.get("topic"), where),
            ack_deadline_seconds=int(body.get("ack_deadline_seconds") or 10), push=push,
            dead_letter_topic=(topic_short(dlp.get("dead_letter_topic"), where)
                               if dlp.get("dead_letter_topic") else None),
            max_delivery_attempts=(int(dlp.get("max_delivery_attempts") or 5)
                                   if dlp.get("dead_letter_topic") else None),
            minimum_backoff=retry.get("minimum_backoff") if retry else None,
            maximum_backoff=retry.get("maximum_backoff") if retry else None,
            retention=body.get("message_retention_duration"), address=res.address,
        ))

    functions: list[FunctionSpec] = []
    region = region_of(stack)
    for res in stack.of_type(FUNCTION):
        functions.append(_function(stack, reader, res, topic_short, subscriptions, region, notes))

    jobs: list[JobSpec] = []
    for res in stack.of_type("google_cloud_scheduler_job"):
        http = first(res.body.get("http_target"))
        name = str(res.body.get("name"))
        target_res, job_path = reader.target_of(http.get("uri"), f"scheduler job {name}")
        oidc = first(http.get("oidc_token"))
        raw_body = http.get("body")
        jobs.append(JobSpec(
            name=name, short=reader.short(name), schedule=str(res.body.get("schedule")),
            time_zone=str(res.body.get("time_zone") or "Etc/UTC"),
            target=target_by_address[target_res.address], path=job_path or "/",
            method=str(http.get("http_method") or "POST"),
            body=base64.b64decode(raw_body).decode() if raw_body else None,
            headers={str(k): str(v) for k, v in (http.get("headers") or {}).items()},
            identity=reader.email(oidc.get("service_account_email")) if oidc else None,
            retry_count=int(first(res.body.get("retry_config")).get("retry_count") or 0),
        ))

    return Topology(
        stack_path=path, stack_project=stack_project, project=emulator_project, region=region,
        topics=topics, subscriptions=tuple(subscriptions), targets=targets,
        functions=tuple(functions), jobs=tuple(jobs), notes=tuple(notes),
    )


def _target(reader: _Reader, res: Resource, kind: str, timeout_seconds: int,
            account: object) -> Target:
    """The Cloud Run target ``res`` (a service or a gen2 function) running as ``account``."""
    return Target(name=str(res.body.get("name")), kind=kind, address=res.address,
                  timeout_seconds=timeout_seconds, identity=reader.email(account),
                  internal_only=internal_only(res.type, res.body),
                  vpc_egress=vpc_egress(res.type, res.body))


def _collect_invokers(stack: StackJson, reader: _Reader, targets: dict[str, Target],
                      target_by_address: Mapping[str, str]) -> None:
    members: dict[str, list[str]] = {name: [] for name in targets}
    project_wide: list[str] = []

    def target_name(ref: object) -> str | None:
        address = stack.ref_address(ref)
        if address is not None:
            # ``${google_cloudfunctions2_function.x.service_config[0].service}`` names the
            # function's Cloud Run service: the function's target.
            return target_by_address.get(address)
        return str(ref) if str(ref) in targets else None

    for rtype, attr in (("google_cloud_run_v2_service_iam_member", "name"),
                        ("google_cloud_run_v2_service_iam_binding", "name"),
                        ("google_cloud_run_service_iam_member", "service"),
                        ("google_cloud_run_service_iam_binding", "service")):
        for res, granted in _invoker_grants(stack, reader, rtype):
            name = target_name(res.body.get(attr))
            if name is not None:
                members[name].extend(granted)
    for rtype in ("google_project_iam_member", "google_project_iam_binding"):
        for _, granted in _invoker_grants(stack, reader, rtype):
            project_wide.extend(granted)
    for name, target in list(targets.items()):
        targets[name] = replace(target, invokers=tuple(sorted(set(members[name])
                                                              | set(project_wide))))


def _invoker_grants(stack: StackJson, reader: _Reader,
                    rtype: str) -> Iterator[tuple[Resource, list[str]]]:
    """Each ``rtype`` resource (an IAM member or binding) granting an invoker role, with the
    members it grants."""
    for res in stack.of_type(rtype):
        if res.body.get("role") in INVOKER_ROLES:
            listed = res.body.get("members") if rtype.endswith("binding") else [
                res.body.get("member")]
            yield res, [str(reader.text(m)) for m in listed or [] if m]


def _function(stack: StackJson, reader: _Reader, res: Resource, topic_short: Any,
              subscriptions: list[SubscriptionSpec], region: str,
              notes: list[str]) -> FunctionSpec:
    body = res.body
    name = str(body.get("name"))
    build = first(body.get("build_config"))
    svc = first(body.get("service_config"))
    storage = first(first(build.get("source")).get("storage_source"))
    obj_ref = storage.get("object")
    obj = reader.resource(obj_ref, f"function {name} source") if obj_ref else None
    bundle_object = str(obj.body.get("name")) if obj else ""
    asset: str | None = None
    if obj is not None and obj.body.get("source") and stack.path is not None:
        candidate = (stack.path.parent / str(obj.body["source"])).resolve()
        asset = str(candidate) if candidate.is_file() else None
    env = {str(k): str(v) for k, v in (svc.get("environment_variables") or {}).items()}
    trigger = first(body.get("event_trigger"))
    trigger_topic = trigger_identity = None
    retry = True
    if trigger:
        if trigger.get("event_type") != PUBSUB_EVENT or not trigger.get("pubsub_topic"):
            notes.append(f"function {name}: event type {trigger.get('event_type')} has no local "
                         "equivalent; served over HTTP without a trigger")
        else:
            trigger_topic = topic_short(trigger.get("pubsub_topic"), f"function {name} trigger")
            # Without an explicit trigger identity Eventarc uses the default compute account,
            # which holds no invoker grant in this stack: the front refuses it, as Cloud Run
            # would once the grant is gone.
            trigger_identity = (reader.email(trigger.get("service_account_email"))
                                or DEFAULT_COMPUTE_IDENTITY)
            retry = trigger.get("retry_policy", "RETRY_POLICY_DO_NOT_RETRY") == "RETRY_POLICY_RETRY"
            timeout = int(svc.get("timeout_seconds") or 60)
            sub_name = f"eventarc-{region}-{name}-sub"
            subscriptions.append(SubscriptionSpec(
                short=sub_name, name=sub_name, topic=trigger_topic,
                ack_deadline_seconds=min(600, max(10, timeout)),
                push=PushSpec(target=name, path="", identity=trigger_identity),
                dead_letter_topic=None, max_delivery_attempts=None,
                minimum_backoff=EVENTARC_MIN_BACKOFF, maximum_backoff=EVENTARC_MAX_BACKOFF,
                retention="86400s", origin="event_trigger", address=res.address, retry=retry,
            ))
    return FunctionSpec(
        name=name, address=res.address, entry_point=str(build.get("entry_point")),
        signature="cloudevent" if trigger_topic else "http", environment=env,
        bundle_object=bundle_object, bundle_asset=asset,
        timeout_seconds=int(svc.get("timeout_seconds") or 60), trigger_topic=trigger_topic,
        trigger_identity=trigger_identity, retry=retry,
    )

