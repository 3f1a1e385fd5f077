"""Constructs validate their props in the constructor and name the rule and the value."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from cdktn import App, TerraformStack, Testing

from infra.synth.constructs import bigquery
from infra.synth.constructs.base import logical_id, replaced_with
from infra.synth.constructs.identity import GoogleAgent, Identity, IdentityProps
from infra.synth.constructs.push_edge import PushEdge, PushEdgeProps
from infra.synth.constructs.scheduled_job import ScheduledJob, ScheduledJobProps
from infra.synth.constructs.service import CloudRunService, ServiceProps
from infra.synth.constructs.topic import Topic, TopicProps

AGENT = GoogleAgent("serviceAccount:service-1@gcp-sa-pubsub.iam.gserviceaccount.com", "agent")


@pytest.fixture
def stack() -> TerraformStack:
    return TerraformStack(App(), "constructs-under-test")


def service(stack: TerraformStack, **changes: object) -> CloudRunService:
    props = dict(name="svc", component="svc", project="proj-123456", region="us-west2",
                 image="img", identity_account_id="nba-run-svc") | changes
    return CloudRunService(stack, f"svc-{len(changes)}", ServiceProps(**props))  # type: ignore[arg-type]


def test_identity_rejects_an_invalid_account_id(stack: TerraformStack) -> None:
    with pytest.raises(ValueError, match=r"account_id 'nba-run-a-name-that-is-far-too-long-x' "
                                         r"must be 6-30 chars"):
        Identity(stack, "id", IdentityProps("nba-run-a-name-that-is-far-too-long-x", "c", "p",
                                            "d", "proj-123456"))


def test_identity_refuses_primitive_roles(stack: TerraformStack) -> None:
    ident = Identity(stack, "id", IdentityProps("nba-run-ok", "c", "identity", "d", "proj-123456"))
    with pytest.raises(ValueError, match="primitive role roles/editor is forbidden"):
        ident.grant_project_role("roles/editor")


def test_public_ingress_is_refused(stack: TerraformStack) -> None:
    with pytest.raises(ValueError, match="ingress INGRESS_TRAFFIC_ALL is not allowed"):
        service(stack, ingress="INGRESS_TRAFFIC_ALL")


def edge_props(stack: TerraformStack, **changes: object) -> PushEdgeProps:
    topic = Topic(stack, "t", TopicProps("nba-t", "t", "proj-123456"))
    props = dict(name="nba-sub", component="sub", project="proj-123456", topic=topic,
                 target=service(stack), path="/process", identity_account_id="nba-push-sub",
                 pubsub_agent=AGENT, dead_letter_topic="nba-sub-dlq",
                 dead_letter_subscription="nba-sub-dlq-sub") | changes
    return PushEdgeProps(**props)  # type: ignore[arg-type]


@pytest.mark.parametrize("changes,error", [
    ({"path": "process"}, "path 'process' must start with '/'"),
    ({"max_delivery_attempts": 3}, "max_delivery_attempts 3 outside Pub/Sub's 5..100"),
])
def test_push_edge_validates(stack: TerraformStack, changes: dict[str, object], error: str) -> None:
    with pytest.raises(ValueError, match=error):
        PushEdge(stack, "edge", edge_props(stack, **changes))


def test_job_body_needs_post(stack: TerraformStack) -> None:
    with pytest.raises(ValueError, match="a body needs http_method POST, got GET"):
        ScheduledJob(stack, "job", ScheduledJobProps(
            name="j", component="j", project="proj-123456", region="us-west2",
            schedule="0 1 * * *", time_zone="UTC", target=service(stack), path="/process",
            identity_account_id="nba-job-j", http_method="GET", body="{}"))


@pytest.mark.parametrize("address", ["${google_cloud_run_v2_service.x.id}", "x"])
def test_replace_trigger_must_be_a_literal_address(address: str) -> None:
    with pytest.raises(ValueError, match="needs a literal resource address"):
        replaced_with(address)


def test_logical_ids_are_terraform_names() -> None:
    assert logical_id("phase3-analytics-sub", "invoker") == "phase3_analytics_sub__invoker"
    with pytest.raises(ValueError, match="not a valid Terraform name"):
        logical_id("fn", "identity_datastore.user")


def test_schema_errors_name_the_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(bigquery, "SCHEMAS_DIR", tmp_path)
    with pytest.raises(FileNotFoundError, match=r"schema for table ds.t not found at .*ds/t.json"):
        bigquery.load_schema("ds", "t")
    (tmp_path / "ds").mkdir()
    (tmp_path / "ds" / "t.json").write_text("{not json")
    with pytest.raises(ValueError, match=r"ds/t.json: not valid JSON"):
        bigquery.load_schema("ds", "t")
    (tmp_path / "ds" / "t.json").write_text(json.dumps([{"name": "x", "type": "VARCHAR"}]))
    with pytest.raises(ValueError, match=r"field \[0\] .* needs a name and a type"):
        bigquery.load_schema("ds", "t")


def test_partition_field_must_be_a_column(stack: TerraformStack) -> None:
    with pytest.raises(ValueError, match="partition_field 'nope' is not a column"):
        bigquery.BigQueryDataset(stack, "ds", bigquery.DatasetProps(
            dataset_id="nba_orchestration", component="ds", project="proj-123456",
            location="US", schema_key="orchestration",
            tables=(bigquery.TableSpec("phase_completions", partition_field="nope"),)))


def test_pubsub_function_needs_a_trigger_identity(stack: TerraformStack, tmp_path: Path) -> None:
    from infra.synth.bundle import build_bundle
    from infra.synth.constructs.function import CloudFunction, FunctionProps

    (tmp_path / "fn").mkdir()
    (tmp_path / "fn" / "main.py").write_text("def handler(event):\n    return None\n")
    builder = Identity(stack, "b", IdentityProps("nba-fn-builder", "b", "identity", "d",
                                                 "proj-123456"))
    with pytest.raises(ValueError, match="a Pub/Sub trigger needs trigger_account_id"):
        CloudFunction(stack, "fn", FunctionProps(
            name="fn", component="fn", project="proj-123456", region="us-west2",
            bundle=build_bundle("fn", tmp_path / "out", tmp_path / "fn"), bucket_name="b",
            entry_point="handler", runtime_account_id="nba-fn-fn", build_identity=builder,
            trigger_topic=Topic(stack, "t", TopicProps("nba-t", "t", "proj-123456"))))


def test_token_creator_keeps_one_member_per_principal(stack: TerraformStack) -> None:
    identity = Identity(stack, "id", IdentityProps("nba-push-x", "edge", "push_identity",
                                                   "d", "proj-123456"))
    identity.grant_token_creator(AGENT)
    identity.grant_token_creator(GoogleAgent("serviceAccount:other@p.iam.gserviceaccount.com",
                                             "other_agent"))
    grants = Testing.synth(stack)
    grants = json.loads(grants)["resource"]["google_service_account_iam_member"]
    assert sorted(g["member"] for g in grants.values()) == [
        "serviceAccount:other@p.iam.gserviceaccount.com",
        "serviceAccount:service-1@gcp-sa-pubsub.iam.gserviceaccount.com",
    ]


def test_an_address_pinned_twice_is_refused(stack: TerraformStack) -> None:
    from cdktn_provider_google.pubsub_topic import PubsubTopic

    from infra.synth.constructs.base import pin_address

    pin_address(PubsubTopic(stack, "one", name="one"), "edge", "topic")
    with pytest.raises(ValueError, match=r"google_pubsub_topic.edge__topic is pinned twice"):
        pin_address(PubsubTopic(stack, "two", name="two"), "edge", "topic")
