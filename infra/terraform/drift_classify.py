"""Classification of a plan's changes into critical, drift, information and muted noise.

See `infra.terraform.drift` for the classes and the exit codes they map to.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any, Literal

from infra.model.provider.computed import ANY_TYPE, COMPUTED_PATHS
from infra.terraform.drift_gates import (
    gate_change,
    gate_variable,
    gates_inside,
    last_segment,
)
from infra.terraform.drift_ignore import IgnoreEntry
from infra.terraform.plan_json import (
    AttrChange,
    AttrPath,
    Plan,
    ResourceChange,
    diff_values,
    format_path,
    named_steps,
    refers_to,
    render_value,
)

EXIT_CLEAN = 0
EXIT_UNREADABLE = 1
EXIT_DRIFT = 2
EXIT_CRITICAL = 3

Severity = Literal["critical", "drift", "info"]

# Roles whose loss silently stops a push, a trigger or a publish (seed 000: a stripped
# roles/run.invoker stopped the Phase 2 -> 3 orchestrator for 7+ days).
CRITICAL_ROLES = frozenset(
    {
        "roles/run.invoker",
        "roles/cloudfunctions.invoker",
        "roles/pubsub.publisher",
        "roles/pubsub.subscriber",
        "roles/iam.serviceAccountTokenCreator",
    }
)

# Deleting or replacing one of these destroys data. google_firestore_field is deliberately
# not here: it holds a field's TTL/index settings, and deleting it keeps the documents.
DATA_STORE_TYPES = frozenset(
    {
        "google_bigquery_dataset",
        "google_bigquery_table",
        "google_firestore_database",
        "google_storage_bucket",
    }
)

# Replacing one of these drops the IAM policy on it (gen2 functions run on a Cloud Run
# service, so their invoker binding lives there too).
RUNTIME_TYPES = frozenset({"google_cloudfunctions2_function", "google_cloud_run_v2_service"})

# IAM resource type -> attribute naming what it grants on, and the runtime types it can target.
IAM_TARGETS: dict[str, tuple[str, frozenset[str]]] = {
    "google_cloud_run_v2_service_iam_member": ("name", RUNTIME_TYPES),
    "google_cloud_run_v2_service_iam_binding": ("name", RUNTIME_TYPES),
    "google_cloud_run_service_iam_member": ("service", RUNTIME_TYPES),
    "google_cloud_run_service_iam_binding": ("service", RUNTIME_TYPES),
    "google_cloudfunctions2_function_iam_member": (
        "cloud_function",
        frozenset({"google_cloudfunctions2_function"}),
    ),
    "google_cloudfunctions2_function_iam_binding": (
        "cloud_function",
        frozenset({"google_cloudfunctions2_function"}),
    ),
}

# Settings that decide where, and as which identity, a message or call is delivered, or as
# which identity a component acts (its grants belong to that identity): changed out of band,
# each silently stops an edge or strips a component's rights.
DELIVERY_CRITICAL_PATHS: dict[str, dict[tuple[str, ...], str]] = {
    "google_pubsub_subscription": {
        ("push_config", "push_endpoint"): "push delivery or its identity",
        ("push_config", "oidc_token", "service_account_email"): "push delivery or its identity",
        ("push_config", "oidc_token", "audience"): "push delivery or its identity",
    },
    "google_cloud_scheduler_job": {
        ("http_target", "uri"): "the scheduled call's target or its OIDC identity",
        ("http_target", "oidc_token", "service_account_email"):
            "the scheduled call's target or its OIDC identity",
        ("http_target", "oidc_token", "audience"):
            "the scheduled call's target or its OIDC identity",
    },
    "google_cloudfunctions2_function": {
        ("event_trigger", "service_account_email"): "the event trigger's identity or topic",
        ("event_trigger", "pubsub_topic"): "the event trigger's identity or topic",
        ("service_config", "service_account_email"):
            "the runtime identity (its grants belong to the declared one)",
    },
    "google_cloud_run_v2_service": {
        ("template", "service_account"):
            "the runtime identity (its grants belong to the declared one)",
    },
}

# Services are released by their own repos (`gcloud run deploy`), so the image a service runs
# changes outside Terraform by design and the stack ignores it (`lifecycle.ignore_changes`).
# A change of nothing but the image is therefore information, naming the image now deployed;
# any other change alongside it is still drift. (The path as terraform's plan JSON writes
# it: nested blocks are lists, `template[0].containers[0].image`.)
DEPLOYED_IMAGE_PATHS: dict[str, tuple[str, ...]] = {
    "google_cloud_run_v2_service": ("template", "containers", "image"),
}
# What the same release writes beside the image: gcloud records itself as the service's
# `client`/`client_version` (cloud_run_v2_service doc: "Arbitrary identifier for the API
# client" / "Arbitrary version identifier for the API client"). The stack ignores these too.
RELEASE_CLIENT_PATHS: dict[str, frozenset[tuple[str, ...]]] = {
    "google_cloud_run_v2_service": frozenset({("client",), ("client_version",)}),
}
IMAGE_LIMIT = 400



# The resource types these stacks declare; anything else is reported with a note.
KNOWN_TYPES = frozenset(
    {
        *DATA_STORE_TYPES,
        *RUNTIME_TYPES,
        *IAM_TARGETS,
        "google_artifact_registry_repository",
        "google_bigquery_dataset_iam_member",
        "google_bigquery_table_iam_member",
        "google_cloud_run_v2_job",
        "google_cloud_scheduler_job",
        "google_firestore_field",
        "google_firestore_index",
        "google_logging_metric",
        "google_monitoring_alert_policy",
        "google_monitoring_dashboard",
        "google_monitoring_notification_channel",
        "google_project_iam_member",
        "google_project_service",
        "google_pubsub_subscription",
        "google_pubsub_subscription_iam_member",
        "google_pubsub_topic",
        "google_pubsub_topic_iam_member",
        "google_secret_manager_secret",
        "google_secret_manager_secret_iam_member",
        "google_secret_manager_secret_version",
        "google_service_account",
        "google_service_account_iam_member",
        "google_storage_bucket_iam_member",
        "google_storage_bucket_object",
        "time_sleep",
    }
)

REASON_OUTPUT = "output-only change"
REASON_COMPUTED = "provider-computed attribute"
REASON_IAM_ETAG = "etag-only change on IAM member"
REASON_DATA_SOURCE = "data source re-read"


@dataclass(frozen=True)
class Finding:
    """One row of the critical or drift table."""

    severity: Severity
    address: str
    resource_type: str
    what: str
    before: str
    after: str


@dataclass(frozen=True)
class Muted:
    """One muted change, counted under `reason`."""

    address: str
    what: str
    reason: str


@dataclass(frozen=True)
class Review:
    """Everything the report and the exit code are made from."""

    plan: Plan
    findings: tuple[Finding, ...]
    muted: tuple[Muted, ...]

    @property
    def critical(self) -> tuple[Finding, ...]:
        """Findings of class critical."""
        return tuple(f for f in self.findings if f.severity == "critical")

    @property
    def drift(self) -> tuple[Finding, ...]:
        """Findings of class drift."""
        return tuple(f for f in self.findings if f.severity == "drift")

    @property
    def info(self) -> tuple[Finding, ...]:
        """Findings of class information (a service's deployed image); never drift."""
        return tuple(f for f in self.findings if f.severity == "info")

    @property
    def exit_code(self) -> int:
        """3 with any critical finding, else 2 with any drift, else 0 (information too)."""
        if self.critical:
            return EXIT_CRITICAL
        return EXIT_DRIFT if self.drift else EXIT_CLEAN


def is_iam(rc: ResourceChange) -> bool:
    """IAM member or binding resources (the ones that carry a `role`)."""
    return rc.resource_type.endswith(("_iam_member", "_iam_binding"))


def critical_role(rc: ResourceChange) -> str | None:
    """The role when `rc` grants one of `CRITICAL_ROLES` before or after, else None."""
    if not is_iam(rc):
        return None
    for side in (rc.before, rc.after):
        role = side.get("role") if isinstance(side, dict) else None
        if role in CRITICAL_ROLES:
            return str(role)
    return None


def grant_text(rc: ResourceChange) -> str:
    """`roles/run.invoker` grant for `serviceAccount:...`, for table cells (the critical role
    when the grant held one on either side)."""
    members = rc.value("member") or rc.value("members") or "?"
    if isinstance(members, list):
        members = ", ".join(map(str, members))
    return f"`{critical_role(rc) or rc.value('role')}` grant for `{members}`"


# A computed path as steps: a name, or None where the path writes `[]` (any list index).
ComputedPath = tuple[str | None, ...]
_COMPUTED_STEP = re.compile(r"([a-z_][a-z0-9_]*)((?:\[\])*)")


def parse_computed_path(text: str) -> ComputedPath:
    """`conditions[].name` -> ("conditions", None, "name"); ValueError on anything else."""
    steps: list[str | None] = []
    for part in text.split("."):
        match = _COMPUTED_STEP.fullmatch(part)
        if match is None:
            raise ValueError(f"cannot parse computed path {text!r} at {part!r}")
        steps.append(match.group(1))
        steps.extend([None] * (len(match.group(2)) // 2))
    return tuple(steps)


_COMPUTED: dict[str, tuple[ComputedPath, ...]] = {
    rtype: tuple(parse_computed_path(p) for p in paths) for rtype, paths in COMPUTED_PATHS.items()
}
# ANY_TYPE names are top-level only: one step each, never matched deeper.
_ANY_TYPE: tuple[ComputedPath, ...] = tuple((name,) for name in ANY_TYPE)


def _lies_under(path: AttrPath, computed: ComputedPath) -> bool:
    """`path` equals `computed` or lies under it; a list index matches `[]` (None)."""
    return len(path) >= len(computed) and all(
        isinstance(step, int) if want is None else step == want
        for step, want in zip(path, computed, strict=False)
    )


def computed_prefix(resource_type: str, path: AttrPath) -> AttrPath | None:
    """The part of `path` that is a provider-computed attribute of `resource_type`, or None.

    Computed means: equal to, or under, one of the type's `COMPUTED_PATHS`, or a top-level
    `ANY_TYPE` name (`etag`). The prefix is the computed attribute itself:
    `terminal_condition[0].last_transition_time` -> `terminal_condition`, so one computed
    block that changed counts once, not once per leaf.
    """
    depths = [
        len(computed)
        for computed in (*_ANY_TYPE, *_COMPUTED.get(resource_type, ()))
        if _lies_under(path, computed)
    ]
    return path[: min(depths)] if depths else None


def delivery_critical(rc: ResourceChange, path: AttrPath) -> str | None:
    """Why a change at `path` stops delivery or strips rights (`DELIVERY_CRITICAL_PATHS`)."""
    steps = named_steps(path)
    for critical, why in DELIVERY_CRITICAL_PATHS.get(rc.resource_type, {}).items():
        if steps[: len(critical)] == critical:
            return why
    return None


def classify_drift(
    rc: ResourceChange, ignores: Sequence[IgnoreEntry], planned: dict[str, ResourceChange]
) -> tuple[list[Finding], list[Muted]]:
    """Classify one `resource_drift` entry into findings and muted changes."""
    if rc.mode == "data":
        return [], [Muted(rc.address, "data source", REASON_DATA_SOURCE)]
    if "delete" in rc.actions:
        return [_deleted_out_of_band(rc, planned.get(rc.address))], []
    changes = diff_values(
        rc.before,
        rc.after,
        before_sensitive=rc.before_sensitive,
        after_sensitive=rc.after_sensitive,
    )
    known = rc.resource_type in KNOWN_TYPES
    findings: list[Finding] = []
    muted: list[Muted] = []
    computed_reason = REASON_COMPUTED
    if is_iam(rc) and changes and all(named_steps(c.path)[-1:] == ("etag",) for c in changes):
        computed_reason = REASON_IAM_ETAG
    # Computed attributes are trusted only where we know the schema (and IAM etags, which
    # every IAM resource has); on an unknown type a "state" may be a paused queue.
    trust_computed = known or is_iam(rc)
    reported: list[AttrChange] = []
    for change in changes:
        prefix = computed_prefix(rc.resource_type, change.path) if trust_computed else None
        if prefix is not None:
            muted.append(Muted(rc.address, format_path(prefix), computed_reason))
            continue
        for finding in _changed_out_of_band(rc, change, known):
            # The ignore file is for tolerated noise; it never hides a critical change.
            entry = None
            if finding.severity != "critical":
                entry = next((e for e in ignores if e.matches(rc.address, change.path)), None)
            if entry is None:
                findings.append(finding)
                if change not in reported:
                    reported.append(change)
            else:
                muted.append(
                    Muted(rc.address, format_path(change.path), f"ignore file: {entry.reason}")
                )
    image = DEPLOYED_IMAGE_PATHS.get(rc.resource_type)
    client = RELEASE_CLIENT_PATHS.get(rc.resource_type, frozenset())
    images = [c for c in reported if named_steps(c.path) == image]
    if images and all(c in images or named_steps(c.path) in client for c in reported):
        findings = [_image_deployed(rc, c) for c in images]
        muted += [Muted(rc.address, format_path(c.path), "written by the release that deployed "
                        "the image (gcloud)") for c in reported if c not in images]
    return findings, list(dict.fromkeys(muted))


def _image_deployed(rc: ResourceChange, change: AttrChange) -> Finding:
    """Information: the service's own release deployed another image (not drift)."""
    # In full: an image reference is what a reader looks up in the registry.
    before = render_value(change.before, sensitive=change.sensitive, limit=IMAGE_LIMIT)
    after = render_value(change.after, sensitive=change.sensitive, limit=IMAGE_LIMIT)
    return Finding(
        "info",
        rc.address,
        rc.resource_type,
        f"`{format_path(change.path)}`: the service's own release deployed {after}; "
        "not drift, the stack keeps the deployed image",
        before,
        after,
    )


def _changed_out_of_band(rc: ResourceChange, change: AttrChange, known: bool) -> list[Finding]:
    """The findings for one attribute changed outside Terraform: one, unless a masked block
    holding a function's environment changed (then also one per gate variable changed in it)."""
    variable = gate_variable(rc, change.path)
    if variable is not None:
        return [_gate_finding(rc, change, variable, change.before, change.after)]
    inside = [
        _gate_finding(rc, change, name, before, after)
        for name, before, after in gates_inside(rc, change)
    ]
    return [*inside, _attribute_changed(rc, change, known)]


def _attribute_changed(rc: ResourceChange, change: AttrChange, known: bool) -> Finding:
    """A finding for one attribute changed outside Terraform."""
    where = f"`{format_path(change.path)}`"
    severity: Severity = "drift"
    why = delivery_critical(rc, change.path)
    if why:
        severity, what = "critical", f"{where} changed out of band: {why}"
    elif critical_role(rc):
        severity, what = "critical", f"{where} of {grant_text(rc)} changed out of band"
    elif not known:
        what = f"{where} changed out of band (unknown resource type)"
    else:
        what = f"{where} changed out of band"
    return Finding(
        severity,
        rc.address,
        rc.resource_type,
        what,
        render_value(change.before, sensitive=change.sensitive),
        render_value(change.after, sensitive=change.sensitive),
    )


def _gate_finding(
    rc: ResourceChange, change: AttrChange, variable: str, before: Any, after: Any
) -> Finding:
    """Critical when a gate variable now reads differently, drift when only its order or
    spelling changed (``infra.terraform.drift_gates.gate_change``)."""
    severity, what, before_cell, after_cell = gate_change(rc, change, variable, before, after)
    return Finding(severity, rc.address, rc.resource_type, what, before_cell, after_cell)



def _deleted_out_of_band(rc: ResourceChange, planned: ResourceChange | None) -> Finding:
    """A finding for a resource that no longer exists outside Terraform's knowledge."""
    recreated = planned is not None and "create" in planned.actions
    tail = "; the plan re-creates it" if recreated else ""
    severity: Severity = "critical"
    if critical_role(rc):
        what = f"{grant_text(rc)} deleted out of band{tail}"
    elif rc.resource_type in DATA_STORE_TYPES:
        what = f"data store deleted out of band{tail}"
    elif rc.resource_type in RUNTIME_TYPES:
        what = f"deleted out of band, with the IAM policy on it{tail}"
    else:
        severity = "drift"
        note = "" if rc.resource_type in KNOWN_TYPES else " (unknown resource type)"
        what = f"deleted out of band{note}{tail}"
    return Finding(severity, rc.address, rc.resource_type, what, "exists", "deleted")


def check_planned(plan: Plan) -> list[Finding]:
    """Critical rules on planned changes: data-store loss, IAM deletion, lonely replacement."""
    findings: list[Finding] = []
    iam_members = [rc for rc in plan.resource_changes if rc.resource_type in IAM_TARGETS]
    for rc in plan.resource_changes:
        if rc.mode != "managed":
            continue
        if rc.resource_type in DATA_STORE_TYPES and rc.action in ("delete", "replace"):
            findings.append(
                _planned(rc, f"plan will {rc.action} a data store: its data is destroyed")
            )
        if critical_role(rc) and rc.action == "delete":
            findings.append(_planned(rc, f"plan deletes {grant_text(rc)}"))
        if rc.resource_type in RUNTIME_TYPES and rc.action == "replace":
            finding = _check_replacement(rc, iam_members, plan)
            if finding is not None:
                findings.append(finding)
    return findings


def _planned(rc: ResourceChange, what: str) -> Finding:
    """A critical finding about a planned change, with Terraform's reason when it gave one."""
    after = {"delete": "deleted", "replace": "replaced"}.get(rc.action, rc.action)
    return Finding("critical", rc.address, rc.resource_type, what + _why(rc), "exists", after)


def _why(rc: ResourceChange) -> str:
    """` (replace_because_cannot_update: location)` from action_reason and replace_paths."""
    if not rc.action_reason:
        return ""
    paths = ", ".join(format_path(p) for p in rc.replace_paths)
    return f" ({rc.action_reason}{': ' + paths if paths else ''})"


def _check_replacement(
    target: ResourceChange, iam_members: Iterable[ResourceChange], plan: Plan
) -> Finding | None:
    """Critical when a replaced function/service loses a grant the plan does not re-create."""
    targeting = [m for m in iam_members if targets(m, target, plan)]
    if not targeting:
        return _planned(target, "replaced, and no IAM member in the plan grants access to it")
    stale = [m.address for m in targeting if m.action not in ("replace", "create")]
    if not stale:
        return None
    names = ", ".join(f"`{address}`" for address in stale)
    return _planned(target, f"replaced but its IAM members are not: {names} would be lost")


def targets(member: ResourceChange, target: ResourceChange, plan: Plan) -> bool:
    """Whether an IAM member grants on `target`, by config reference or by resource name."""
    attribute, target_types = IAM_TARGETS[member.resource_type]
    if target.resource_type not in target_types:
        return False
    if refers_to(plan.references.get(member.config_address, frozenset()), target.address):
        return True
    granted_on = member.value(attribute)
    if not isinstance(granted_on, str) or not granted_on:
        return False
    return last_segment(granted_on) in _target_names(member, target)


def _target_names(member: ResourceChange, target: ResourceChange) -> set[str]:
    """Short names an IAM member may use for `target`."""
    names = {last_segment(str(target.value("name") or ""))}
    service_config = target.value("service_config")
    if member.resource_type.startswith("google_cloud_run") and isinstance(service_config, list):
        # A gen2 function's invoker is bound on the Cloud Run service that runs it.
        for block in service_config:
            if isinstance(block, dict) and isinstance(block.get("service"), str):
                names.add(last_segment(block["service"]))
    return names - {""}


def review(plan: Plan, ignores: Sequence[IgnoreEntry], today: date) -> Review:
    """Classify everything in the plan; expired ignore entries become drift findings."""
    active = [e for e in ignores if not e.expired(today)]
    findings = [_expired_finding(e) for e in ignores if e.expired(today)]
    muted: list[Muted] = []
    planned = {rc.address: rc for rc in plan.resource_changes}
    for rc in plan.resource_drift:
        found, quiet = classify_drift(rc, active, planned)
        findings.extend(found)
        muted.extend(quiet)
    findings.extend(check_planned(plan))
    muted.extend(
        Muted(f"output.{out.name}", out.name, REASON_OUTPUT)
        for out in plan.output_changes
        if out.action != "no-op"
    )
    return Review(plan, tuple(dict.fromkeys(findings)), tuple(muted))


def _expired_finding(entry: IgnoreEntry) -> Finding:
    """An expired ignore entry no longer mutes anything and must be renewed or removed."""
    return Finding(
        "drift",
        entry.address,
        "ignore entry",
        f"ignore entry for `{format_path(entry.attribute)}` expired on {entry.expires} "
        f"({entry.reason}); renew it or fix the drift",
        f"muted until {entry.expires}",
        "not muted",
    )
