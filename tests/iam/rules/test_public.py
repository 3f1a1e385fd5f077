"""``iam.rules.public``: each rule failing, with its id and address, on a minimal mutation."""

from __future__ import annotations

from tests.iam.rules.support import (
    DATASET,
    INV3_ADDR,
    SVC3,
    SVC3_ADDR,
    Stack,
    add,
    case,
    inv3,
    mutation_tests,
    res,
)


@case("PUBLIC-001", INV3_ADDR)
def all_users(s: Stack) -> None:
    inv3(s)["member"] = "allUsers"


@case("PUBLIC-001", SVC3_ADDR)
def invoker_iam_disabled(s: Stack) -> None:
    res(s, "google_cloud_run_v2_service", SVC3)["invoker_iam_disabled"] = True


@case("PUBLIC-001", "google_storage_bucket.function_sources__bucket")
def bucket_not_enforced(s: Stack) -> None:
    del res(s, "google_storage_bucket", "function_sources__bucket")["public_access_prevention"]


@case("ACL-001", "google_bigquery_dataset_access.ops_owner")
def dataset_access_entry(s: Stack) -> None:
    add(s, "google_bigquery_dataset_access", "ops_owner", {
        "dataset_id": f"${{google_bigquery_dataset.{DATASET}.dataset_id}}",
        "role": "OWNER", "user_by_email": "ops@example.com"})


@case("ACL-001", f"google_bigquery_dataset.{DATASET}")
@case("PUBLIC-001", f"google_bigquery_dataset.{DATASET}")
def dataset_access_blocks(s: Stack) -> None:
    res(s, "google_bigquery_dataset", DATASET)["access"] = [
        {"role": "roles/bigquery.dataViewer", "special_group": "allAuthenticatedUsers"}]


@case("ACL-001", "google_storage_bucket_acl.sources")
@case("PUBLIC-001", "google_storage_bucket_acl.sources")
def bucket_acl(s: Stack) -> None:
    add(s, "google_storage_bucket_acl", "sources", {
        "bucket": "${google_storage_bucket.function_sources__bucket.name}",
        "role_entity": ["READER:allUsers"]})


test_mutation_is_caught = mutation_tests(__name__)
