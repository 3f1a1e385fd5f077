"""The rules the drift review applies: which roles, types and attributes are critical, which
changes are a service's release, which attributes the provider computes.

The sets are named in the classes of ``infra.terraform.drift``; ``infra.terraform.drift_classify``
applies them to a plan's changes.
"""

from __future__ import annotations

import re

from infra.model.provider.computed import ANY_TYPE, COMPUTED_PATHS
from infra.terraform.plan_json import AttrPath, ResourceChange, named_steps

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
