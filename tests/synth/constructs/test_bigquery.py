"""BigQueryDataset: a protected dataset, its tables from the schema files, dataEditor members."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from cdktn import TerraformStack

from infra.model.components import Table
from infra.synth.constructs import bigquery
from infra.synth.constructs.bigquery import BigQueryDataset, DatasetProps
from tests.synth.constructs.support import INVENTORIES, PROJECT, identity, new_stack, synthesized
from tests.synth.tfassert import assert_inventory_file


def props(*tables: Table) -> DatasetProps:
    return DatasetProps(dataset_id="nba_orchestration", component="orchestration",
                        project=PROJECT, location="US", tables=tables)


def build(stack: TerraformStack) -> None:
    dataset = BigQueryDataset(stack, "ds", props(
        Table("orchestration", "phase_completions", partition_field="game_date"),
        Table("orchestration", "phase_execution_log")))
    dataset.grant_write(identity(stack, "nba-fn-orch", "orch"))


doc = synthesized(build)


def test_inventory(doc: dict[str, Any]) -> None:
    assert_inventory_file(doc, INVENTORIES / "bigquery.yaml", {
        "google_bigquery_table.orchestration__table_phase_completions": {
            "schema": json.dumps(bigquery.load_schema("orchestration", "phase_completions"))},
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
                        props(Table("orchestration", "phase_completions", partition_field="nope")))
