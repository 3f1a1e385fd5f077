"""Synthesize the real stacks once per session (in-process) into a temporary folder."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

# Before jsii starts: no Node end-of-life banner, no telemetry.
os.environ.setdefault("JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION", "20")
os.environ.setdefault("CHECKPOINT_DISABLE", "1")

from infra.app import synthesize
from infra.pipeline import load
from infra.tfjson import StackJson


@pytest.fixture(scope="session")
def synth_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("cdktf.out")
    synthesize(load(), ("dev", "prod"), outdir=out, bundle_dir=out / "bundles")
    return out


@pytest.fixture(scope="session")
def stacks(synth_dir: Path) -> dict[str, StackJson]:
    return {env: StackJson.load(synth_dir / "stacks" / f"pipeline-{env}" / "cdk.tf.json")
            for env in ("dev", "prod")}


@pytest.fixture(scope="session")
def prod(stacks: dict[str, StackJson]) -> StackJson:
    return stacks["prod"]


@pytest.fixture(scope="session")
def dev(stacks: dict[str, StackJson]) -> StackJson:
    return stacks["dev"]
