"""The live configuration ``make inventory`` records: each resource as the REST API its
Terraform resource mirrors returns it.

Cloud Asset Inventory's ``versionedResources`` are not always there, and not always in the
API version the provider reads (a Cloud Run service is listed in the Knative ``v1`` shape,
``google_cloud_run_v2_service`` mirrors ``run.googleapis.com/v2``). So ``make inventory``
also GETs every listed resource of a type in ``MIRRORS`` from that API and records the body
as ``{"version": <MIRRORS[type].version>, "resource": <body>}`` in the entry's
``versionedResources``; adoption prefers that version (``MIRRORED_VERSION``). Every read is
a metadata GET: a secret is read as ``projects/P/secrets/S`` (its metadata), never a
version, never ``:access``.

``config_url`` builds the GET from the entry's full resource name (``//<host>/<path>``);
``service_url`` builds the Service Usage GET of one API's state; ``get_json`` is the default
reader (Application Default Credentials, ``AuthorizedSession``), ``RestError`` carrying the
HTTP status when it fails.

What never reaches the inventory file (``masked``, applied to every recorded
representation, the Asset Inventory ones included):

* ``sensitiveLabels`` (a notification channel's credentials), at any depth: every value
  becomes ``"<masked>"``, the keys are kept (they say a credential is set);
* a notification channel's ``labels`` whose key names a credential (``auth_token``,
  ``password``, ``service_key``: ``SENSITIVE_NAME``): the value becomes ``"<masked>"``;
* environment variables (Cloud Run ``env`` lists, v2 and Knative v1; Cloud Functions
  ``environmentVariables`` and ``buildEnvironmentVariables`` maps; ``NAME=value`` strings)
  whose name matches ``SENSITIVE_NAME`` (``TOKEN``, ``SECRET``, ``PASSWORD``, ``KEY``,
  any case): the value becomes ``"<masked>"``; a reference to a secret (``valueSource``,
  ``valueFrom``) is kept;
* ``secretEnvironmentVariables`` and ``secretVolumes``: only the secret references are kept
  (``key``, ``projectId``, ``secret``, ``version``; ``mountPath``, ``versions``);
* HTTP ``headers`` (a scheduler job's target) named ``Authorization`` or matching
  ``SENSITIVE_NAME``: the value becomes ``"<masked>"``.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any
from urllib.parse import quote

import google.auth
import requests
from google.auth.transport.requests import AuthorizedSession

JSON = dict[str, Any]

MASK = "<masked>"
SENSITIVE_NAME = re.compile(r"TOKEN|SECRET|PASSWORD|KEY", re.IGNORECASE)
"""A variable, label or header name whose value is a credential."""
NAME_RE = re.compile(r"^//(?P<host>[a-z0-9.-]+\.googleapis\.com)/(?P<path>.+)$")
SCOPE = "https://www.googleapis.com/auth/cloud-platform"
TIMEOUT_SECONDS = 60
SEGMENT = r"[^/?#%:\s]+"
"""One name segment; never a ``:verb`` (a secret's ``:access``) or an escaped character."""


@dataclass(frozen=True)
class Mirror:
    """The REST API one Terraform resource type mirrors, for one Cloud Asset type."""

    version: str
    """The API version recorded as ``versionedResources[].version``."""
    path: re.Pattern[str]
    """The accepted relative names (the full name without ``//<host>/``); named groups are
    available to ``url``."""
    url: str
    """The GET URL, ``str.format``-ed with ``path`` and the named groups of ``path``."""
    role: str
    """The narrowest predefined role with the ``get`` permission (never a primitive role)."""
    host: str
    """The host of the asset's full resource name."""


def _mirror(version: str, host: str, path: str, url: str, role: str) -> Mirror:
    return Mirror(version, re.compile(f"^{path.replace('*', SEGMENT)}$"), url, role, host)


# Asset type → the API its Terraform resource mirrors. ``*`` in a path is one name segment.
MIRRORS: Mapping[str, Mirror] = MappingProxyType({
    # google_cloud_run_v2_service
    # @see https://cloud.google.com/run/docs/reference/rest/v2/projects.locations.services/get
    "run.googleapis.com/Service": _mirror(
        "v2", "run.googleapis.com", "projects/*/locations/*/services/*",
        "https://run.googleapis.com/v2/{path}", "roles/run.viewer"),
    # google_cloudfunctions2_function
    # @see https://cloud.google.com/functions/docs/reference/rest/v2/projects.locations.functions/get
    "cloudfunctions.googleapis.com/Function": _mirror(
        "v2", "cloudfunctions.googleapis.com", "projects/*/locations/*/functions/*",
        "https://cloudfunctions.googleapis.com/v2/{path}", "roles/cloudfunctions.viewer"),
    # The 1st-gen asset type KINDS also maps to google_cloudfunctions2_function: the v2 API
    # reads 1st-gen functions too (``environment: GEN_1``); a 404 keeps the entry as listed.
    "cloudfunctions.googleapis.com/CloudFunction": _mirror(
        "v2", "cloudfunctions.googleapis.com", "projects/*/locations/*/functions/*",
        "https://cloudfunctions.googleapis.com/v2/{path}", "roles/cloudfunctions.viewer"),
    # google_pubsub_topic
    # @see https://cloud.google.com/pubsub/docs/reference/rest/v1/projects.topics/get
    "pubsub.googleapis.com/Topic": _mirror(
        "v1", "pubsub.googleapis.com", "projects/*/topics/*",
        "https://pubsub.googleapis.com/v1/{path}", "roles/pubsub.viewer"),
    # google_pubsub_subscription
    # @see https://cloud.google.com/pubsub/docs/reference/rest/v1/projects.subscriptions/get
    "pubsub.googleapis.com/Subscription": _mirror(
        "v1", "pubsub.googleapis.com", "projects/*/subscriptions/*",
        "https://pubsub.googleapis.com/v1/{path}", "roles/pubsub.viewer"),
    # google_cloud_scheduler_job
    # @see https://cloud.google.com/scheduler/docs/reference/rest/v1/projects.locations.jobs/get
    "cloudscheduler.googleapis.com/Job": _mirror(
        "v1", "cloudscheduler.googleapis.com", "projects/*/locations/*/jobs/*",
        "https://cloudscheduler.googleapis.com/v1/{path}", "roles/cloudscheduler.viewer"),
    # google_bigquery_dataset
    # @see https://cloud.google.com/bigquery/docs/reference/rest/v2/datasets/get
    "bigquery.googleapis.com/Dataset": _mirror(
        "v2", "bigquery.googleapis.com", "projects/*/datasets/*",
        "https://bigquery.googleapis.com/bigquery/v2/{path}", "roles/bigquery.metadataViewer"),
    # google_bigquery_table (metadata and schema, never rows)
    # @see https://cloud.google.com/bigquery/docs/reference/rest/v2/tables/get
    "bigquery.googleapis.com/Table": _mirror(
        "v2", "bigquery.googleapis.com", "projects/*/datasets/*/tables/*",
        "https://bigquery.googleapis.com/bigquery/v2/{path}", "roles/bigquery.metadataViewer"),
    # google_firestore_database
    # @see https://cloud.google.com/firestore/docs/reference/rest/v1/projects.databases/get
    "firestore.googleapis.com/Database": _mirror(
        "v1", "firestore.googleapis.com", "projects/*/databases/*",
        "https://firestore.googleapis.com/v1/{path}", "roles/datastore.viewer"),
    # google_storage_bucket; the asset is named //storage.googleapis.com/<bucket> or
    # //storage.googleapis.com/projects/_/buckets/<bucket>. roles/storage.bucketViewer holds
    # storage.buckets.get and, unlike roles/storage.legacyBucketReader, can be granted on the
    # project; roles/storage.admin would be far too much.
    # @see https://cloud.google.com/storage/docs/json_api/v1/buckets/get
    # @see https://cloud.google.com/iam/docs/roles-permissions/storage
    "storage.googleapis.com/Bucket": Mirror(
        "v1", re.compile(rf"^(?:projects/_/buckets/)?(?P<bucket>{SEGMENT})$"),
        "https://storage.googleapis.com/storage/v1/b/{bucket}", "roles/storage.bucketViewer",
        "storage.googleapis.com"),
    # google_monitoring_alert_policy
    # @see https://cloud.google.com/monitoring/api/ref_v3/rest/v3/projects.alertPolicies/get
    "monitoring.googleapis.com/AlertPolicy": _mirror(
        "v3", "monitoring.googleapis.com", "projects/*/alertPolicies/*",
        "https://monitoring.googleapis.com/v3/{path}", "roles/monitoring.viewer"),
    # google_monitoring_notification_channel
    # @see https://cloud.google.com/monitoring/api/ref_v3/rest/v3/projects.notificationChannels/get
    "monitoring.googleapis.com/NotificationChannel": _mirror(
        "v3", "monitoring.googleapis.com", "projects/*/notificationChannels/*",
        "https://monitoring.googleapis.com/v3/{path}", "roles/monitoring.viewer"),
    # google_service_account
    # @see https://cloud.google.com/iam/docs/reference/rest/v1/projects.serviceAccounts/get
    "iam.googleapis.com/ServiceAccount": _mirror(
        "v1", "iam.googleapis.com", "projects/*/serviceAccounts/*",
        "https://iam.googleapis.com/v1/{path}", "roles/iam.serviceAccountViewer"),
    # google_secret_manager_secret: the secret's metadata only (the path admits no version).
    # @see https://cloud.google.com/secret-manager/docs/reference/rest/v1/projects.secrets/get
    "secretmanager.googleapis.com/Secret": _mirror(
        "v1", "secretmanager.googleapis.com", "projects/*/secrets/*",
        "https://secretmanager.googleapis.com/v1/{path}", "roles/secretmanager.viewer"),
})

MIRRORED_VERSION: Mapping[str, str] = MappingProxyType(
    {asset_type: m.version for asset_type, m in MIRRORS.items()})
"""Asset type → the API version its Terraform resource mirrors (what adoption reads)."""

CONFIG_ROLES: tuple[str, ...] = tuple(dict.fromkeys(m.role for m in MIRRORS.values()))
"""The roles reading every configuration needs, each once."""

# One API's state: {"name": "projects/<number>/services/<api>", "state": "ENABLED", ...}.
# @see https://cloud.google.com/service-usage/docs/reference/rest/v1/services/get
SERVICE_USAGE_TYPE = "serviceusage.googleapis.com/Service"
SERVICE_USAGE_VERSION = "v1"
SERVICE_USAGE_ROLE = "roles/serviceusage.serviceUsageViewer"
SERVICE_USAGE_FIELDS = ("name", "state")
API_RE = re.compile(r"^[a-z0-9-]+(\.[a-z0-9-]+)*\.googleapis\.com$")
PROJECT_RE = re.compile(r"^[a-z0-9][a-z0-9.:-]*[a-z0-9]$")


class UnexpectedName(ValueError):
    """A resource of a mirrored type whose full name is not in the form its API reads."""


class RestError(Exception):
    """A GET that failed: ``status`` is the HTTP status (0: no answer); one-line message."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(f"{status} {message}" if status else message)
        self.status = status


def config_url(asset_type: str, name: str) -> str | None:
    """The GET URL of the configuration of the asset ``name`` (``//<host>/<path>``) of type
    ``asset_type``; ``None`` when the type is not in ``MIRRORS``. ``UnexpectedName`` when the
    name is not in the form that type's API reads."""
    mirror = MIRRORS.get(asset_type)
    if mirror is None:
        return None
    m = NAME_RE.match(name)
    found = mirror.path.match(m.group("path")) if m and m.group("host") == mirror.host else None
    if found is None:
        raise UnexpectedName(f"{name}: not a {asset_type} name the "
                             f"{mirror.host} {mirror.version} API reads")
    parts = {k: quote(v, safe="@()") for k, v in found.groupdict().items()}
    return mirror.url.format(path=quote(found.group(0), safe="/@()"), **parts)


def service_url(project: str, api: str) -> str:
    """The Service Usage GET of ``api``'s state in ``project`` (id or number)."""
    if not PROJECT_RE.match(project) or not API_RE.match(api):
        raise ValueError(f"not a project and an API: {project!r}, {api!r}")
    return f"https://serviceusage.googleapis.com/v1/projects/{project}/services/{api}"


@functools.cache
def authorized_session() -> AuthorizedSession:
    """One session with Application Default Credentials per process, shared by every REST
    read (``get_json``, ``infra.live.reader``, ``infra.live.preflight``); credential errors
    propagate, on first use."""
    credentials, _ = google.auth.default(scopes=[SCOPE])
    # google-auth's AuthorizedSession.__init__ has no annotations (its py.typed is partial).
    session: AuthorizedSession = AuthorizedSession(credentials)  # type: ignore[no-untyped-call]
    return session


def get_json(url: str) -> JSON:
    """GET ``url`` with Application Default Credentials: the JSON object it returns;
    ``RestError`` with the HTTP status otherwise. Only metadata GETs: a secret version's
    ``:access`` is refused before any request."""
    secret_version = url.startswith("https://secretmanager.") and "/versions" in url
    if not url.startswith("https://") or ":access" in url or secret_version:
        raise ValueError(f"not a configuration read: {url}")
    try:
        response = authorized_session().get(url, timeout=TIMEOUT_SECONDS)
    except requests.RequestException as err:
        raise RestError(0, _first_line(str(err)) or type(err).__name__) from err
    if response.status_code != 200:
        raise RestError(response.status_code, _error_message(response))
    try:
        body = response.json()
    except ValueError as err:
        raise RestError(response.status_code, "the answer is not JSON") from err
    if not isinstance(body, dict):
        raise RestError(response.status_code, "the answer is not a JSON object")
    return body


def _error_message(response: Any) -> str:
    """A Google API error's ``error.message`` (else the reason), one line."""
    try:
        error = response.json().get("error")
        message = error.get("message") if isinstance(error, dict) else None
    except (ValueError, AttributeError):
        message = None
    return _first_line(str(message or response.text or response.reason or "")) or "error"


def _first_line(text: str) -> str:
    return next((line.strip() for line in text.splitlines() if line.strip()), "")[:300]


def service_state(body: Mapping[str, Any]) -> JSON:
    """The recorded part of a Service Usage answer: its ``name`` and ``state``."""
    return {k: body[k] for k in SERVICE_USAGE_FIELDS if isinstance(body.get(k), str)}


NOTIFICATION_CHANNEL = "monitoring.googleapis.com/NotificationChannel"
ENV_MAPS = ("environmentVariables", "buildEnvironmentVariables")
SECRET_REFERENCES = {
    "secretEnvironmentVariables": ("key", "projectId", "secret", "version"),
    "secretVolumes": ("mountPath", "projectId", "secret", "versions"),
}


def masked(asset_type: str, body: Mapping[str, Any]) -> JSON:
    """``body`` without the sensitive values the module docstring lists (a copy)."""
    out: JSON = _walk(dict(body))
    labels = out.get("labels")
    if asset_type == NOTIFICATION_CHANNEL and isinstance(labels, dict):
        out["labels"] = _mask_named(labels)
    return out


def _sensitive(name: object) -> bool:
    return isinstance(name, str) and bool(SENSITIVE_NAME.search(name))


def _mask_named(values: Mapping[str, Any]) -> JSON:
    return {k: MASK if _sensitive(k) else v for k, v in values.items()}


def _mask_all(value: Any) -> Any:
    if isinstance(value, Mapping):
        return {k: _mask_all(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_mask_all(v) for v in value]
    return MASK


def _env_item(item: Any) -> Any:
    """One entry of an ``env`` list: ``{name, value}`` (Cloud Run) or ``NAME=value``."""
    if isinstance(item, Mapping):
        out = _walk(item)
        if _sensitive(item.get("name")) and "value" in item:
            out["value"] = MASK
        return out
    if isinstance(item, str) and "=" in item:
        name = item.split("=", 1)[0]
        return f"{name}={MASK}" if _sensitive(name) else item
    return _walk(item)


def _walk(value: Any) -> Any:
    if isinstance(value, list):
        return [_walk(v) for v in value]
    if not isinstance(value, Mapping):
        return value
    out: JSON = {}
    for key, v in value.items():
        if key == "sensitiveLabels":
            out[key] = _mask_all(v)
        elif key == "env" and isinstance(v, list):
            out[key] = [_env_item(item) for item in v]
        elif key in ENV_MAPS and isinstance(v, Mapping):
            out[key] = _mask_named(v)
        elif key in SECRET_REFERENCES and isinstance(v, list):
            keep = SECRET_REFERENCES[key]
            out[key] = [{k: x[k] for k in keep if k in x} if isinstance(x, Mapping) else MASK
                        for x in v]
        elif key == "headers" and isinstance(v, Mapping):
            out[key] = {k: MASK if _sensitive(k) or str(k).lower() == "authorization" else x
                        for k, x in v.items()}
        else:
            out[key] = _walk(v)
    return out
