"""What the construct tests share: a project, the Pub/Sub agent, and small targets to wire."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from cdktn import App, TerraformStack

from infra.synth.bundle import Bundle
from infra.synth.constructs.builder import FunctionBuilder, FunctionBuilderProps
from infra.synth.constructs.function import CloudFunction, FunctionProps
from infra.synth.constructs.identity import GoogleAgent, Identity, IdentityProps
from infra.synth.constructs.push_edge import PushEdge, PushEdgeProps
from infra.synth.constructs.service import CloudRunService, ServiceProps
from infra.synth.constructs.topic import Topic, TopicProps
from tests.synth.tfassert import synth

INVENTORIES = Path(__file__).with_name("inventories")
"""``<construct>.yaml``: what each construct test's ``build`` synthesizes (``assert_inventory_file``)."""
PROJECT = "proj-123456"
REGION = "us-west2"
AGENT = GoogleAgent("serviceAccount:service-1@gcp-sa-pubsub.iam.gserviceaccount.com", "agent")


def new_stack(name: str) -> TerraformStack:
    """A standalone stack holding only what a test builds in it."""
    return TerraformStack(App(), name)


def identity(stack: TerraformStack, account_id: str, component: str) -> Identity:
    return Identity(stack, f"id-{component}", IdentityProps(
        account_id, component, "identity", f"Identity {component}", PROJECT))


def service(stack: TerraformStack, component: str = "svc", **changes: object) -> CloudRunService:
    """A Cloud Run service (the target edges and jobs invoke); ``changes`` override props."""
    props = dict(name=f"nba-{component}", component=component, project=PROJECT, region=REGION,
                 image="img", identity_account_id=f"nba-run-{component}") | changes
    return CloudRunService(stack, f"service-{component}", ServiceProps(**props))  # type: ignore[arg-type]


def topic(stack: TerraformStack, component: str = "t") -> Topic:
    return Topic(stack, f"topic-{component}", TopicProps(f"nba-{component}", component, PROJECT))


def edge(stack: TerraformStack, **changes: object) -> PushEdge:
    """A ``PushEdge`` from a new topic to a new service; ``changes`` override its props."""
    props = dict(name="nba-sub", component="edge", project=PROJECT, topic=topic(stack),
                 target=service(stack), path="/process", identity_account_id="nba-push-sub",
                 pubsub_agent=AGENT, dead_letter_topic="nba-sub-dlq",
                 dead_letter_subscription="nba-sub-dlq-sub") | changes
    return PushEdge(stack, "edge", PushEdgeProps(**props))  # type: ignore[arg-type]


def synthesized(build: Callable[[TerraformStack], object]) -> Any:
    """A module-scoped fixture: the Terraform JSON of one stack that ``build`` fills."""

    @pytest.fixture(scope="module")
    def doc() -> dict[str, Any]:
        stack = new_stack(build.__module__.rsplit(".", 1)[-1])
        build(stack)
        return synth(stack)

    return doc


def function(stack: TerraformStack, bundle: Bundle, component: str,
             **changes: object) -> CloudFunction:
    """A ``CloudFunction`` with its own build identity; ``changes`` override its props."""
    props = dict(name=f"nba-{component}", component=component, project=PROJECT, region=REGION,
                 bundle=bundle, bucket_name="nba-sources", entry_point="handler",
                 runtime_account_id=f"nba-fn-{component}",
                 build_identity=FunctionBuilder(stack, f"{component}-builder", FunctionBuilderProps(
                     f"nba-build-{component}", PROJECT, component=f"{component}-build")),
                 ) | changes
    return CloudFunction(stack, component, FunctionProps(**props))  # type: ignore[arg-type]
