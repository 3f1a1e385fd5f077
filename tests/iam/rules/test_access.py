"""``iam.rules.access``: each rule failing, with its id and address, on a minimal mutation."""

from __future__ import annotations

from tests.iam.rules.support import SVC3_ADDR, Stack, case, drop, mutation_tests

P2_ADDR = "google_cloud_run_v2_service.phase2_raw_processors__service"
P1_ADDR = "google_cloud_run_v2_service.phase1_scrapers__service"


@case("ACCESS-001", SVC3_ADDR)
def no_query_jobs(s: Stack) -> None:
    drop(s, "google_project_iam_member", "phase3_analytics_processors__identity_bigquery_jobUser")


@case("ACCESS-001", SVC3_ADDR)
def cannot_read_previous_phase(s: Stack) -> None:
    drop(s, "google_bigquery_dataset_iam_member",
         "dataset_raw__viewer_phase3_analytics_processors_identity")


@case("ACCESS-001", P2_ADDR)
def cannot_read_raw_files(s: Stack) -> None:
    drop(s, "google_storage_bucket_iam_member", "bucket_raw__reader_phase2_raw_processors_identity")


@case("ACCESS-001", P1_ADDR)
def cannot_write_raw_files(s: Stack) -> None:
    drop(s, "google_storage_bucket_iam_member", "bucket_raw__writer_phase1_scrapers_identity")


test_mutation_is_caught = mutation_tests(__name__)


def test_a_written_dataset_counts_as_read(prod, check):
    body = prod["resource"]["google_bigquery_dataset_iam_member"][
        "dataset_raw__viewer_phase3_analytics_processors_identity"]
    body["role"] = "roles/bigquery.dataEditor"
    assert [v for v in check(prod) if v.rule == "ACCESS-001"] == []
