"""The session's synthesized stacks (``tests/conftest.py``), handed out as fresh copies to mutate."""

from __future__ import annotations

import copy
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from iam.policy import check_stack
from iam.rules import Violation
from infra.paths import stack_dir

REPO_ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="session")
def stack_dirs(synth_dir: Path) -> dict[str, Path]:
    """Each env's stack folder in the session's shared synth (``tests/conftest.py``)."""
    return {env: stack_dir(env, synth_dir) for env in ("dev", "prod")}


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
