"""Attributes the provider computes, by resource type and path: they change without anyone
touching the resource, so the drift review mutes their changes.

``COMPUTED_PATHS`` maps each resource type the stacks declare to the paths of its output-only
(server-set) attributes. A path is written as the plan JSON nests the value: steps joined by
dots, ``[]`` after a step that is a list (nested blocks are lists of one, so a block reads
``build_config[].build``). A change is muted only when its path equals, or lies under, a path
of its own resource's type (``infra.terraform.drift_classify.computed_prefix``): Cloud Run's
``conditions`` and ``generation`` are output-only, an alert policy's ``conditions`` and a
function's ``build_config[].source[].storage_source[].generation`` are what a console edit
changes, and stay visible.

What is listed: attributes marked ``output: true`` in magic-modules
(``mmv1/products/<product>/<Resource>.yaml``), or ``Computed`` without ``Optional``/
``Required`` in the provider's handwritten schema (hashicorp/terraform-provider-google
``google/services/...``). An Optional+Computed attribute (``default_from_api``) is one a user
can set and is never listed. Some output-only attributes are left out on purpose because they
are the only trace of an edit made outside Terraform: ``effective_labels`` (a label added in
the console shows nowhere else), a bucket object's ``generation``/``md5hash``/``crc32c``/
``md5hexhash``/``media_link`` (the object was overwritten), a secret version's
``destroy_time`` (the version's data was destroyed).

``ANY_TYPE``: names muted at the top level of every reviewed type (and of IAM resources
outside the list), never deeper. Only ``etag``: every top-level ``etag`` among these types is
output-only (and every IAM member/binding carries tpgiamresource's computed one). ``id`` is
not listed: the provider sets it from the resource's name at create or import, it does not
move on a refresh, so a changed ``id`` is worth reading.

Every type maps to a tuple, empty when nothing is computed: a type without an entry forces a
decision (the tests check every synthesized type is here). Each entry cites its source
``file#Lnn``, per path the line of the field's definition. The stored sources are the main
branches of 2026-08-21: GoogleCloudPlatform/magic-modules d57784406a44 ("MM") and
hashicorp/terraform-provider-google e03b7622a26c ("TPG"), while the stacks pin google provider
8.7.0 (and hashicorp/terraform-provider-time main of 2026-07-20, 16bc819eb938, for
``time_sleep``, pinned at 0.13.1); re-check a type's entry against its release when one of its
attributes misbehaves.
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType

ANY_TYPE: tuple[str, ...] = ("etag",)

# TPG google/tpgiamresource/resource_iam_member.go#L101 (IamMemberBaseSchema "etag", Computed).
_IAM_MEMBER = ("etag",)
# TPG google/tpgiamresource/resource_iam_binding.go#L77 ("etag", Computed).
_IAM_BINDING = ("etag",)

COMPUTED_PATHS: Mapping[str, tuple[str, ...]] = MappingProxyType({
    # MM mmv1/products/artifactregistry/Repository.yaml
    "google_artifact_registry_repository": (
        "name",  # L350
        "registry_uri",  # L379
        "create_time",  # L392
        "update_time",  # L396
        "vulnerability_scanning_config[].enablement_state",  # L822
        "vulnerability_scanning_config[].enablement_state_reason",  # L830
    ),
    # MM mmv1/products/bigquery/Dataset.yaml (self_link: `has_self_link: true`, L30)
    "google_bigquery_dataset": (
        "creation_time",  # L315
        "etag",  # L373
        "last_modified_time",  # L406
        "self_link",  # L30
    ),
    "google_bigquery_dataset_iam_member": _IAM_MEMBER,
    # Handwritten (MM mmv1/products/bigquery/Table.yaml is `exclude_resource: true`):
    # TPG google/services/bigquery/resource_bigquery_table.go
    "google_bigquery_table": (
        "encryption_configuration[].kms_key_version",  # L1491
        "creation_time",  # L1502
        "etag",  # L1509
        "last_modified_time",  # L1523
        "location",  # L1531 (inherited from the dataset)
        "num_bytes",  # L1539
        "num_long_term_bytes",  # L1547
        "num_rows",  # L1555
        "self_link",  # L1563
        "type",  # L1574
        "generated_schema_columns",  # L1594
    ),
    "google_bigquery_table_iam_member": _IAM_MEMBER,
    "google_cloud_run_service_iam_binding": _IAM_BINDING,
    "google_cloud_run_service_iam_member": _IAM_MEMBER,
    # MM mmv1/products/cloudrunv2/Job.yaml
    "google_cloud_run_v2_job": (
        "uid",  # L200
        "generation",  # L205
        "create_time",  # L227
        "update_time",  # L231
        "delete_time",  # L235
        "expire_time",  # L239
        "creator",  # L243
        "last_modifier",  # L247
        "observed_generation",  # L761
        "terminal_condition",  # L766
        "conditions",  # L815
        "execution_count",  # L857
        "latest_created_execution",  # L862
        "reconciling",  # L887
        "etag",  # L898
    ),
    # MM mmv1/products/cloudrunv2/Service.yaml
    "google_cloud_run_v2_service": (
        "uid",  # L301
        "generation",  # L306
        "create_time",  # L336
        "update_time",  # L341
        "delete_time",  # L346
        "expire_time",  # L351
        "creator",  # L356
        "last_modifier",  # L361
        "template[].containers[].build_info",  # L997
        "observed_generation",  # L1324
        "terminal_condition",  # L1329
        "conditions",  # L1375
        "latest_ready_revision",  # L1425
        "latest_created_revision",  # L1430
        "traffic_statuses",  # L1435
        "uri",  # L1468
        "urls",  # L1473
        "build_config[].name",  # L1485
        "multi_region_settings[].multi_region_id",  # L1533
        "reconciling",  # L1538
        "etag",  # L1549
    ),
    "google_cloud_run_v2_service_iam_binding": _IAM_BINDING,
    "google_cloud_run_v2_service_iam_member": _IAM_MEMBER,
    # MM mmv1/products/cloudscheduler/Job.yaml; a pause shows in `paused` (L126,
    # default_from_api), which is not listed.
    "google_cloud_scheduler_job": (
        "state",  # L121
    ),
    # MM mmv1/products/cloudfunctions2/Function.yaml;
    # build_config[].source[].storage_source[].generation (L448) is default_from_api: not listed.
    "google_cloudfunctions2_function": (
        "environment",  # L381
        "url",  # L389
        "state",  # L393
        "build_config[].build",  # L410
        "build_config[].on_deploy_update_policy[].runtime_version",  # L540
        "service_config[].service",  # L549
        "service_config[].uri",  # L640
        "service_config[].gcf_uri",  # L644
        "event_trigger[].trigger",  # L731
        "update_time",  # L797
    ),
    "google_cloudfunctions2_function_iam_binding": _IAM_BINDING,
    "google_cloudfunctions2_function_iam_member": _IAM_MEMBER,
    # MM mmv1/products/firestore/Database.yaml
    "google_firestore_database": (
        "key_prefix",  # L305
        "etag",  # L325
        "create_time",  # L332
        "update_time",  # L337
        "uid",  # L342
        "version_retention_period",  # L347
        "earliest_version_time",  # L355
        "cmek_config[].active_key_version",  # L388
    ),
    # MM mmv1/products/firestore/Field.yaml
    "google_firestore_field": (
        "name",  # L184
        "ttl_config[].state",  # L246
    ),
    # MM mmv1/products/firestore/Index.yaml
    "google_firestore_index": (
        "name",  # L173
    ),
    # MM mmv1/products/logging/Metric.yaml: no `output: true` field.
    "google_logging_metric": (),
    # MM mmv1/products/monitoring/AlertPolicy.yaml; `conditions` itself (L160) is required,
    # user-set: only each condition's server-assigned `name` is listed.
    "google_monitoring_alert_policy": (
        "name",  # L112
        "creation_record",  # L136
        "conditions[].name",  # L361
    ),
    # Handwritten (no mmv1 product yaml): MM mmv1/third_party/terraform/services/monitoring/
    # resource_monitoring_dashboard.go#L82-L104: dashboard_json Required, project
    # Optional+Computed, deletion_policy Optional+Computed; no attribute is Computed without
    # Optional. What the API adds to the JSON (name, etag) is diff-suppressed (L46-L58).
    "google_monitoring_dashboard": (),
    # MM mmv1/products/monitoring/NotificationChannel.yaml
    "google_monitoring_notification_channel": (
        "name",  # L148
        "verification_status",  # L155
    ),
    "google_project_iam_member": _IAM_MEMBER,
    # TPG google/services/resourcemanager/resource_google_project_service.go: no attribute is
    # Computed without Optional.
    "google_project_service": (),
    # MM mmv1/products/pubsub/Subscription.yaml
    "google_pubsub_subscription": (
        "cloud_storage_config[].state",  # L302
        "cloud_storage_config[].text_config[].state",  # L335
    ),
    "google_pubsub_subscription_iam_member": _IAM_MEMBER,
    # MM mmv1/products/pubsub/Topic.yaml: no `output: true` field.
    "google_pubsub_topic": (),
    "google_pubsub_topic_iam_member": _IAM_MEMBER,
    # MM mmv1/products/secretmanager/Secret.yaml
    "google_secret_manager_secret": (
        "name",  # L107
        "create_time",  # L113
    ),
    "google_secret_manager_secret_iam_member": _IAM_MEMBER,
    # MM mmv1/products/secretmanager/SecretVersion.yaml; destroy_time (L188) left out, see above.
    "google_secret_manager_secret_version": (
        "name",  # L171
        "version",  # L177
        "create_time",  # L183
    ),
    # TPG google/services/resourcemanager/resource_google_service_account.go
    "google_service_account": (
        "email",  # L75
        "unique_id",  # L80
        "name",  # L85
        "member",  # L121
    ),
    "google_service_account_iam_member": _IAM_MEMBER,
    # Handwritten (MM mmv1/products/storage/Bucket.yaml is `exclude_resource: true`):
    # TPG google/services/storage/resource_storage_bucket.go; the three enforcement configs'
    # `effective_time` is defined once at L59 and used at L150-L152.
    "google_storage_bucket": (
        "encryption[].google_managed_encryption_enforcement_config[].effective_time",  # L59
        "encryption[].customer_managed_encryption_enforcement_config[].effective_time",  # L59
        "encryption[].customer_supplied_encryption_enforcement_config[].effective_time",  # L59
        "project_number",  # L211
        "self_link",  # L217
        "url",  # L223
        "soft_delete_policy[].effective_time",  # L616
        "time_created",  # L642
        "updated",  # L647
    ),
    "google_storage_bucket_iam_member": _IAM_MEMBER,
    # TPG google/services/storage/resource_storage_bucket_object.go; generation (L172),
    # crc32c (L178), md5hash (L184), md5hexhash (L190) and media_link (L365) left out: they
    # change only when the object's content is rewritten.
    "google_storage_bucket_object": (
        "contexts[].custom[].create_time",  # L155
        "contexts[].custom[].update_time",  # L160
        "self_link",  # L352
        "output_name",  # L359
    ),
    # hashicorp/terraform-provider-time internal/provider/resource_time_sleep.go: `id` (L104)
    # is the only Computed attribute, and Read (L208) reads nothing, so a refresh moves nothing.
    "time_sleep": (),
})
