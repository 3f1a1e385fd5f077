"""``iam.rules.data_stores``: each rule failing, with its id and address, on a minimal mutation."""

from __future__ import annotations

from tests.iam.rules.support import DATASET, TABLE, Stack, case, mutation_tests, res


@case("DATA-001", "google_firestore_database.firestore__database")
def firestore_destroyable(s: Stack) -> None:
    del res(s, "google_firestore_database", "firestore__database")["lifecycle"]


@case("DATA-001", f"google_bigquery_dataset.{DATASET}")
def dataset_contents_deleted(s: Stack) -> None:
    res(s, "google_bigquery_dataset", DATASET)["delete_contents_on_destroy"] = True


@case("DATA-001", f"google_bigquery_table.{TABLE}")
def table_unprotected(s: Stack) -> None:
    res(s, "google_bigquery_table", TABLE)["deletion_protection"] = False


@case("PROTECT-001", "google_cloud_run_v2_service.phase3_analytics_processors__service")
def service_unprotected(s: Stack) -> None:
    res(s, "google_cloud_run_v2_service",
        "phase3_analytics_processors__service")["deletion_protection"] = False


@case("PROTECT-001", "google_cloudfunctions2_function.phase3_to_phase4_orchestrator__function")
def function_deletable_by_default(s: Stack) -> None:
    del res(s, "google_cloudfunctions2_function",
            "phase3_to_phase4_orchestrator__function")["deletion_policy"]


test_mutation_is_caught = mutation_tests(__name__)
