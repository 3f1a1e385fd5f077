"""Build the CDK Terrain app for the manifest and synthesize it into ``cdktf.out``."""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path

from cdktn import App

from infra.bundle import FUNCTIONS_DIR
from infra.envs import ENVS, get_env
from infra.manifest import Manifest
from infra.stacks.pipeline_stack import PipelineStack, stack_name

REPO_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_OUTDIR = REPO_ROOT / "cdktf.out"
BUNDLE_DIR = REPO_ROOT / ".build" / "bundles"


def synthesize(manifest: Manifest, env_names: Sequence[str] = tuple(ENVS),
               outdir: Path = DEFAULT_OUTDIR, bundle_dir: Path = BUNDLE_DIR,
               functions_dir: Path = FUNCTIONS_DIR) -> dict[str, Path]:
    """Synthesize one stack per environment; return stack name → its ``cdk.tf.json``."""
    manifest.validate()
    app = App(outdir=str(outdir), skip_validation=False)
    envs = [get_env(n) for n in env_names]
    for env in envs:
        PipelineStack(app, manifest, env, bundle_dir, functions_dir)
    app.synth()
    return {stack_name(env): outdir / "stacks" / stack_name(env) / "cdk.tf.json" for env in envs}


def load_stack(path: Path) -> dict[str, object]:
    return json.loads(path.read_text())
