"""Drift review of a Terraform plan JSON, as Markdown for a PR or an incident issue.

    python -m infra.drift PLAN_JSON [--ignore FILE] [--today YYYY-MM-DD]

PLAN_JSON is `terraform show -json PLANFILE` of a refresh-only plan
(`terraform plan -refresh-only -out=PLANFILE`) or of a normal plan.

Exit codes: 0 no drift (noise only), 2 drift, 3 critical drift, 1 unreadable input
(plan or ignore file; one line on stderr naming the file and the reason).

Classes:

critical -- things that stop the pipeline or lose data:
  * a grant of an invoke/publish role (`CRITICAL_ROLES`) deleted or changed out of band,
    or deleted by the plan;
  * a push subscription's endpoint, OIDC service account or audience, a scheduler job's URI
    or OIDC identity, a function's trigger identity or topic, or the identity a function or
    service runs as, changed out of band (`DELIVERY_CRITICAL_PATHS`);
  * a function or service deleted out of band, or replaced by the plan while an IAM member
    that targets it is not replaced or created with it (the new one starts without the
    grant, and Terraform will not notice until the next refresh);
  * a data store (`DATA_STORE_TYPES`) deleted out of band, or deleted or replaced by the plan.
drift -- every other change made outside Terraform, one row per attribute, secrets masked.
  Unknown resource types are always drift, with a note: we cannot tell noise from harm.
noise -- muted but counted: provider-computed attributes (`COMPUTED_ATTRIBUTES`), etag-only
  changes on IAM members, output-only changes, and attributes listed in the ignore file
  (infra/terraform/drift-ignore.json). The ignore file never mutes a critical change; an entry past
  its `expires` day stops muting and is itself reported as drift.

Planned changes in a normal plan are not drift; only the critical rules look at them.
"""

from __future__ import annotations

import argparse
import re
import sys
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date
from fnmatch import fnmatchcase
from pathlib import Path
from typing import Any, Literal

from infra.cli import Parser, UsageError
from infra.terraform.plan_json import (
    AttrChange,
    AttrPath,
    InputError,
    Plan,
    ResourceChange,
    diff_values,
    format_path,
    load_plan,
    named_steps,
    parse_path,
    read_json,
    refers_to,
    render_value,
)

DEFAULT_IGNORE_FILE = Path(__file__).with_name("drift-ignore.json")

EXIT_CLEAN = 0
EXIT_UNREADABLE = 1
EXIT_DRIFT = 2
EXIT_CRITICAL = 3

Severity = Literal["critical", "drift"]

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


# Attributes the provider computes; they change without anyone touching the resource.
COMPUTED_ATTRIBUTES = (
    "etag",
    "update_time",
    "create_time",
    "delete_time",
    "expire_time",
    "uid",
    "generation",
    "observed_generation",
    "reconciling",
    "state",
    "conditions",
    "terminal_condition",
    "latest_*_revision",
    "last_modified_time",
    "last_modifier",
    "traffic_statuses",
    "creation_time",
    "num_bytes",
    "num_long_term_bytes",
    "num_rows",
)

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
class IgnoreEntry:
    """One entry of the ignore file: mute `attribute` (prefix) on addresses matching a glob."""

    address: str
    attribute: AttrPath
    reason: str
    expires: date

    def matches(self, address: str, path: AttrPath) -> bool:
        """Glob match on the address, segment-prefix match on the attribute path."""
        return fnmatchcase(address, _escape_brackets(self.address)) and path_has_prefix(
            path, self.attribute
        )

    def expired(self, today: date) -> bool:
        """An entry is valid through its `expires` day."""
        return today > self.expires


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
    def exit_code(self) -> int:
        """3 with any critical finding, else 2 with any drift, else 0."""
        if self.critical:
            return EXIT_CRITICAL
        return EXIT_DRIFT if self.drift else EXIT_CLEAN


# --- ignore file -------------------------------------------------------------------------


def _escape_brackets(glob: str) -> str:
    """Only `*` and `?` are wildcards: addresses contain `[0]` and `["key"]` literally."""
    return re.sub(r"([\[\]])", r"[\1]", glob)


