"""Synthesize the real stacks once per session and hand out fresh copies to mutate."""

from __future__ import annotations

import copy
import json
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

# Before jsii starts: no Node end-of-life banner, no telemetry.
os.environ.setdefault("JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION", "20")
os.environ.setdefault("CHECKPOINT_DISABLE", "1")

from iam.policy import check_stack
from iam.rules import Violation
from infra.app import synthesize
from infra.pipeline import load

REPO_ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="session")
def synth_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("policy-cdktf.out")
    synthesize(load(), ("dev", "prod"), outdir=out, bundle_dir=out / "bundles")
    return out


@pytest.fixture(scope="session")
def stack_dirs(synth_dir: Path) -> dict[str, Path]:
    return {env: synth_dir / "stacks" / f"pipeline-{env}" for env in ("dev", "prod")}


@pytest.fixture(scope="session")
def stack_json(stack_dirs: dict[str, Path]) -> dict[str, dict[str, Any]]:
    return {env: json.loads((d / "cdk.tf.json").read_text()) for env, d in stack_dirs.items()}


@pytest.fixture
def prod(stack_json: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """A deep copy of the synthesized prod stack, safe to mutate."""
    return copy.deepcopy(stack_json["prod"])


@pytest.fixture
def check() -> Callable[..., list[Violation]]:
    """Run the engine in-process: ``check(stack_dict, env="prod")``."""

    def run(stack: dict[str, Any], env: str | None = "prod") -> list[Violation]:
        return check_stack(stack, env)

    return run


@pytest.fixture
def write_stack(tmp_path: Path) -> Callable[[dict[str, Any], str], Path]:
    """Write a stack dict to ``<tmp>/<folder>/cdk.tf.json`` and return the folder."""

    def write(stack: dict[str, Any], folder: str = "pipeline-prod") -> Path:
        d = tmp_path / folder
        d.mkdir(parents=True, exist_ok=True)
        (d / "cdk.tf.json").write_text(json.dumps(stack))
        return d

    return write
