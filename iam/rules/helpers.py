"""What several rule areas read the same way: push subscriptions, invoker and agent grants,
OIDC tokens, repeated blocks, encoded values, environment variables and the manifest function
a deployed function is."""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Iterator, Mapping
from typing import Any

from iam.rules.engine import Finding
from infra.model.components import Function
from infra.model.manifest import Manifest
from infra.model.permissions import INVOKER, short_member
from infra.model.provider.lifecycle import replacement_trigger
from infra.stackjson.graph import Endpoint, IamEntry, Principal, ResolvedTarget, StackGraph
from infra.stackjson.stack import Resource, first

INVOKER_IAM_TYPES = frozenset({"google_cloud_run_v2_service_iam_member",
                               "google_cloud_run_service_iam_member"})

# The resource type of each grant-target kind (``infra.model.permissions.TargetKind``), to name a
# missing target.
KIND_TYPES: Mapping[str, str] = {
    "run.service": "google_cloud_run_v2_service",
    "function.service": "google_cloudfunctions2_function",
    "function": "google_cloudfunctions2_function",
    "pubsub.topic": "google_pubsub_topic",
    "pubsub.subscription": "google_pubsub_subscription",
    "iam.serviceAccount": "google_service_account",
    "bigquery.dataset": "google_bigquery_dataset",
    "bigquery.table": "google_bigquery_table",
    "storage.bucket": "google_storage_bucket",
    "secret": "google_secret_manager_secret",
    "project": "project",
}


def trigger_for(address: str) -> str:
    """The ``replace_triggered_by`` entry a member on ``address`` names: its
    replacement-only attribute (``infra.model.provider.lifecycle``), or a placeholder."""
    try:
        return replacement_trigger(address)
    except ValueError:
        return f"{address}.<an attribute that changes only on replacement>"


def manifest_function(manifest: Manifest, name: str) -> Function | None:
    """The manifest's function deployed as ``name``: its ``cloud_name``, its key, or
    ``<sport>-<key>``; ``None`` for a function the manifest does not declare."""
    for fn in manifest.functions:
        if name == (fn.cloud_name or "") or name == fn.key or name.endswith(f"-{fn.key}"):
            return fn
    return None


def who(p: Principal) -> str:
    """A principal as a message names it: the short member if declared, else its raw text."""
    return short_member(p.member) if p.declared else repr(p.raw)


def target_text(t: ResolvedTarget | None) -> str:
    if t is None:
        return "an unresolvable target"
    return f"{t.target} ({t.address})" if t.address else str(t.target)


def missing(rtype: str, name: str) -> str:
    """Address-like name for a resource the stack should have but does not."""
    return f'{rtype}["{name}"]'


def granted(g: StackGraph, kind: str) -> Iterator[tuple[IamEntry, Principal]]:
    """Every IAM entry with each of its principals of ``kind`` (``default``, ``public``…)."""
    for e in g.iam:
        for p in e.principals:
            if p.kind == kind:
                yield e, p


def push_subscriptions(g: StackGraph) -> Iterator[tuple[Resource, Mapping[str, Any]]]:
    """Every subscription with a push_config, and that push_config."""
    for sub in g.resources("google_pubsub_subscription"):
        push = first(sub.body.get("push_config"))
        if push:
            yield sub, push


def push_identities(g: StackGraph) -> Iterator[tuple[Resource, Principal, Endpoint]]:
    """Every push subscription whose OIDC token names an identity: that identity and the
    endpoint it pushes to (``PUSH-001`` reports the subscriptions without one)."""
    for sub, push in push_subscriptions(g):
        principal = oidc_principal(g, first(push.get("oidc_token")))
        if principal is not None:
            yield sub, principal, g.endpoint(push.get("push_endpoint"))


def trigger_identities(g: StackGraph) -> Iterator[tuple[Resource, Principal]]:
    """Every gen2 function whose event trigger names an identity, and that identity."""
    for fn in g.resources("google_cloudfunctions2_function"):
        email = first(fn.body.get("event_trigger")).get("service_account_email")
        if email:
            yield fn, g.principal(email)


