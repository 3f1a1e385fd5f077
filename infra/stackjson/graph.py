"""The IAM graph of one synthesized stack: who acts where, and who holds which role on what.

Built on ``infra.stackjson.stack.StackJson``. References (``${type.name.attr}``) are resolved to the
resources they name; literal strings are compared as values, so a member written as
``serviceAccount:x@p.iam.gserviceaccount.com`` is the account whose ``account_id`` is ``x``
in project ``p``, and a topic written as ``projects/p/topics/t`` is the topic named ``t``.
Whatever cannot be resolved stays a literal and the rules say so.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any, Literal

from infra.model.permissions import PUBLIC_MEMBERS, PUBSUB_AGENT, Slot, SlotKind, Target, TargetKind
from infra.stackjson.stack import REF_RE, Resource, StackJson, first

PrincipalKind = Literal["account", "pubsub_agent", "public", "default", "unresolved"]
IamMode = Literal["member", "binding", "policy"]

DEFAULT_SA_RE = re.compile(
    r"^(\d+-compute@developer\.gserviceaccount\.com"
    r"|[a-z0-9-]+@appspot\.gserviceaccount\.com"
    r"|\d+@cloudbuild\.gserviceaccount\.com)$"
)
DEFAULT_SA_DATA = ("data.google_compute_default_service_account",
                   "data.google_app_engine_default_service_account")
LITERAL_SA_RE = re.compile(r"^([a-z][a-z0-9-]{4,28}[a-z0-9])@([a-z][a-z0-9-]{4,28}[a-z0-9])"
                           r"\.iam\.gserviceaccount\.com$")
PUBSUB_AGENT_REF_RE = re.compile(
    r"^service-\$\{(data\.google_project\.[A-Za-z0-9_-]+)\.number\}"
    r"@gcp-sa-pubsub\.iam\.gserviceaccount\.com$"
)
LITERAL_AGENT_RE = re.compile(r"^service-\d+@gcp-sa-pubsub\.iam\.gserviceaccount\.com$")
ACCOUNT_PATH_RE = re.compile(r"^projects/[^/]+/serviceAccounts/(.+)$")

# IAM resource base type → (field naming the target, resource type of the target, kind).
IAM_TARGETS: Mapping[str, tuple[str, str | None, TargetKind]] = {
    "google_cloud_run_v2_service": ("name", "google_cloud_run_v2_service", "run.service"),
    "google_cloud_run_service": ("service", "google_cloud_run_service", "run.service"),
    "google_cloud_run_v2_job": ("name", "google_cloud_run_v2_job", "other"),
    "google_cloudfunctions2_function": ("cloud_function", "google_cloudfunctions2_function",
                                        "function"),
    "google_cloudfunctions_function": ("cloud_function", "google_cloudfunctions_function",
                                       "function"),
    "google_pubsub_topic": ("topic", "google_pubsub_topic", "pubsub.topic"),
    "google_pubsub_subscription": ("subscription", "google_pubsub_subscription",
                                   "pubsub.subscription"),
    "google_service_account": ("service_account_id", "google_service_account",
                               "iam.serviceAccount"),
    "google_bigquery_dataset": ("dataset_id", "google_bigquery_dataset", "bigquery.dataset"),
    "google_bigquery_table": ("table_id", "google_bigquery_table", "bigquery.table"),
    "google_storage_bucket": ("bucket", "google_storage_bucket", "storage.bucket"),
    "google_secret_manager_secret": ("secret_id", "google_secret_manager_secret", "secret"),
    "google_project": ("project", None, "project"),
}
IAM_SUFFIXES: Mapping[str, IamMode] = {
    "_iam_member": "member", "_iam_binding": "binding", "_iam_policy": "policy",
}
NON_TARGET_FIELDS = frozenset({"member", "members", "role", "condition", "lifecycle", "depends_on",
                               "provider", "project", "location", "region", "policy_data", "//",
                               "count", "for_each"})
INVOKABLE_TYPES: Mapping[str, TargetKind] = {
    "google_cloud_run_v2_service": "run.service",
    "google_cloud_run_service": "run.service",
    "google_cloudfunctions2_function": "function.service",
}


@dataclass(frozen=True)
class Principal:
    """A member or an acting identity, resolved.

    ``member`` is canonical for accounts (``serviceAccount:<id>@<project>.iam…``) and the
    agent (``PUBSUB_AGENT``); otherwise it is the raw text. ``address`` is the
    ``google_service_account`` the principal is, when it is one of the stack's.
    """

    kind: PrincipalKind
    """What it is; only an ``account`` or the ``pubsub_agent`` is one of the stack's identities."""
    member: str
    raw: str
    """The value as the stack writes it, reference and all; findings quote it."""
    address: str | None = None
    problem: str = ""
    """Why a ``default`` or ``unresolved`` principal is no pipeline identity; empty otherwise."""

    @property
    def declared(self) -> bool:
        return self.kind in ("account", "pubsub_agent")


