"""Shared fixtures, started only when a test asks for them.

* ``emulator_processes``: the official Pub/Sub and Firestore emulators, once per session
  (tests using it are marked ``emulator``);
* ``synth_dir`` / ``stacks`` / ``prod`` / ``dev``: the real stacks, synthesized once per
  session (in-process) into a temporary folder, shared by every test that reads them.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

# Before jsii starts: no Node end-of-life banner, no telemetry.
os.environ.setdefault("JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION", "20")
os.environ.setdefault("CHECKPOINT_DISABLE", "1")

from infra.local.emulators import Emulators, emulators
from infra.paths import stack_file
from infra.stackjson.stack import StackJson


@pytest.fixture(scope="session")
def emulator_processes(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Emulators]:
    with emulators(tmp_path_factory.mktemp("emulator-logs")) as running:
        yield running


@pytest.fixture(scope="session")
def synth_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from infra.model.pipeline import load
    from infra.synth.app import synthesize

    out = tmp_path_factory.mktemp("cdktf.out")
    synthesize(load(), ("dev", "prod"), outdir=out, bundle_dir=out / "bundles")
    return out


@pytest.fixture(scope="session")
def stacks(synth_dir: Path) -> dict[str, StackJson]:
    return {env: StackJson.load(stack_file(env, synth_dir)) for env in ("dev", "prod")}


@pytest.fixture(scope="session")
def prod(stacks: dict[str, StackJson]) -> StackJson:
    return stacks["prod"]


@pytest.fixture(scope="session")
def dev(stacks: dict[str, StackJson]) -> StackJson:
    return stacks["dev"]
