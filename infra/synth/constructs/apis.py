"""The Google APIs the pipeline needs, enabled (and never disabled by a destroy), and the
ordering that makes a first apply work: every resource waits for the APIs it is created
through, instead of failing with "API has not been used in project" on a new project."""

from __future__ import annotations

from cdktn import TerraformDataSource, TerraformEphemeralResource, TerraformResource
from cdktn_provider_google.project_service import ProjectService
from constructs import Construct

from infra.model.apis import PIPELINE_APIS
from infra.synth.constructs.base import (
    Dependent,
    StackConstruct,
    add_depends_on,
    index_of,
    resource_type,
    stack_of,
)

# Exact types first: data.google_project and project IAM go through Resource Manager (the
# ``google_project`` prefix would also match ``google_project_service`` itself).
APIS_BY_EXACT_TYPE: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("google_project", ("cloudresourcemanager",)),
    ("google_project_iam_member", ("cloudresourcemanager",)),
)

# A Google-managed service agent exists once its API is enabled: a grant to it must wait.
AGENT_APIS: tuple[tuple[str, str], ...] = (
    ("@gcp-sa-pubsub.iam.gserviceaccount.com", "pubsub"),
)

# Resource type prefix → the APIs that create it. Other IAM members are left out: they
# reference their target, which already waits for the API.
APIS_BY_TYPE: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("google_cloud_run_v2_", ("run",)),
    ("google_cloudfunctions2_", ("cloudfunctions", "cloudbuild", "artifactregistry", "eventarc",
                                 "run")),
    ("google_pubsub_", ("pubsub",)),
    ("google_cloud_scheduler_", ("cloudscheduler",)),
    ("google_firestore_", ("firestore",)),
    ("google_bigquery_", ("bigquery",)),
    ("google_monitoring_", ("monitoring",)),
    ("google_logging_", ("logging",)),
    ("google_service_account", ("iam",)),
    ("google_storage_", ("storage",)),
    ("google_secret_manager_", ("secretmanager",)),
)


def apis_for(resource_type: str) -> tuple[str, ...]:
    """Short API names (``run``, ``pubsub``…) a resource of ``resource_type`` needs."""
    for rtype, apis in APIS_BY_EXACT_TYPE:
        if resource_type == rtype:
            return apis
    if "_iam_" in resource_type:
        return ()
    for prefix, apis in APIS_BY_TYPE:
        if resource_type.startswith(prefix):
            return apis
    return ()


def agent_apis(node: Dependent, member: str | None = None) -> tuple[str, ...]:
    """The APIs whose service agent ``node`` grants a role to (its ``member``), if any.

    ``member``: the member as its construct recorded it (``StackIndex.members``); when not
    given, an IAM member's is read from ``node``.
    """
    if "_iam_member" not in resource_type(node):
        return ()
    if member is None:
        member = getattr(node, "member_input", None)
    if not isinstance(member, str):
        return ()
    return tuple(api for domain, api in AGENT_APIS if domain in member)


class ProjectApis(StackConstruct):
    def __init__(self, scope: Construct, id: str, project: str,
                 apis: tuple[str, ...] = PIPELINE_APIS) -> None:
        super().__init__(scope, id)
        self.addresses: dict[str, str] = {}
        for api in apis:
            svc = ProjectService(self, api, project=project, service=api,
                                 disable_on_destroy=False, disable_dependent_services=False)
            self.addresses[api.split(".")[0]] = self.pin(svc, "apis", api.split(".")[0])

    def order_before(self, scope: Construct) -> None:
        """Make every resource and data source under ``scope`` depend on its APIs.

        Raises ``KeyError`` naming the API when a resource needs one this set does not enable.
        """
        members = index_of(stack_of(scope)).members
        for node in scope.node.find_all():
            if not isinstance(node, TerraformResource | TerraformDataSource | TerraformEphemeralResource):
                continue
            rtype = resource_type(node)
            member = members.get(node) if isinstance(node, TerraformResource) else None
            needed = apis_for(rtype) + agent_apis(node, member)
            missing = [a for a in needed if a not in self.addresses]
            if missing:
                raise KeyError(f"{rtype} needs the APIs {missing}; add them to PIPELINE_APIS")
            if needed:
                add_depends_on(node, {self.addresses[a] for a in needed})