@dataclass(frozen=True)
class ResolvedTarget:
    """What an IAM resource grants on. ``address`` is set when it is a resource of the stack."""

    target: Target
    """Its name gets ``(project <p>)`` or ``(location <l>)`` appended when the grant is elsewhere."""
    address: str | None
    literal: bool
    """The grant names its target by a literal name or id, not by a reference."""


@dataclass(frozen=True)
class IamEntry:
    """One (resource, role, members) triple; an ``_iam_policy`` yields one per binding."""

    address: str
    rtype: str
    """The IAM resource's type (``google_pubsub_topic_iam_member``)."""
    mode: IamMode
    role: str
    """As written (``roles/pubsub.publisher``); a policy's entry has its binding's role."""
    principals: tuple[Principal, ...]
    """One for a member; every member of a binding."""
    target: ResolvedTarget | None
    """``None`` when the resource names nothing a target can be made of."""
    replace_triggered_by: tuple[str, ...]
    """Its ``lifecycle.replace_triggered_by`` entries as written."""


@dataclass(frozen=True)
class Endpoint:
    """An HTTP endpoint (push endpoint, scheduler URI) resolved to the service it calls."""

    target: ResolvedTarget | None
    """``None`` unless the value starts with a Cloud Run service's or gen2 function's URL."""
    path: str
    """What follows the reference (``/process``, ``/`` when nothing does); ``""`` without one."""
    raw: str


@dataclass(frozen=True)
class Acting:
    """An identity acting in a slot of a component resource (``address``)."""

    slot: Slot
    address: str
    field: str
    """The attribute naming the identity (``template.service_account``)."""
    principal: Principal | None
    """``None`` when the field is omitted (the platform then uses a default identity)."""


