"""Provider and Cloud Asset Inventory facts adoption relies on, written once with provenance.

* ``KINDS``: per Terraform type, the Cloud Asset Inventory asset types it appears as, how
  its declared attributes name it, and the provider's documented import id (each row cites
  the Import section of the provider doc, ``website/docs/r/<type>.html.markdown`` in
  hashicorp/terraform-provider-google, as published on registry.terraform.io);
* ``FORCE_NEW``: declared attributes whose change replaces the resource (provider source);
* ``MANAGED``: live resources Google creates for something else (never adopted, never
  reported as undeclared).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

DOC = "https://registry.terraform.io/providers/hashicorp/google/latest/docs/resources/{}#import"
SRC = ("https://github.com/hashicorp/terraform-provider-google/blob/e03b762/google/services/"
       "{}")

Attrs = Mapping[str, Any]


@dataclass(frozen=True)
class Kind:
    """How one Terraform type is found live and imported.

    ``path``: the live resource's path (full resource name without ``//<host>/`` and without
    its ``locations/<l>/`` segment), from the declared attributes. ``import_id``: the
    provider's import id from the declared attributes (``None``: it is the live name).
    ``match``: ``path`` (default) or ``display_name`` (resources whose id Google assigns).
    """

    asset_types: tuple[str, ...]
    path: Callable[[Attrs], str]
    import_id: Callable[[Attrs], str] | None
    doc: str
    match: str = "path"
    location_attr: str | None = None
    """The declared attribute holding the location, compared with the live ``location``."""


def _sa_email(a: Attrs) -> str:
    return f"{a['account_id']}@{a['project']}.iam.gserviceaccount.com"


def _same(asset_types: tuple[str, ...], path: Callable[[Attrs], str], doc: str,
          location_attr: str | None = None) -> Kind:
    """A row whose import id is its path."""
    return Kind(asset_types, path, path, DOC.format(doc), location_attr=location_attr)


def _in_project(asset_types: tuple[str, ...], collection: str, key: str, doc: str,
                location_attr: str | None = None) -> Kind:
    """A row imported as its path ``projects/<project>/<collection>/<key>``."""
    return _same(asset_types, lambda a: f"projects/{a['project']}/{collection}/{a[key]}", doc,
                 location_attr)


def _located(asset_types: tuple[str, ...], collection: str, doc: str,
             location_attr: str) -> Kind:
    """A row whose import id adds the ``locations/<l>/`` segment its path leaves out."""
    return Kind(
        asset_types, lambda a: f"projects/{a['project']}/{collection}/{a['name']}",
        lambda a: (f"projects/{a['project']}/locations/{a[location_attr]}/{collection}/"
                   f"{a['name']}"),
        DOC.format(doc), location_attr=location_attr)


def _display_named(asset_type: str, doc: str) -> Kind:
    """A row matched by display name: Google assigns the id, the import id is the live name."""
    return Kind((asset_type,), lambda a: str(a["display_name"]), None, DOC.format(doc),
                match="display_name")


# One row per covered type. The import id is the first format the doc's Import section lists.
KINDS: Mapping[str, Kind] = {
    # * `projects/{{project}}/topics/{{name}}`
    "google_pubsub_topic": _in_project(
        ("pubsub.googleapis.com/Topic",), "topics", "name", "pubsub_topic"),
    # * `projects/{{project}}/subscriptions/{{name}}`
    "google_pubsub_subscription": _in_project(
        ("pubsub.googleapis.com/Subscription",), "subscriptions", "name", "pubsub_subscription"),
    # * `projects/{{project}}/locations/{{location}}/services/{{name}}`
    "google_cloud_run_v2_service": _located(
        ("run.googleapis.com/Service",), "services", "cloud_run_v2_service", "location"),
    # * `projects/{{project}}/locations/{{location}}/functions/{{name}}`
    "google_cloudfunctions2_function": _located(
        ("cloudfunctions.googleapis.com/Function", "cloudfunctions.googleapis.com/CloudFunction"),
        "functions", "cloudfunctions2_function", "location"),
    # * `projects/{{project}}/locations/{{region}}/jobs/{{name}}`
    "google_cloud_scheduler_job": _located(
        ("cloudscheduler.googleapis.com/Job",), "jobs", "cloud_scheduler_job", "region"),
    # * `projects/{{project}}/datasets/{{dataset_id}}`
    "google_bigquery_dataset": _in_project(
        ("bigquery.googleapis.com/Dataset",), "datasets", "dataset_id", "bigquery_dataset",
        "location"),
    # * `projects/{{project}}/datasets/{{dataset_id}}/tables/{{table_id}}`
    # A table has no location attribute: it is its dataset's (``location`` is filled in).
    "google_bigquery_table": _same(
        ("bigquery.googleapis.com/Table",),
        lambda a: f"projects/{a['project']}/datasets/{a['dataset_id']}/tables/{a['table_id']}",
        "bigquery_table", "location"),
    # * `projects/{{project}}/databases/{{name}}`
    "google_firestore_database": _in_project(
        ("firestore.googleapis.com/Database",), "databases", "name", "firestore_database",
        "location_id"),
    # * `{{name}}`, where name is
    #   `projects/{{project}}/databases/{{database}}/collectionGroups/{{collection}}/fields/{{field}}`.
    # Cloud Asset Inventory lists no fields; every field of a live database exists (implicitly,
    # with default settings), so a field is imported whenever its database is.
    "google_firestore_field": _same(
        (),
        lambda a: (f"projects/{a['project']}/databases/{a['database']}/collectionGroups/"
                   f"{a['collection']}/fields/{a['field']}"),
        "firestore_field"),
    # * `projects/{{project_id}}/serviceAccounts/{{email}}`
    "google_service_account": _same(
        ("iam.googleapis.com/ServiceAccount",),
        lambda a: f"projects/{a['project']}/serviceAccounts/{_sa_email(a)}",
        "google_service_account"),
    # * `{{project_id}}/{{bucket}}`
    "google_storage_bucket": Kind(
        ("storage.googleapis.com/Bucket",),
        lambda a: str(a["name"]),
        lambda a: f"{a['project']}/{a['name']}",
        DOC.format("storage_bucket"), location_attr="location"),
    # * `{{project_id}}/{{service}}`
    "google_project_service": Kind(
        ("serviceusage.googleapis.com/Service",),
        lambda a: f"projects/{a['project']}/services/{a['service']}",
        lambda a: f"{a['project']}/{a['service']}",
        DOC.format("google_project_service")),
    # * `{{name}}` (the live `projects/P/notificationChannels/ID`); Google assigns the id.
    "google_monitoring_notification_channel": _display_named(
        "monitoring.googleapis.com/NotificationChannel", "monitoring_notification_channel"),
    # * `projects/{{project}}/alertPolicies/{{name}}`: the live name; Google assigns the id.
    "google_monitoring_alert_policy": _display_named(
        "monitoring.googleapis.com/AlertPolicy", "monitoring_alert_policy"),
}


def _force_new(attribute: str, env_field: str, source: str, note: str = "") -> tuple[str, str, str]:
    """A ``FORCE_NEW`` row: the attribute, the ``envs`` field declaring it, the source line."""
    return attribute, f"{env_field} on envs[{{env}}] in infra/model/envs.py{note}", SRC.format(source)


# Declared attribute → replaced when it changes; "the fix is always to declare the live value".
# Further ForceNew attributes the stacks leave unset, compared with the live resource's
# versioned representation (its API field): a live value other than the provider's empty one
# replaces the resource on import. type: ((attribute, API field, empty value, source), ...)
FORCE_NEW_UNSET: Mapping[str, tuple[tuple[str, str, object, str], ...]] = {
    "google_pubsub_subscription": (
        ("enable_message_ordering", "enableMessageOrdering", False,
         SRC.format("pubsub/resource_pubsub_subscription.go#L426-L429")),
        ("filter", "filter", "", SRC.format("pubsub/resource_pubsub_subscription.go#L461-L464")),
    ),
}

FORCE_NEW: Mapping[str, tuple[str, str, str]] = {
    # type: (attribute, where it is declared, provider source: schema field with ForceNew)
    "google_bigquery_dataset": _force_new(
        "location", "bigquery_location", "bigquery/resource_bigquery_dataset.go#L369-L372"),
    # No row for google_bigquery_table: its ``location`` is output-only (the dataset's), and
    # what replaces a table is ``time_partitioning.field`` and the schema rules, compared with
    # the live table by infra.live.adopt_config from infra.model.provider.attributes.
    "google_firestore_database": _force_new(
        "location_id", "firestore_location",
        "firestore/resource_firestore_database.go#L140-L143"),
    "google_cloudfunctions2_function": _force_new(
        "location", "region",
        "cloudfunctions2/resource_cloudfunctions2_function.go#L160-L163"),
    "google_cloud_run_v2_service": _force_new(
        "location", "region", "cloudrunv2/resource_cloud_run_v2_service.go#L146-L149"),
    # The provider upper-cases a bucket's location (StateFunc); compared case-insensitively.
    "google_storage_bucket": _force_new(
        "location", "region", "storage/resource_storage_bucket.go#L193-L196",
        " (the source bucket's location)"),
    # A job's name forces replacement too (L236-L239): jobs declare their live cloud_name.
    "google_cloud_scheduler_job": _force_new(
        "region", "region", "cloudscheduler/resource_cloud_scheduler_job.go#L472-L476"),
}

# Live resources Google creates and owns for something else: (asset type, name pattern, why).
MANAGED: tuple[tuple[str, re.Pattern[str], str], ...] = (
    ("storage.googleapis.com/Bucket", re.compile(r"^gcf-v2-(sources|uploads)-\d+-[a-z0-9-]+$"),
     "Cloud Functions gen2 source/upload bucket"),
    ("storage.googleapis.com/Bucket", re.compile(r"^gcf-sources-\d+-[a-z0-9-]+$"),
     "Cloud Functions source bucket"),
    ("storage.googleapis.com/Bucket", re.compile(r"^(.+_cloudbuild|run-sources-.+)$"),
     "Cloud Build / Cloud Run source bucket"),
    ("storage.googleapis.com/Bucket", re.compile(r"^(.+\.)?(artifacts|staging)\..+\.appspot\.com$"),
     "App Engine / Container Registry bucket"),
    ("artifactregistry.googleapis.com/Repository", re.compile(r"^(gcf-artifacts|"
                                                              r"cloud-run-source-deploy)$"),
     "repository Cloud Functions / Cloud Run source deploys push to"),
    ("iam.googleapis.com/ServiceAccount",
     re.compile(r"^(\d+-compute@developer|[a-z0-9-]+@appspot|\d+@cloudbuild)"
                r"\.gserviceaccount\.com$"),
     "default service account"),
    ("iam.googleapis.com/ServiceAccount",
     re.compile(r"^(service-\d+@.+|.+@gcp-sa-[a-z0-9-]+\.iam\.gserviceaccount\.com)$"),
     "Google-managed service agent"),
    ("pubsub.googleapis.com/Topic", re.compile(r"^eventarc-.+$"), "Eventarc transport topic"),
)
MANAGED_DISPLAY_NAMES = frozenset({
    "Compute Engine default service account", "App Engine default service account",
})
# Eventarc's Pub/Sub transport subscription: eventarc-<region>-<trigger>-sub-<n>.
EVENTARC_SUBSCRIPTION = re.compile(r"^eventarc-(?P<region>[a-z]+-[a-z]+\d+)-(?P<trigger>.+)"
                                   r"-sub-\d+$")
# Types a recorded inventory holds that are parts of something, never pipeline resources of
# their own: revisions of services, images in repositories, tables the processors write.
PARTS = frozenset({
    "run.googleapis.com/Revision", "artifactregistry.googleapis.com/DockerImage",
    "cloudresourcemanager.googleapis.com/Project", "serviceusage.googleapis.com/Service",
    "logging.googleapis.com/LogBucket", "logging.googleapis.com/LogSink",
    "iam.googleapis.com/ServiceAccountKey", "compute.googleapis.com/Network",
    "compute.googleapis.com/Subnetwork", "compute.googleapis.com/Route",
    "compute.googleapis.com/Firewall",
})


def managed_reason(asset_type: str, short_name: str, display_name: str) -> str | None:
    """Why a live resource is Google's own (default accounts, agents, managed buckets)."""
    if asset_type == "iam.googleapis.com/ServiceAccount" and display_name in MANAGED_DISPLAY_NAMES:
        return "default service account"
    for atype, pattern, why in MANAGED:
        if atype == asset_type and pattern.match(short_name):
            return why
    return None