def http_jobs(g: StackGraph) -> Iterator[tuple[Resource, Mapping[str, Any], Endpoint]]:
    """Every scheduler job with an http_target, that target and the endpoint it calls."""
    for job in g.resources("google_cloud_scheduler_job"):
        http = first(job.body.get("http_target"))
        if http:
            yield job, http, g.endpoint(http.get("uri"))


def holds_invoker(g: StackGraph, principal: Principal, target_address: str) -> bool:
    """Whether an additive Cloud Run member gives ``principal`` run.invoker on the target."""
    return any(
        e.mode == "member" and e.rtype in INVOKER_IAM_TYPES and e.role == INVOKER
        and e.target is not None and e.target.address == target_address
        and any(p.declared and p.member == principal.member for p in e.principals)
        for e in g.iam
    )


def agent_holds(g: StackGraph, rtype: str, role: str, target_address: str) -> bool:
    """Whether an ``rtype`` member gives the Pub/Sub service agent ``role`` on the target."""
    return any(
        e.mode == "member" and e.rtype == rtype and e.role == role and e.target is not None
        and e.target.address == target_address
        and any(p.kind == "pubsub_agent" for p in e.principals)
        for e in g.iam
    )


def oidc_principal(g: StackGraph, oidc: Mapping[str, Any]) -> Principal | None:
    email = oidc.get("service_account_email")
    return g.principal(email) if email else None


def check_audience(address: str, g: StackGraph, oidc: Mapping[str, Any],
                   ep: Endpoint) -> Iterator[Finding]:
    """The audience of an OIDC token is set and is the URL of the endpoint's target."""
    audience = oidc.get("audience")
    if not audience:
        yield Finding(address, "oidc_token has no audience; set it explicitly to the target's "
                      "URL (${<target>.uri}) so the token is valid for exactly that service")
        return
    aud = g.audience_target(audience)
    if aud is None:
        yield Finding(address, f"oidc_token.audience {audience!r} cannot be proven to be the "
                      "target's URL; write it as a reference to the target's uri")
    elif ep.target is not None and aud.address != ep.target.address:
        yield Finding(address, f"oidc_token.audience names {aud.target} but the endpoint is "
                      f"{ep.target.target}: Cloud Run rejects the token (401); use the endpoint "
                      "service's uri")


def blocks(value: object) -> list[Mapping[str, Any]]:
    """The objects of a repeated block (a list, or one object); anything else is skipped."""
    items = value if isinstance(value, list) else [value]
    return [i for i in items if isinstance(i, Mapping)]


def json_value(value: object) -> object:
    """``value`` parsed as JSON when it is a string that parses; else ``value`` itself."""
    if not isinstance(value, str):
        return value
    try:
        return json.loads(value)
    except ValueError:
        return value


def decoded(value: str) -> str:
    """The text of a base64 value (a Scheduler body); ``""`` when it is not base64."""
    try:
        return base64.b64decode(value, validate=True).decode("utf-8", "replace")
    except (binascii.Error, ValueError):
        return ""


def env_vars(g: StackGraph) -> Iterator[tuple[str, str, Mapping[str, Any]]]:
    """``(address, component name, env)`` for every function and Cloud Run container."""
    for fn in g.resources("google_cloudfunctions2_function"):
        env = first(fn.body.get("service_config")).get("environment_variables")
        yield fn.address, g.cloud_name(fn), env if isinstance(env, Mapping) else {}
    for fn in g.resources("google_cloudfunctions_function"):
        env = fn.body.get("environment_variables")
        yield fn.address, g.cloud_name(fn), env if isinstance(env, Mapping) else {}
    for svc in g.resources("google_cloud_run_v2_service"):
        container_env: dict[str, Any] = {}
        for c in blocks(first(svc.body.get("template")).get("containers")):
            for item in blocks(c.get("env")):
                if "value" in item:
                    container_env[str(item.get("name"))] = item.get("value")
        yield svc.address, g.cloud_name(svc), container_env