class StackGraph:
    """Resolution helpers over a ``StackJson``; every method is a pure read."""

    def __init__(self, stack: StackJson) -> None:
        self.stack = stack
        providers = (stack.data.get("provider") or {}).get("google")
        self.project: str | None = _str(first(providers).get("project")) or None
        self.accounts: dict[str, str] = {}
        for res in stack.of_type("google_service_account"):
            account_id = _str(res.body.get("account_id"))
            project = _str(res.body.get("project")) or self.project or ""
            self.accounts[res.address] = f"{account_id}@{project}.iam.gserviceaccount.com"
        self._by_email = {email: addr for addr, email in self.accounts.items()}
        self.iam: list[IamEntry] = list(self._iam_entries())

    # ----- names -----

    @property
    def name(self) -> str:
        meta = (self.stack.data.get("//") or {}).get("metadata") or {}
        return _str(meta.get("stackName")) or (
            self.stack.path.parent.name if self.stack.path else "stack")

    def resources(self, rtype: str) -> list[Resource]:
        return sorted(self.stack.of_type(rtype), key=lambda r: r.address)

    def body(self, address: str) -> Mapping[str, Any]:
        res = self.stack.resources.get(address)
        return res.body if res else {}

    def exists(self, address: str) -> bool:
        return address in self.stack.resources

    # ----- principals -----

    def principal(self, value: object) -> Principal:
        """Resolve a member, an email or a ``projects/…/serviceAccounts/…`` identity field."""
        raw = _str(value)
        text = raw.strip()
        if text in PUBLIC_MEMBERS:
            return Principal("public", text, raw)
        for prefix in ("user:", "group:", "domain:", "principal:", "principalSet:"):
            if text.startswith(prefix):
                return Principal("unresolved", text, raw,
                                 problem="a human or external principal, not a pipeline identity")
        text = text.removeprefix("serviceAccount:")
        path = ACCOUNT_PATH_RE.match(text)
        if path:
            text = path.group(1)
        ref = REF_RE.fullmatch(text)
        if ref:
            address = ref.group(1)
            if address.startswith(DEFAULT_SA_DATA):
                return Principal("default", raw, raw, problem="the default service account")
            if address.startswith("google_service_account."):
                if address in self.accounts:
                    return Principal("account", f"serviceAccount:{self.accounts[address]}", raw,
                                     address)
                return Principal("unresolved", raw, raw,
                                 problem=f"{address} is not declared in this stack")
            return Principal("unresolved", raw, raw,
                             problem=f"{address} is not a google_service_account")
        agent = PUBSUB_AGENT_REF_RE.match(text)
        if agent:
            if not self.exists(agent.group(1)):
                return Principal("unresolved", raw, raw,
                                 problem=f"{agent.group(1)} is not declared in this stack")
            project = _str(self.body(agent.group(1)).get("project_id"))
            if project and self.project and "${" not in project and project != self.project:
                return Principal("unresolved", raw, raw, problem=(
                    f"the Pub/Sub agent of project {project!r}, not of {self.project!r}"))
            return Principal("pubsub_agent", PUBSUB_AGENT, raw)
        if "${" in text:
            # References inside a longer string (``${google_service_account.x.account_id}@…``):
            # substitute what the stack states literally, then match as a literal.
            text = REF_RE.sub(lambda m: _str(self.stack.resolve_attr(m.group(0))), text)
        if DEFAULT_SA_RE.match(text):
            return Principal("default", raw, raw, problem="the default service account")
        if LITERAL_AGENT_RE.match(text):
            return Principal("unresolved", raw, raw, problem=(
                "the Pub/Sub agent with a literal project number, which no environment can "
                "check; write service-${data.google_project.project.number}"
                "@gcp-sa-pubsub.iam.gserviceaccount.com"))
        if text in self._by_email:
            address = self._by_email[text]
            return Principal("account", f"serviceAccount:{text}", raw, address)
        literal = LITERAL_SA_RE.match(text)
        if literal:
            return Principal("unresolved", raw, raw, problem=(
                f"no google_service_account with account_id {literal.group(1)!r} in project "
                f"{literal.group(2)!r} is declared in this stack"))
        return Principal("unresolved", raw, raw, problem="not a service account of this stack")

    # ----- targets -----

    def resolve_named(self, value: object, rtype: str | None, kind: TargetKind) -> ResolvedTarget:
        """Resolve a field naming a resource of ``rtype`` by reference or by literal name."""
        raw = _str(value)
        ref = REF_RE.fullmatch(raw.strip())
        if ref:
            address = ref.group(1)
            res = self.stack.resources.get(address)
            if res is None:
                return ResolvedTarget(Target(kind, raw), None, literal=False)
            if res.type == "google_cloudfunctions2_function" and kind in ("run.service",
                                                                          "function.service"):
                return ResolvedTarget(Target("function.service", self.cloud_name(res)), address,
                                      literal=False)
            if res.type == "data.google_project" or kind == "project":
                project = _str(res.body.get("project_id")) or raw
                return ResolvedTarget(Target("project", project), None, literal=False)
            return ResolvedTarget(Target(self.kind_of(res, kind), self.cloud_name(res)), address,
                                  literal=False)
        name = _literal_name(raw, kind)
        if kind == "project":
            return ResolvedTarget(Target("project", name), None, literal=True)
        candidates = [r for r in self.stack.resources.values()
                      if r.type == rtype and self.cloud_name(r) == name]
        if kind == "run.service" and not candidates:
            # A gen2 function's Cloud Run service carries the function's name.
            for fn in self.stack.of_type("google_cloudfunctions2_function"):
                if self.cloud_name(fn) == name:
                    return ResolvedTarget(Target("function.service", name), fn.address,
                                          literal=True)
        if len(candidates) == 1:
            res = candidates[0]
            return ResolvedTarget(Target(self.kind_of(res, kind), name), res.address, literal=True)
        return ResolvedTarget(Target(kind, name), None, literal=True)

    def kind_of(self, res: Resource, default: TargetKind) -> TargetKind:
        for base, (_, rtype, kind) in IAM_TARGETS.items():
            if res.type == (rtype or base):
                return kind
        return default

    def cloud_name(self, res: Resource) -> str:
        """The name the cloud knows a resource by (accounts: their email)."""
        if res.type == "google_service_account":
            return self.accounts.get(res.address, "")
        for key in ("name", "dataset_id", "table_id", "secret_id", "project_id"):
            if key in res.body:
                return _str(res.body[key])
        return res.address

    def endpoint(self, value: object) -> Endpoint:
        """``${google_cloud_run_v2_service.x.uri}/process`` → service x, path ``/process``."""
        raw = _str(value)
        m = REF_RE.match(raw.strip())
        if not m:
            return Endpoint(None, "", raw)
        address = m.group(1)
        attr = m.group(2)
        path = raw.strip()[m.end():] or "/"
        res = self.stack.resources.get(address)
        if res is None or res.type not in INVOKABLE_TYPES:
            return Endpoint(None, path, raw)
        if res.type == "google_cloudfunctions2_function" and attr not in (
            ".service_config[0].uri", ".url",
        ):
            return Endpoint(None, path, raw)
        if res.type != "google_cloudfunctions2_function" and attr not in (
            ".uri", ".urls[0]", ".status[0].url",
        ):
            return Endpoint(None, path, raw)
        kind = INVOKABLE_TYPES[res.type]
        return Endpoint(ResolvedTarget(Target(kind, self.cloud_name(res)), address, literal=False),
                        path, raw)

    def audience_target(self, value: object) -> ResolvedTarget | None:
        """The service an OIDC audience names (the service's URL, without a path)."""
        ep = self.endpoint(value)
        if ep.target is None or ep.path != "/":
            return None
        return ep.target

    def topic(self, value: object) -> str | None:
        """Address of the topic a ``topic`` field names (reference, id or name)."""
        resolved = self.resolve_named(value, "google_pubsub_topic", "pubsub.topic")
        res = self.stack.resources.get(resolved.address or "")
        return res.address if res is not None and res.type == "google_pubsub_topic" else None

    # ----- IAM -----

    def _iam_entries(self) -> Iterator[IamEntry]:
        for res in sorted(self.stack.resources.values(), key=lambda r: r.address):
            if res.type.startswith(("data.", "ephemeral.")):
                continue
            mode, base = iam_kind(res.type)
            if mode is None:
                continue
            target = self._iam_target(res, base)
            rtb = lifecycle_triggers(res.body)
            if mode == "member":
                yield IamEntry(res.address, res.type, mode, _str(res.body.get("role")),
                               (self.principal(res.body.get("member")),), target, rtb)
            elif mode == "binding":
                members = res.body.get("members") or []
                yield IamEntry(res.address, res.type, mode, _str(res.body.get("role")),
                               tuple(self.principal(m) for m in _as_list(members)), target, rtb)
            else:
                for role, members in self.policy_bindings(res.body.get("policy_data")):
                    yield IamEntry(res.address, res.type, mode, role,
                                   tuple(self.principal(m) for m in members), target, rtb)

    def _iam_target(self, res: Resource, base: str) -> ResolvedTarget | None:
        spec = IAM_TARGETS.get(base)
        if spec is not None:
            fld, rtype, kind = spec
            value = res.body.get(fld)
            if kind == "project" and value is None:
                value = self.project
            if value is None:
                return None
            return self._same_place(res, self.resolve_named(value, rtype, kind))
        for key, value in res.body.items():
            if key in NON_TARGET_FIELDS:
                continue
            for address in self.stack.refs(value):
                target = self.stack.resources.get(address)
                if target is not None and not target.type.startswith(("data.", "ephemeral.")):
                    return ResolvedTarget(Target("other", self.cloud_name(target)),
                                          target.address, literal=False)
        return None

    def _same_place(self, res: Resource, resolved: ResolvedTarget) -> ResolvedTarget:
        """A grant whose literal project/location differs from its target's is elsewhere."""
        target = self.stack.resources.get(resolved.address or "")
        if target is None:
            return resolved
        for fld in ("project", "location"):
            mine, theirs = res.body.get(fld), target.body.get(fld)
            if fld == "project":
                theirs = theirs or self.project
            if (isinstance(mine, str) and isinstance(theirs, str) and "${" not in mine + theirs
                    and mine != theirs):
                t = resolved.target
                return ResolvedTarget(Target(t.kind, f"{t.name} ({fld} {mine})"), None,
                                      literal=True)
        return resolved

    def policy_bindings(self, policy_data: object) -> list[tuple[str, list[str]]]:
        """``(role, members)`` of a ``data.google_iam_policy`` (or inline JSON) policy."""
        address = self.stack.ref_address(policy_data)
        bindings: list[Any] = []
        if address is not None:
            bindings = _as_list(self.body(address).get("binding"))
        elif isinstance(policy_data, str) and policy_data.strip().startswith("{"):
            try:
                bindings = _as_list(json.loads(policy_data).get("bindings"))
            except (ValueError, AttributeError):
                bindings = []
        out: list[tuple[str, list[str]]] = []
        for b in bindings:
            if isinstance(b, Mapping):
                out.append((_str(b.get("role")), [_str(m) for m in _as_list(b.get("members"))]))
        return out or [("", [])]

    def members_on(self, address: str) -> list[IamEntry]:
        """IAM entries whose target is the stack resource ``address``."""
        return [e for e in self.iam if e.target is not None and e.target.address == address]

    # ----- acting identities -----

    def acting(self) -> list[Acting]:
        """Every slot where an identity acts, omitted ones included (principal ``None``)."""
        out: list[Acting] = []

        def add(kind: SlotKind, res: Resource, fld: str, value: object) -> None:
            principal = self.principal(value) if value not in (None, "") else None
            out.append(Acting(Slot(kind, self.cloud_name(res)), res.address, fld, principal))

        for res in self.resources("google_cloud_run_v2_service"):
            tpl = first(res.body.get("template"))
            add("service.runtime", res, "template.service_account", tpl.get("service_account"))
        for res in self.resources("google_cloud_run_service"):
            spec = first(first(res.body.get("template")).get("spec"))
            add("service.runtime", res, "template.spec.service_account_name",
                spec.get("service_account_name"))
        for res in self.resources("google_cloudfunctions2_function"):
            svc = first(res.body.get("service_config"))
            add("function.runtime", res, "service_config.service_account_email",
                svc.get("service_account_email"))
            build = first(res.body.get("build_config"))
            add("function.build", res, "build_config.service_account",
                build.get("service_account"))
            trig = first(res.body.get("event_trigger"))
            if trig:
                add("function.trigger", res, "event_trigger.service_account_email",
                    trig.get("service_account_email"))
        for res in self.resources("google_cloudfunctions_function"):
            add("function.runtime", res, "service_account_email",
                res.body.get("service_account_email"))
        # A push subscription and an HTTP scheduler job both call as their OIDC token's account.
        calls: tuple[tuple[SlotKind, str, str], ...] = (
            ("subscription.push", "google_pubsub_subscription", "push_config"),
            ("job.oidc", "google_cloud_scheduler_job", "http_target"))
        for kind, rtype, block in calls:
            for res in self.resources(rtype):
                call = first(res.body.get(block))
                if call:
                    add(kind, res, f"{block}.oidc_token.service_account_email",
                        first(call.get("oidc_token")).get("service_account_email"))
        return out


