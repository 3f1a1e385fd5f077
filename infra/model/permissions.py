"""Who may act and what they may hold: the IAM vocabulary of the wiring (``infra.model.wiring``).

* a *member* is an IAM member string; service accounts are ``serviceAccount:<email>``, the
  Pub/Sub service agent (whose project number is only known at apply time) is
  ``PUBSUB_AGENT``;
* a *target* is what a role is granted on, named the way the cloud names it
  (``Target("pubsub.topic", "nba-phase4-trigger")``);
* a *slot* is a place where an identity acts: a service's runtime, a push subscription's
  OIDC token, a function's event trigger, a scheduler job's OIDC token, a function build;
* ``Grant.by`` says who makes the grant: a construct when two constructs are connected
  (``push_edge``, ``function``, ``function_builder``, ``scheduled_job``), or the stack through the target
  construct's ``grant_*`` method (``stack``).

Also the roles the pipeline grants, the members and roles it never grants, and
``ROLE_ACCESS``: which pipeline state a function of each manifest role may touch.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Literal

from infra.model.components import FunctionRole

PUBSUB_AGENT = "serviceAccount:service-<project-number>@gcp-sa-pubsub.iam.gserviceaccount.com"
"""The Pub/Sub service agent of the stack's own project (``service-${project.number}@…``)."""

INVOKER = "roles/run.invoker"
PUBLISHER = "roles/pubsub.publisher"
SUBSCRIBER = "roles/pubsub.subscriber"
TOKEN_CREATOR = "roles/iam.serviceAccountTokenCreator"
DATA_EDITOR = "roles/bigquery.dataEditor"
DATA_VIEWER = "roles/bigquery.dataViewer"
JOB_USER = "roles/bigquery.jobUser"
DATASTORE_USER = "roles/datastore.user"
DATASTORE_VIEWER = "roles/datastore.viewer"
LOG_WRITER = "roles/logging.logWriter"
REGISTRY_WRITER = "roles/artifactregistry.writer"
OBJECT_VIEWER = "roles/storage.objectViewer"
OBJECT_USER = "roles/storage.objectUser"
"""Write that may overwrite: ``roles/storage.objectCreator`` cannot replace an existing object
(an overwrite needs ``storage.objects.delete``); objectUser is the smallest predefined role
that can (https://cloud.google.com/storage/docs/access-control/iam-roles)."""

PRIMITIVE_ROLES = frozenset({"roles/owner", "roles/editor", "roles/viewer"})
"""Never granted: each spans every service of the project."""
PUBLIC_MEMBERS = frozenset({"allUsers", "allAuthenticatedUsers"})
"""Never granted: anyone on the internet, or anyone with a Google account."""

BUILDER_PROJECT_ROLES = (LOG_WRITER, REGISTRY_WRITER, OBJECT_USER)
"""A custom function-build identity's roles, instead of the broad
``roles/cloudbuild.builds.builder``: write build logs, push the image, and read and write
the source copy in Google's ``gcf-v2-sources-<number>-<region>`` bucket, conditioned on those
buckets (``BUILD_SOURCE_CONDITION``; see ``infra.synth.constructs.builder``)."""

BUILD_SOURCE_CONDITION = (
    "gcf-v2 function sources only",
    'resource.name.startsWith("projects/_/buckets/gcf-v2-sources-") || '
    'resource.name.startsWith("projects/_/buckets/gcf-v2-uploads-")',
)
"""(title, CEL expression) of the build identity's ``objectAdmin``: Cloud Storage names
resources ``projects/_/buckets/<bucket>[/objects/<object>]`` in IAM conditions
(https://cloud.google.com/iam/docs/conditions-resource-attributes#resource-name), so the grant
reaches Google's function source and upload buckets, never the raw files or any other
bucket of the project."""

TargetKind = Literal[
    "run.service",       # a Cloud Run service this stack deploys
    "function.service",  # the Cloud Run service under a gen2 function (named like it)
    "function",          # the Cloud Functions resource itself (cloudfunctions IAM)
    "pubsub.topic",
    "pubsub.subscription",
    "iam.serviceAccount",  # named by email
    "bigquery.dataset",
    "bigquery.table",
    "storage.bucket",
    "secret",
    "project",
    "other",
]

SlotKind = Literal[
    "service.runtime",    # Cloud Run service template.service_account
    "function.runtime",   # gen2 function service_config.service_account_email
    "function.trigger",   # gen2 function event_trigger.service_account_email
    "function.build",     # gen2 function build_config.service_account
    "subscription.push",  # push_config.oidc_token.service_account_email
    "job.oidc",           # Cloud Scheduler http_target.oidc_token.service_account_email
]