def path_has_prefix(path: AttrPath, prefix: AttrPath) -> bool:
    """Whether `prefix` leads to `path`; indices the prefix leaves out match any index.

    So `template.containers.env` covers `template[0].containers[1].env[2].value`, while
    `template[0].containers[0].env[2]` covers only that one variable.
    """
    position = 0
    for step in prefix:
        while (
            position < len(path) and isinstance(path[position], int) and not isinstance(step, int)
        ):
            position += 1
        if position >= len(path) or path[position] != step:
            return False
        position += 1
    return True


def load_ignore_file(path: str | Path) -> tuple[IgnoreEntry, ...]:
    """Read the ignore file; raise `InputError` on any entry without reason or expiry."""
    data = read_json(path)
    entries = data.get("ignore") if isinstance(data, dict) else None
    if not isinstance(entries, list):
        raise InputError(path, 'expected an object with an "ignore" list')
    return tuple(_parse_ignore_entry(entry, index, path) for index, entry in enumerate(entries))


def _parse_ignore_entry(entry: Any, index: int, path: str | Path) -> IgnoreEntry:
    """Validate one ignore entry; every mute needs a reason and an expiry date."""
    where = f"ignore[{index}]"
    if not isinstance(entry, dict):
        raise InputError(path, f"{where} is not an object")
    for field in ("address", "attribute", "reason", "expires"):
        value = entry.get(field)
        if not isinstance(value, str) or not value.strip():
            raise InputError(
                path,
                f"{where}: missing {field!r} (every entry needs address, attribute, "
                "reason and expires YYYY-MM-DD)",
            )
    try:
        expires = date.fromisoformat(entry["expires"])
    except ValueError:
        raise InputError(
            path, f"{where}: expires {entry['expires']!r} is not a YYYY-MM-DD date"
        ) from None
    try:
        attribute = parse_path(entry["attribute"])
    except ValueError as err:
        raise InputError(path, f"{where}: {err}") from None
    return IgnoreEntry(entry["address"], attribute, entry["reason"].strip(), expires)


# --- classification ------------------------------------------------------------------------


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


def computed_prefix(path: AttrPath) -> AttrPath | None:
    """The path up to its first provider-computed attribute name, or None if it has none.

    `terminal_condition[0].last_transition_time` -> `terminal_condition`, so one computed
    block that changed counts once, not once per leaf.
    """
    for position, step in enumerate(path):
        if isinstance(step, str) and any(fnmatchcase(step, p) for p in COMPUTED_ATTRIBUTES):
            return path[: position + 1]
    return None


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
    for change in changes:
        prefix = computed_prefix(change.path) if trust_computed else None
        if prefix is not None:
            muted.append(Muted(rc.address, format_path(prefix), computed_reason))
            continue
        finding = _changed_out_of_band(rc, change, known)
        # The ignore file is for tolerated noise; it never hides a critical change.
        entry = None
        if finding.severity != "critical":
            entry = next((e for e in ignores if e.matches(rc.address, change.path)), None)
        if entry is None:
            findings.append(finding)
        else:
            muted.append(
                Muted(rc.address, format_path(change.path), f"ignore file: {entry.reason}")
            )
    return findings, list(dict.fromkeys(muted))


def _changed_out_of_band(rc: ResourceChange, change: AttrChange, known: bool) -> Finding:
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
    return _last_segment(granted_on) in _target_names(member, target)


def _target_names(member: ResourceChange, target: ResourceChange) -> set[str]:
    """Short names an IAM member may use for `target`."""
    names = {_last_segment(str(target.value("name") or ""))}
    service_config = target.value("service_config")
    if member.resource_type.startswith("google_cloud_run") and isinstance(service_config, list):
        # A gen2 function's invoker is bound on the Cloud Run service that runs it.
        for block in service_config:
            if isinstance(block, dict) and isinstance(block.get("service"), str):
                names.add(_last_segment(block["service"]))
    return names - {""}


def _last_segment(name: str) -> str:
    """`projects/p/locations/l/services/svc` -> `svc`."""
    return name.rstrip("/").rsplit("/", 1)[-1]


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


# --- report --------------------------------------------------------------------------------


def cell(text: str) -> str:
    """Make text safe inside a Markdown table cell (GFM reads `\\|` as a pipe, even in code)."""
    return text.replace("|", "\\|").replace("\n", " ")


def code(text: str) -> str:
    """Wrap in a code span that survives backticks inside."""
    fence = "``" if "`" in text else "`"
    return f"{fence}{text}{fence}" if fence == "`" else f"{fence} {text} {fence}"