def iam_kind(rtype: str) -> tuple[IamMode | None, str]:
    """``google_x_iam_member`` → (``member``, ``google_x``); non-IAM types → (None, type)."""
    for suffix, mode in IAM_SUFFIXES.items():
        if rtype.endswith(suffix):
            return mode, rtype[: -len(suffix)]
    return None, rtype


def lifecycle_triggers(body: Mapping[str, Any]) -> tuple[str, ...]:
    """The ``lifecycle.replace_triggered_by`` entries of a resource body, as strings."""
    lifecycle = body.get("lifecycle")
    if not isinstance(lifecycle, Mapping):
        return ()
    return tuple(_str(a) for a in _as_list(lifecycle.get("replace_triggered_by")))


def _literal_name(raw: str, kind: TargetKind) -> str:
    text = raw.strip()
    if kind == "iam.serviceAccount":
        m = ACCOUNT_PATH_RE.match(text)
        return m.group(1) if m else text
    if kind == "project":
        return text.removeprefix("projects/")
    # projects/p/topics/t, projects/p/locations/l/services/s, …: the last segment.
    return text.rsplit("/", 1)[-1] if text.startswith("projects/") else text


def _str(value: object) -> str:
    return value if isinstance(value, str) else ("" if value is None else str(value))


def _as_list(value: object) -> list[Any]:
    if isinstance(value, list):
        return value
    return [] if value is None else [value]