GrantedBy = Literal["push_edge", "function", "function_builder", "scheduled_job", "stack"]

SHAREABLE_SLOTS: frozenset[str] = frozenset({"function.build"})
"""Slot kinds one identity may fill for several components (every function build)."""


@dataclass(frozen=True, order=True)
class Target:
    kind: TargetKind
    """What sort of resource; a gen2 function's invoker grant is on its ``function.service``."""
    name: str
    """As the cloud names it (``nba-phase4-trigger``); an ``iam.serviceAccount`` by email, a
    ``project`` by id; the raw text of a stack reference that does not resolve."""

    def __str__(self) -> str:
        return f"{self.kind} {self.name}"


@dataclass(frozen=True, order=True)
class Grant:
    """``member`` holds ``role`` on ``target``; ``why`` says which connection needs it.

    ``by``: who grants it (see the module docstring); default ``stack``.
    """

    member: str
    """An IAM member: ``serviceAccount:<email>``, or ``PUBSUB_AGENT`` for the Pub/Sub service agent."""
    role: str
    """The role's full name, ``roles/pubsub.publisher``."""
    target: Target
    why: str = field(default="", compare=False)
    """The connection, one phrase for reports (``phase3-to-phase4-orchestrator publishes
    nba-phase4-trigger``); empty in the grant a construct returns to be checked against the wiring."""
    by: GrantedBy = field(default="stack", compare=False)
    address: str = field(default="", compare=False)
    """The Terraform address of the IAM member that made it, once a construct has (what a
    resource that must wait for the grant depends on); empty in the wiring itself."""
    condition: str = ""
    """The CEL expression of a grant made under a static resource condition (the build
    identity's ``BUILD_SOURCE_CONDITION``); empty for every unconditional grant."""

    def __str__(self) -> str:
        cond = f" if {self.condition}" if self.condition else ""
        return f"{short_member(self.member)} {self.role} on {self.target}{cond}"


@dataclass(frozen=True, order=True)
class Slot:
    kind: SlotKind
    """Which identity attribute (``SlotKind`` names the field of each)."""
    component: str
    """Cloud name of the service, function, subscription or job."""

    def __str__(self) -> str:
        return f"{self.kind} of {self.component}"


@dataclass(frozen=True)
class FunctionAccess:
    """What a function of one manifest role does with the pipeline's own state."""

    firestore_role: str
    """Project role on Firestore (its IAM is project-level only)."""
    writes_completions: bool
    """``dataEditor`` on the dataset of ``phase_completions`` (the dual write)."""
    reads_dead_letters: bool
    """``subscriber`` on every push edge's dead-letter subscription (to report them)."""
    watches_announcements: bool = False
    """``subscriber`` on its own pull subscription of each gated transition's source topic
    (what the upstream phase announced, read independently of the orchestrator)."""


ROLE_ACCESS: Mapping[FunctionRole, FunctionAccess] = MappingProxyType({
    "orchestrator": FunctionAccess(DATASTORE_USER, writes_completions=True,
                                   reads_dead_letters=False),
    # The canary keeps what it pulled from its announcement subscriptions in its own
    # collection (canary_announcements): Firestore IAM is project-wide, so that write is
    # roles/datastore.user; it never writes the orchestrator's documents.
    "canary": FunctionAccess(DATASTORE_USER, writes_completions=False,
                             reads_dead_letters=True, watches_announcements=True),
})
"""The one decision of which function role may touch which state; keyed by ``Function.role``."""


def short_member(member: str) -> str:
    """``serviceAccount:a@p.iam.gserviceaccount.com`` → ``a@p``; the agent → ``pubsub-agent``."""
    if member == PUBSUB_AGENT:
        return "pubsub-agent"
    return member.removeprefix("serviceAccount:").replace(".iam.gserviceaccount.com", "")


class MemberLookup:
    """``grants_of`` and ``describe`` over a ``grants`` collection and ``identities``."""

    grants: Collection[Grant]
    """Every grant the environment needs, each once (``grants_of`` filters them by member)."""
    identities: Mapping[str, str]
    """Member → what it is (``runtime identity of service nba-phase1-scrapers``), ``describe``'s
    answer; any other member is one the data does not declare."""

    def grants_of(self, member: str) -> frozenset[Grant]:
        return frozenset(g for g in self.grants if g.member == member)

    def describe(self, member: str) -> str:
        return self.identities.get(member, "an identity the data does not declare")
