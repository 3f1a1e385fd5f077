"""The Cloud Build identity of function deploys, with the grants a build needs.

The grants are made here, in the construct, and every function built as this identity
depends on them (``CloudFunction`` reads ``grants``): the provider's own gen2 example with a
custom build service account (website/docs/r/cloudfunctions2_function.html.markdown, "Basic
Builder") grants ``roles/logging.logWriter``, ``roles/artifactregistry.writer`` and
``roles/storage.objectAdmin`` on the project and makes the function wait for them ("builder
permissions need to stabilize before it can pull the source zip").

Storage is read-only here: the build reads the source copy Cloud Functions makes in Google's
``gcf-v2-sources-<number>-<region>`` bucket (created on the project's first function deploy,
so it cannot be granted on beforehand, hence the project level); images go to Artifact
Registry and logs to Logging, so nothing needs ``objectAdmin``'s write and delete on every
object of the project (the raw files included).
"""

from __future__ import annotations

from dataclasses import dataclass

from constructs import Construct

from infra.model.wiring import BUILDER_PROJECT_ROLES, Grant
from infra.synth.constructs.identity import Identity, IdentityProps


@dataclass(frozen=True)
class FunctionBuilderProps:
    """``account_id``: the build identity's account id (6-30 chars)."""

    account_id: str
    project: str
    component: str = "function_builder"


class FunctionBuilder(Construct):
    def __init__(self, scope: Construct, id: str, props: FunctionBuilderProps) -> None:
        super().__init__(scope, id)
        self.props = props
        self.identity = Identity(self, "identity", IdentityProps(
            account_id=props.account_id, component=props.component, part="identity",
            display_name="Cloud Build identity for function deploys", project=props.project,
        ))
        self.grants: tuple[Grant, ...] = tuple(
            self.identity.grant_project_role(role) for role in BUILDER_PROJECT_ROLES)
        """What the build needs, granted before any function is built (see the module)."""
