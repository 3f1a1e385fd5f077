"""Where things live in the repository and in ``cdktf.out``: defined once, used everywhere."""

from __future__ import annotations

from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
FUNCTIONS_DIR = REPO_ROOT / "functions"
SCHEMAS_DIR = REPO_ROOT / "infra" / "model" / "schemas"
DEFAULT_OUTDIR = REPO_ROOT / "cdktf.out"
BUNDLE_DIR = REPO_ROOT / ".build" / "bundles"
BUILD_DIR = REPO_ROOT / ".build"
STACK_FILE = "cdk.tf.json"


def stack_name(env: str) -> str:
    """The stack (and Terraform working directory) of one environment: ``pipeline-<env>``."""
    return f"pipeline-{env}"


def stack_dir(env: str, outdir: Path = DEFAULT_OUTDIR) -> Path:
    """``<outdir>/stacks/pipeline-<env>``: the synthesized Terraform working directory."""
    return outdir / "stacks" / stack_name(env)


def stack_file(env: str, outdir: Path = DEFAULT_OUTDIR) -> Path:
    """``<outdir>/stacks/pipeline-<env>/cdk.tf.json``."""
    return stack_dir(env, outdir) / STACK_FILE
