"""``iam.rules.data_stores``: each rule failing, with its id and address, on a minimal mutation."""

from __future__ import annotations

from tests.iam.rules.support import (
    DATASET,
    TABLE,
    Case,
    Stack,
    mutation_tests,
    res,
)


def firestore_destroyable(s: Stack) -> None:
    del res(s, "google_firestore_database", "firestore__database")["lifecycle"]


def dataset_contents_deleted(s: Stack) -> None:
    res(s, "google_bigquery_dataset", DATASET)["delete_contents_on_destroy"] = True


def table_unprotected(s: Stack) -> None:
    res(s, "google_bigquery_table", TABLE)["deletion_protection"] = False


CASES: list[Case] = [
    ("DATA-001", "google_firestore_database.firestore__database", firestore_destroyable),
    ("DATA-001", f"google_bigquery_dataset.{DATASET}", dataset_contents_deleted),
    ("DATA-001", f"google_bigquery_table.{TABLE}", table_unprotected),
]


test_mutation_is_caught = mutation_tests(CASES)
