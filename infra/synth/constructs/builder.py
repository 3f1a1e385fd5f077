"""The Cloud Build identity of function deploys, with the grants a build needs.

The grants are made here, in the construct, and every function built as this identity
depends on them (``CloudFunction`` reads ``grants``): the provider's own gen2 example with a
custom build service account (website/docs/r/cloudfunctions2_function.html.markdown, "Basic
Builder") grants ``roles/logging.logWriter``, ``roles/artifactregistry.writer`` and
``roles/storage.objectAdmin`` on the project and makes the function wait for them ("builder
permissions need to stabilize before it can pull the source zip").

Storage: the provider's example grants ``roles/storage.objectAdmin`` (website/docs/r/
cloudfunctions2_function.html.markdown#L475): the build reads, and may write, objects in the
source copy Cloud Functions makes in Google's ``gcf-v2-sources-<number>-<region>`` bucket,
which the project's first function deploy creates, so it cannot be granted on the bucket
beforehand. Granted here: ``roles/storage.objectUser``, every object read and write
permission of objectAdmin without its object IAM permissions
(https://cloud.google.com/storage/docs/access-control/iam-roles), on the project but under
an IAM condition on the resource name that limits it to Google's ``gcf-v2-sources-`` and
``gcf-v2-uploads-`` buckets (``BUILD_SOURCE_CONDITION``): never the raw files. The earlier
``objectViewer`` was less than the documented example (no write) and left builds to fail.

The functions built as this identity also wait for its grants to propagate
(``infra.synth.constructs.propagation``), as the example's ``time_sleep`` does.
"""

from __future__ import annotations

from dataclasses import dataclass

from constructs import Construct

from infra.model.permissions import BUILD_SOURCE_CONDITION, BUILDER_PROJECT_ROLES, OBJECT_USER, Grant
from infra.synth.constructs.base import StackConstruct
from infra.synth.constructs.identity import Identity, IdentityProps


@dataclass(frozen=True)
class FunctionBuilderProps:
    """``account_id``: the build identity's account id (6-30 chars)."""

    account_id: str
    project: str
    """The GCP project id the resources are created in."""
    component: str = "function_builder"
    """Address prefix: resources are ``<type>.<component>__<part>`` (``-`` becomes ``_``)."""


class FunctionBuilder(StackConstruct):
    def __init__(self, scope: Construct, id: str, props: FunctionBuilderProps) -> None:
        super().__init__(scope, id)
        self.props = props
        self.identity = Identity(self, "identity", IdentityProps(
            account_id=props.account_id, component=props.component, part="identity",
            display_name="Cloud Build identity for function deploys", project=props.project,
        ))
        self.grants: tuple[Grant, ...] = tuple(
            self.identity.grant_project_role(
                role, BUILD_SOURCE_CONDITION if role == OBJECT_USER else None)
            for role in BUILDER_PROJECT_ROLES)
        """What the build needs, granted before any function is built (see the module)."""
