"""Classification of a plan's changes into critical, drift, information and muted noise.

See `infra.terraform.drift` for the classes and the exit codes they map to; the rule sets
they apply are in `infra.terraform.drift_rules`.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any, Literal

from infra.terraform.drift_gates import (
    gate_change,
    gate_variable,
    gates_inside,
    last_segment,
)
from infra.terraform.drift_ignore import IgnoreEntry
from infra.terraform.drift_rules import (
    DATA_STORE_TYPES,
    DEPLOYED_IMAGE_PATHS,
    IAM_TARGETS,
    IMAGE_LIMIT,
    KNOWN_TYPES,
    RELEASE_CLIENT_PATHS,
    RUNTIME_TYPES,
    computed_prefix,
    critical_role,
    delivery_critical,
    grant_text,
    is_iam,
)
from infra.terraform.plan_json import (
    AttrChange,
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

REASON_OUTPUT = "output-only change"
REASON_COMPUTED = "provider-computed attribute"
REASON_IAM_ETAG = "etag-only change on IAM member"
REASON_DATA_SOURCE = "data source re-read"


@dataclass(frozen=True)
class Finding:
    """One row of the critical or drift table."""

    severity: Severity
    """Its table: ``critical`` exits 3, ``drift`` 2, ``info`` (a deployed image) never fails."""
    address: str
    """The resource's Terraform address; an expired ignore entry's address glob."""
    resource_type: str
    """Terraform type (``google_pubsub_subscription``); ``ignore entry`` for an expired one."""
    what: str
    """Markdown sentence of what happened, the attribute in backticks
    (``"`ack_deadline_seconds` changed out of band"``)."""
    before: str
    """The value before as one short line (``render_value``: a secret is ``(sensitive)``,
    nothing ``(absent)``), or a state word (``exists``); likewise ``after`` (``deleted``)."""
    after: str


@dataclass(frozen=True)
class Muted:
    """One muted change, counted under `reason`."""

    address: str
    """The resource's Terraform address, ``output.<name>`` for an output."""
    what: str
    """What changed: an attribute path (``template[0].labels``), ``data source`` or an output's
    name; the report lists up to five per reason."""
    reason: str
    """Why it is noise, the report's row (``provider-computed attribute``, ``ignore file: <its
    reason>``)."""


@dataclass(frozen=True)
class Review:
    """Everything the report and the exit code are made from."""

    plan: Plan
    findings: tuple[Finding, ...]
    """Every finding once: expired ignore entries, then drift, then planned-change rules."""
    muted: tuple[Muted, ...]
    """The noise left out of the findings, counted by reason in the report."""

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