def verdict(result: Review) -> str:
    """The one-line verdict at the top of the report."""
    if result.critical:
        return (
            f"**Verdict: CRITICAL** - {len(result.critical)} finding(s) can stop the pipeline "
            "or destroy data; act before the next apply."
        )
    if result.drift:
        return (
            f"**Verdict: drift** - {len(result.drift)} change(s) made outside Terraform; "
            "revert them with an apply or codify them."
        )
    return f"**Verdict: no drift** - {len(result.muted)} muted change(s)."


def render(result: Review) -> str:
    """The Markdown report."""
    plan = result.plan
    planned = sum(rc.action not in ("no-op", "read") for rc in plan.resource_changes)
    lines = [
        f"# Drift review: {code(plan.source)}",
        "",
        verdict(result),
        "",
        f"Plan: {plan.kind}, format_version {plan.format_version}, terraform "
        f"{plan.terraform_version}, {len(plan.resource_drift)} drifted and "
        f"{planned} planned resource change(s) checked.",
    ]
    if plan.errored:
        lines += ["", "Note: the plan reports `errored: true`; this review may be incomplete."]
    lines += [
        "",
        "| class | count |",
        "|---|---|",
        f"| critical | {len(result.critical)} |",
        f"| drift | {len(result.drift)} |",
        f"| noise (muted) | {len(result.muted)} |",
        "",
    ]
    lines += _findings_section("Critical", result.critical)
    lines += _findings_section("Drift", result.drift)
    lines += _muted_section(result.muted)
    return "\n".join(lines).rstrip() + "\n"


def _findings_section(title: str, findings: Sequence[Finding]) -> list[str]:
    """A heading and a table of findings, or "None."."""
    lines = [f"## {title} ({len(findings)})", ""]
    if not findings:
        return [*lines, "None.", ""]
    lines += ["| address | type | what changed | before → after |", "|---|---|---|---|"]
    lines += [
        f"| {cell(code(f.address))} | {cell(code(f.resource_type))} | {cell(f.what)} "
        f"| {cell(code(f.before))} → {cell(code(f.after))} |"
        for f in findings
    ]
    return [*lines, ""]


def _muted_section(muted: Sequence[Muted]) -> list[str]:
    """Muted changes counted by reason, with the attributes involved."""
    lines = [f"## Muted noise ({len(muted)})", ""]
    if not muted:
        return [*lines, "None.", ""]
    counts = Counter(m.reason for m in muted)
    lines += ["| reason | count | attributes |", "|---|---|---|"]
    for reason, count in sorted(counts.items(), key=lambda item: (-item[1], item[0])):
        names = sorted({m.what for m in muted if m.reason == reason})
        shown = ", ".join(code(n) for n in names[:5]) + (", …" if len(names) > 5 else "")
        lines.append(f"| {cell(reason)} | {count} | {cell(shown)} |")
    return [*lines, ""]


# --- CLI -----------------------------------------------------------------------------------



def build_parser() -> argparse.ArgumentParser:
    """The command-line interface."""
    parser = Parser(
        prog="python -m infra.drift",
        description="Review drift in `terraform show -json` plan output; prints Markdown.",
        epilog="Exit: 0 no drift, 2 drift, 3 critical drift, 1 unreadable input.",
    )
    parser.add_argument("plan_json", help="output of `terraform show -json PLANFILE`")
    parser.add_argument(
        "--ignore",
        default=str(DEFAULT_IGNORE_FILE),
        help="ignore file (default: infra/terraform/drift-ignore.json)",
    )
    parser.add_argument(
        "--today", help="date used to expire ignore entries, YYYY-MM-DD (default: today)"
    )
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the review; return the exit code."""
    try:
        args = build_parser().parse_args(argv)
        today = date.fromisoformat(args.today) if args.today else date.today()
    except UsageError as err:
        print(f"drift: usage: {err}", file=sys.stderr)
        return EXIT_UNREADABLE
    except ValueError:
        print(f"drift: --today {args.today!r} is not a YYYY-MM-DD date", file=sys.stderr)
        return EXIT_UNREADABLE
    try:
        plan = load_plan(args.plan_json)
        ignores = load_ignore_file(args.ignore)
    except InputError as err:
        print(f"drift: {err}", file=sys.stderr)
        return EXIT_UNREADABLE
    result = review(plan, ignores, today)
    sys.stdout.write(render(result))
    return result.exit_code


if __name__ == "__main__":
    sys.exit(main())
