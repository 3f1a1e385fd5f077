"""Terraform itself parses the synthesized JSON (offline: no provider, no backend).

``terraform providers`` reads and checks the whole configuration (resource names, block
structure, references in lifecycle) before it asks for an initialised backend, so the only
error an offline machine may see is the backend one.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest

TERRAFORM = shutil.which("terraform")
BACKEND_ONLY = "Backend initialization required"
pytestmark = pytest.mark.skipif(TERRAFORM is None, reason="terraform is not on PATH")
RC = Path(__file__).resolve().parents[2] / "infra" / "terraform" / "terraformrc"


def config_errors(stack_dir: Path) -> list[str]:
    proc = subprocess.run([str(TERRAFORM), "providers", "-no-color"], cwd=stack_dir,
                          capture_output=True, text=True, timeout=60,
                          env=os.environ | {"TF_CLI_CONFIG_FILE": str(RC)})
    errors = re.findall(r"^Error: (.+)$", proc.stdout + proc.stderr, re.M)
    return [e for e in errors if BACKEND_ONLY not in e]


@pytest.mark.parametrize("env", ["dev", "prod"])
def test_terraform_accepts_the_synthesized_configuration(synth_dir: Path, env: str) -> None:
    assert config_errors(synth_dir / "stacks" / f"pipeline-{env}") == []


def test_a_broken_resource_name_is_caught(synth_dir: Path, tmp_path: Path) -> None:
    stack = json.loads((synth_dir / "stacks" / "pipeline-dev" / "cdk.tf.json").read_text())
    topics = stack["resource"]["google_pubsub_topic"]
    topics["bad.name"] = topics.pop(next(iter(topics)))
    (tmp_path / "cdk.tf.json").write_text(json.dumps(stack))
    assert config_errors(tmp_path) == ["Invalid resource name"]