def delete_command(asset_type: str, name: str, location: str, project: str) -> str:
    """The gcloud command that deletes one live resource (``name`` is its short name)."""
    commands = {
        "cloudfunctions.googleapis.com/Function":
            f"gcloud functions delete {name} --gen2 --region={location} --project={project} "
            "--quiet",
        "cloudfunctions.googleapis.com/CloudFunction":
            f"gcloud functions delete {name} --region={location} --project={project} --quiet",
        "eventarc.googleapis.com/Trigger":
            f"gcloud eventarc triggers delete {name} --location={location} --project={project} "
            "--quiet",
        "run.googleapis.com/Service":
            f"gcloud run services delete {name} --region={location} --project={project} --quiet",
        "pubsub.googleapis.com/Subscription":
            f"gcloud pubsub subscriptions delete {name} --project={project}",
        "pubsub.googleapis.com/Topic": f"gcloud pubsub topics delete {name} --project={project}",
        "cloudscheduler.googleapis.com/Job":
            f"gcloud scheduler jobs delete {name} --location={location} --project={project} "
            "--quiet",
        "storage.googleapis.com/Bucket": f"gcloud storage rm --recursive gs://{name}",
        "iam.googleapis.com/ServiceAccount":
            f"gcloud iam service-accounts delete {name} --project={project} --quiet",
        "monitoring.googleapis.com/AlertPolicy":
            f"gcloud alpha monitoring policies delete {name} --project={project} --quiet",
        "monitoring.googleapis.com/NotificationChannel":
            f"gcloud alpha monitoring channels delete {name} --project={project} --quiet",
    }
    return commands.get(asset_type, f"delete {asset_type} {name} in the console (project "
                                    f"{project}), or declare it in infra/model/pipeline.py")


