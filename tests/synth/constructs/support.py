"""What the construct tests share: a project, the Pub/Sub agent, and small targets to wire."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import pytest
import yaml
from cdktn import App, TerraformStack

from infra.paths import REPO_ROOT
from infra.synth.constructs.identity import GoogleAgent, Identity, IdentityProps
from infra.synth.constructs.service import CloudRunService, ServiceProps
from infra.synth.constructs.topic import Topic, TopicProps
from tests.synth.tfassert import assert_inventory, synth

INVENTORIES = Path(__file__).with_name("inventories")
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


def synthesized(build: Callable[[TerraformStack], object]) -> Any:
    """A module-scoped fixture: the Terraform JSON of one stack that ``build`` fills."""

    @pytest.fixture(scope="module")
    def doc() -> dict[str, Any]:
        stack = new_stack(build.__module__.rsplit(".", 1)[-1])
        build(stack)
        return synth(stack)

    return doc


def merged(base: Mapping[str, Any], extra: Mapping[str, Any]) -> dict[str, Any]:
    """``base`` with ``extra`` merged in, objects recursively (``extra`` wins elsewhere)."""
    out = dict(base)
    for key, value in extra.items():
        both = isinstance(value, Mapping) and isinstance(out.get(key), Mapping)
        out[key] = merged(out[key], value) if both else value
    return out


def assert_expected_inventory(doc: Mapping[str, Any], construct: str,
                              computed: Mapping[str, Mapping[str, Any]] | None = None) -> None:
    """``assert_inventory`` against ``inventories/<construct>.yaml`` (its ``counts`` and
    ``values``; other top-level keys are anchors those merge in). ``computed`` adds, per address,
    the attributes only code can produce. A failure names the file, the path and both values.
    """
    path = INVENTORIES / f"{construct}.yaml"
    expected = yaml.safe_load(path.read_text())
    values = merged(expected["values"], computed or {})
    try:
        assert_inventory(doc, counts=expected["counts"], values=values)
    except AssertionError as err:
        shown = path.relative_to(REPO_ROOT) if path.is_relative_to(REPO_ROOT) else path
        raise AssertionError(f"{shown}: {err}") from None
