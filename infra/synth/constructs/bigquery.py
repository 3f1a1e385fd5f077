"""A BigQuery dataset with its tables, protected from destruction."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass

from cdktn import TerraformResourceLifecycle
from cdktn_provider_google.bigquery_dataset import BigqueryDataset
from cdktn_provider_google.bigquery_dataset_iam_member import BigqueryDatasetIamMember
from cdktn_provider_google.bigquery_table import BigqueryTable, BigqueryTableTimePartitioning
from constructs import Construct

from infra.model.components import Table
from infra.model.permissions import DATA_EDITOR, DATA_VIEWER, Grant, Target
from infra.paths import SCHEMAS_DIR
from infra.synth.constructs.base import Granter, Principal, StackConstruct, ref, replaced_with

FIELD_TYPES = frozenset({"STRING", "INT64", "FLOAT64", "BOOL", "DATE", "TIMESTAMP", "JSON",
                         "NUMERIC", "RECORD", "DATETIME", "BYTES"})


@dataclass(frozen=True)
class DatasetProps:
    """``dataset_id``: ``<sport>_<key>``; ``tables``: the manifest's tables of the dataset,
    each with its schema in ``infra/model/schemas/<table.dataset>/<table.name>.json``."""

    dataset_id: str
    component: str
    """Address prefix: resources are ``<type>.<component>__<part>`` (``-`` becomes ``_``)."""
    project: str
    """The GCP project id the resources are created in."""
    location: str
    """The env's ``dataset_location`` (``US``, ``us-central1``); a change replaces the dataset."""
    description: str = ""
    """Shown in the console; empty: none."""
    tables: tuple[Table, ...] = ()


def load_schema(schema_key: str, table: str) -> list[dict[str, object]]:
    """Read and check ``infra/model/schemas/<schema_key>/<table>.json``; errors name the file."""
    path = SCHEMAS_DIR / schema_key / f"{table}.json"
    if not path.is_file():
        raise FileNotFoundError(f"schema for table {schema_key}.{table} not found at {path}; "
                                "add the JSON schema file")
    try:
        fields = json.loads(path.read_text())
    except json.JSONDecodeError as exc:
        raise ValueError(f"{path}: not valid JSON ({exc})") from exc
    if not isinstance(fields, list) or not fields:
        raise ValueError(f"{path}: a schema is a non-empty JSON list of fields")
    for i, f in enumerate(fields):
        if not isinstance(f, dict) or "name" not in f or f.get("type") not in FIELD_TYPES:
            raise ValueError(f"{path}: field [{i}] {f!r} needs a name and a type in "
                             f"{sorted(FIELD_TYPES)}")
    return fields


class BigQueryDataset(StackConstruct):
    def __init__(self, scope: Construct, id: str, props: DatasetProps) -> None:
        super().__init__(scope, id)
        self.props = props
        self.target = Target("bigquery.dataset", props.dataset_id)
        # Data stores are never destroyed by an apply; removing one is a reviewed manual step.
        keep = TerraformResourceLifecycle(prevent_destroy=True)
        self.dataset = BigqueryDataset(
            self, "dataset", dataset_id=props.dataset_id, project=props.project,
            location=props.location, description=props.description or None, lifecycle=keep,
            delete_contents_on_destroy=False,
        )
        self.address = self.pin(self.dataset, props.component, "dataset")
        self.dataset_ref = ref(self.address, "dataset_id")
        """The dataset's ``dataset_id`` as a reference (tables and grants follow it)."""
        self.tables: dict[str, BigqueryTable] = {}
        for spec in props.tables:
            fields = load_schema(spec.dataset, spec.name)
            if spec.partition_field is not None and spec.partition_field not in {
                str(f["name"]) for f in fields
            }:
                raise ValueError(f"table {props.dataset_id}.{spec.name}: partition_field "
                                 f"{spec.partition_field!r} is not a column of its schema")
            table = BigqueryTable(
                self, f"table-{spec.name}", dataset_id=self.dataset_ref,
                table_id=spec.name, project=props.project, schema=json.dumps(fields),
                description=spec.description or None, deletion_protection=True, lifecycle=keep,
                time_partitioning=BigqueryTableTimePartitioning(
                    type="DAY", field=spec.partition_field,
                ) if spec.partition_field else None,
            )
            self.pin(table, props.component, f"table_{spec.name}")
            self.tables[spec.name] = table

    def granters(self) -> Mapping[tuple[Target, str], Granter]:
        return {(self.target, DATA_EDITOR): self.grant_write,
                (self.target, DATA_VIEWER): self.grant_read}

    def _grant(self, role: str, principal: Principal, part: str) -> Grant:
        return self.grant_member(
            BigqueryDatasetIamMember, principal, role, self.target, f"{part}-{principal.component}",
            (self.props.component, f"{part}_{principal.component}"),
            project=self.props.project, dataset_id=self.dataset_ref,
            lifecycle=replaced_with(self.address))

    def grant_write(self, principal: Principal) -> Grant:
        """``roles/bigquery.dataEditor`` on this dataset only."""
        return self._grant(DATA_EDITOR, principal, "editor")

    def grant_read(self, principal: Principal) -> Grant:
        """``roles/bigquery.dataViewer`` on this dataset only."""
        return self._grant(DATA_VIEWER, principal, "viewer")
