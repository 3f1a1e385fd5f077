"""PushEdge: subscription with OIDC and audience, dead-letter pair, agent grants, invoker."""

from __future__ import annotations

from typing import Any

import pytest
from cdktn import TerraformStack

from infra.synth.constructs.push_edge import PushEdge, PushEdgeProps
from tests.synth.constructs.support import AGENT, PROJECT, identity, new_stack, service, synthesized, topic
from tests.synth.tfassert import assert_inventory

SUB = "google_pubsub_subscription.edge__subscription"
PUSH_SA = "google_service_account.edge__push_identity"
DLQ = "google_pubsub_topic.edge__dead_letter_topic"
DLQ_SUB = "google_pubsub_subscription.edge__dead_letter_subscription"
TARGET = "google_cloud_run_v2_service.svc__service"


def edge_props(stack: TerraformStack, **changes: object) -> PushEdgeProps:
    props = dict(name="nba-sub", component="edge", project=PROJECT, topic=topic(stack),
                 target=service(stack), path="/process", identity_account_id="nba-push-sub",
                 pubsub_agent=AGENT, dead_letter_topic="nba-sub-dlq",
                 dead_letter_subscription="nba-sub-dlq-sub") | changes
    return PushEdgeProps(**props)  # type: ignore[arg-type]


def build(stack: TerraformStack) -> None:
    edge = PushEdge(stack, "edge", edge_props(stack))
    edge.grant_dead_letter_read(identity(stack, "nba-fn-canary", "canary"))


doc = synthesized(build)


def test_inventory(doc: dict[str, Any]) -> None:
    agent_member = AGENT.member
    assert_inventory(doc, counts={
        # The edge's own resources, plus the source topic, the target and the reader.
        "google_pubsub_subscription": 2,
        "google_pubsub_topic": 2,
        "google_pubsub_topic_iam_member": 1,
        "google_pubsub_subscription_iam_member": 2,
        "google_service_account": 3,
        "google_service_account_iam_member": 1,
        "google_cloud_run_v2_service": 1,
        "google_cloud_run_v2_service_iam_member": 1,
    }, values={
        SUB: {
            "name": "nba-sub", "topic": "${google_pubsub_topic.t__topic.id}",
            "ack_deadline_seconds": 600,
            "push_config": {
                "push_endpoint": f"${{{TARGET}.uri}}/process",
                "oidc_token": {"service_account_email": f"${{{PUSH_SA}.email}}",
                               "audience": f"${{{TARGET}.uri}}"},
            },
            "dead_letter_policy": {"dead_letter_topic": f"${{{DLQ}.id}}",
                                   "max_delivery_attempts": 5},
            "retry_policy": {"minimum_backoff": "10s", "maximum_backoff": "600s"},
            "expiration_policy": {"ttl": ""},
            # It never pushes before its identity may invoke the target and be minted tokens.
            "depends_on": [
                "google_cloud_run_v2_service_iam_member.svc__invoker_edge_push_identity",
                "google_service_account_iam_member.edge__push_identity_token_creator_agent",
            ],
        },
        PUSH_SA: {"account_id": "nba-push-sub", "project": PROJECT},
        DLQ: {"name": "nba-sub-dlq"},
        DLQ_SUB: {"name": "nba-sub-dlq-sub", "topic": f"${{{DLQ}.id}}",
                  "expiration_policy": {"ttl": ""}},
        "google_pubsub_topic_iam_member.edge__dead_letter_topic_publisher_agent": {
            "role": "roles/pubsub.publisher", "member": agent_member,
            "topic": f"${{{DLQ}.name}}", "lifecycle": {"replace_triggered_by": [f"{DLQ}.id"]},
        },
        "google_pubsub_subscription_iam_member.edge__subscriber_agent": {
            "role": "roles/pubsub.subscriber", "member": agent_member,
            "subscription": f"${{{SUB}.name}}", "lifecycle": {"replace_triggered_by": [f"{SUB}.id"]},
        },
        "google_service_account_iam_member.edge__push_identity_token_creator_agent": {
            "role": "roles/iam.serviceAccountTokenCreator", "member": agent_member,
            "service_account_id": f"${{{PUSH_SA}.name}}",
            "lifecycle": {"replace_triggered_by": [f"{PUSH_SA}.unique_id"]},
        },
        "google_cloud_run_v2_service_iam_member.svc__invoker_edge_push_identity": {
            "role": "roles/run.invoker", "member": f"serviceAccount:${{{PUSH_SA}.email}}",
            "name": f"${{{TARGET}.name}}", "lifecycle": {"replace_triggered_by": [f"{TARGET}.uid"]},
        },
        "google_pubsub_subscription_iam_member.edge__dead_letter_reader_canary_identity": {
            "role": "roles/pubsub.subscriber",
            "member": "serviceAccount:${google_service_account.canary__identity.email}",
            "subscription": f"${{{DLQ_SUB}.name}}",
            "lifecycle": {"replace_triggered_by": [f"{DLQ_SUB}.id"]},
        },
    })


@pytest.mark.parametrize("changes,error", [
    ({"path": "process"}, "path 'process' must start with '/'"),
    ({"max_delivery_attempts": 3}, "max_delivery_attempts 3 outside Pub/Sub's 5..100"),
    ({"max_delivery_attempts": 101}, "max_delivery_attempts 101 outside Pub/Sub's 5..100"),
])
def test_push_edge_validates(changes: dict[str, object], error: str) -> None:
    stack = new_stack("push-edge-invalid")
    with pytest.raises(ValueError, match=error):
        PushEdge(stack, "edge", edge_props(stack, **changes))