# Data stores hold the pipeline's history: a finding on one is never fixed by deleting it.
DATA_STORES = frozenset({
    "storage.googleapis.com/Bucket", "bigquery.googleapis.com/Dataset",
    "bigquery.googleapis.com/Table", "firestore.googleapis.com/Database",
})


def data_store_fix(asset_type: str, name: str) -> str:
    """The fix of a finding on a data store: keep it (declare and adopt it, or leave it)."""
    what = asset_type.rsplit("/", 1)[-1].lower()
    return (f"declare {what} {name} in infra/model/pipeline.py and run `make adopt` to "
            "import it, never delete it; or leave it: not part of this pipeline")


def resolve_command(asset_type: str, name: str, location: str, project: str) -> str:
    """How a finding on one live resource is resolved: its deletion, except for data stores."""
    if asset_type in DATA_STORES:
        return data_store_fix(asset_type, name)
    return delete_command(asset_type, name, location, project)


def trigger_delete_command(name: str, location: str, project: str) -> str:
    region = "" if location == "global" else f" --region={location}"
    return f"gcloud builds triggers delete {name}{region} --project={project}"


# Order removed resources are deleted in so Phase 3 never misses a message: first whatever
# could redeploy them (build triggers), then the function (gcloud also removes its Cloud Run
# service and Eventarc trigger), then leftovers, and a topic only after its publishers.
DELETE_ORDER = (
    "cloudbuild.googleapis.com/BuildTrigger",
    "cloudscheduler.googleapis.com/Job",
    "cloudfunctions.googleapis.com/Function",
    "cloudfunctions.googleapis.com/CloudFunction",
    "eventarc.googleapis.com/Trigger",
    "run.googleapis.com/Service",
    "pubsub.googleapis.com/Subscription",
    "pubsub.googleapis.com/Topic",
)
