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


test_mutation_is_caught = mutation_tests(__name__)
