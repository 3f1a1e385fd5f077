"""Build the CDK Terrain app for the manifest and synthesize it into ``cdktf.out``."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from cdktn import App

from infra.model.adoption import ADOPTION_DIR, Record, record_path
from infra.model.envs import ENVS, get_env
from infra.model.manifest import Manifest
from infra.paths import BUNDLE_DIR, DEFAULT_OUTDIR, FUNCTIONS_DIR, stack_file
from infra.synth.stacks.pipeline_stack import PipelineStack, stack_name

TERRAFORM_TARGET = ">=1.11.0"
"""The Terraform releases the stacks are written for (CI pins ~1.11): the alert token is an
ephemeral resource (1.10) fed to a write-only argument (1.11). cdktn validates features
against it (its ``targetVersions`` context)."""


def adoption_record(env: str, project: str, adoption_dir: Path | None) -> Record:
    """The adoption record of ``env`` in ``adoption_dir``; empty when there is none."""
    if adoption_dir is None or not record_path(env, adoption_dir).is_file():
        return Record()
    # Imported only when a record exists: pydantic is a noticeable part of a synthesis to load.
    from infra.model.adoption_file import load_record

    return load_record(env, project, adoption_dir)


def synthesize(manifest: Manifest, env_names: Sequence[str] = tuple(ENVS),
               outdir: Path = DEFAULT_OUTDIR, bundle_dir: Path = BUNDLE_DIR,
               functions_dir: Path = FUNCTIONS_DIR,
               adoption_dir: Path | None = ADOPTION_DIR) -> dict[str, Path]:
    """Synthesize one stack per environment; return stack name → its ``cdk.tf.json``.

    ``adoption_dir``: where ``<env>.json`` adoption records are read (their imports become
    ``import`` blocks); ``None`` synthesizes without adoption.
    """
    manifest.validate()
    app = App(outdir=str(outdir), skip_validation=False,
              context={"targetVersions": {"terraform": TERRAFORM_TARGET}})
    envs = [get_env(n) for n in env_names]
    for env in envs:
        PipelineStack(app, manifest, env, bundle_dir, functions_dir,
                      record=adoption_record(env.name, env.project_id, adoption_dir))
    app.synth()
    return {stack_name(env): stack_file(env.name, outdir) for env in envs}
