"""BigQueryDataset: a protected dataset, its tables from the schema files, dataEditor members."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from cdktn import TerraformStack

from infra.synth.constructs import bigquery
from infra.synth.constructs.bigquery import BigQueryDataset, DatasetProps, TableSpec
from tests.synth.constructs.support import PROJECT, identity, new_stack, synthesized
from tests.synth.tfassert import assert_inventory

DATASET = "google_bigquery_dataset.orchestration__dataset"
KEEP = {"prevent_destroy": True}


def props(*tables: TableSpec) -> DatasetProps:
    return DatasetProps(dataset_id="nba_orchestration", component="orchestration",
                        project=PROJECT, location="US", schema_key="orchestration",
                        tables=tables)


def build(stack: TerraformStack) -> None:
    dataset = BigQueryDataset(stack, "ds", props(
        TableSpec("phase_completions", partition_field="game_date"),
        TableSpec("phase_execution_log")))
    dataset.grant_write(identity(stack, "nba-fn-orch", "orch"))


doc = synthesized(build)


def test_inventory(doc: dict[str, Any]) -> None:
    table = {"dataset_id": f"${{{DATASET}.dataset_id}}", "deletion_protection": True,
             "lifecycle": KEEP}
    assert_inventory(doc, counts={
        "google_bigquery_dataset": 1,
        "google_bigquery_table": 2,
        "google_bigquery_dataset_iam_member": 1,
        "google_service_account": 1,
    }, values={
        DATASET: {"dataset_id": "nba_orchestration", "location": "US",
                  "delete_contents_on_destroy": False, "lifecycle": KEEP},
        "google_bigquery_table.orchestration__table_phase_completions": {
            **table, "table_id": "phase_completions",
            "time_partitioning": {"type": "DAY", "field": "game_date"},
            "schema": json.dumps(bigquery.load_schema("orchestration", "phase_completions")),
        },
        "google_bigquery_table.orchestration__table_phase_execution_log": {
            **table, "table_id": "phase_execution_log"},
        "google_bigquery_dataset_iam_member.orchestration__editor_orch_identity": {
            "role": "roles/bigquery.dataEditor", "dataset_id": f"${{{DATASET}.dataset_id}}",
            "member": "serviceAccount:${google_service_account.orch__identity.email}",
            "lifecycle": {"replace_triggered_by": [f"{DATASET}.creation_time"]},
        },
    })


def test_an_unpartitioned_table_has_no_partitioning(doc: dict[str, Any]) -> None:
    tables = doc["resource"]["google_bigquery_table"]
    assert "time_partitioning" not in tables["orchestration__table_phase_execution_log"]


@pytest.mark.parametrize("content,error", [
    (None, r"schema for table ds.t not found at .*ds/t.json"),
    ("{not json", r"ds/t.json: not valid JSON"),
    ("[]", r"ds/t.json: a schema is a non-empty JSON list of fields"),
    (json.dumps([{"name": "x", "type": "VARCHAR"}]), r"field \[0\] .* needs a name and a type"),
])
def test_schema_errors_name_the_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                     content: str | None, error: str) -> None:
    monkeypatch.setattr(bigquery, "SCHEMAS_DIR", tmp_path)
    if content is not None:
        (tmp_path / "ds").mkdir()
        (tmp_path / "ds" / "t.json").write_text(content)
    with pytest.raises((FileNotFoundError, ValueError), match=error):
        bigquery.load_schema("ds", "t")


def test_partition_field_must_be_a_column() -> None:
    with pytest.raises(ValueError, match="partition_field 'nope' is not a column"):
        BigQueryDataset(new_stack("bigquery-invalid"), "ds",
                        props(TableSpec("phase_completions", partition_field="nope")))
