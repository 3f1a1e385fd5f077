"""A dedicated service account: every component that runs code or calls another gets one."""

from __future__ import annotations

import re
from dataclasses import dataclass, replace
from typing import Protocol

from cdktn import TerraformResource
from cdktn_provider_google.project_iam_member import ProjectIamMember, ProjectIamMemberCondition
from cdktn_provider_google.service_account import ServiceAccount
from cdktn_provider_google.service_account_iam_member import ServiceAccountIamMember
from constructs import Construct

from infra.model.permissions import PRIMITIVE_ROLES, PUBSUB_AGENT, TOKEN_CREATOR, Grant, Target
from infra.synth.constructs.base import (
    ComponentProps,
    Principal,
    StackConstruct,
    logical_id,
    ref,
    replaced_with,
)

ACCOUNT_ID_RE = re.compile(r"^[a-z][a-z0-9-]{4,28}[a-z0-9]$")


@dataclass(frozen=True)
class IdentityProps:
    """``account_id``: 6-30 chars of ``[a-z0-9-]``; ``component``/``part`` name the address."""

    account_id: str
    """The id before ``@<project>.iam.gserviceaccount.com`` (``nba-fn-orch-p3p4``)."""
    component: str
    """With ``part``, the account's address ``google_service_account.<component>__<part>``
    (``phase2_raw_sub__push_identity``; ``-`` becomes ``_``)."""
    part: str
    """Address suffix (``identity``, ``push_identity``); also prefixes the parts of the
    grants this identity receives."""
    display_name: str
    """What the console shows (``Runtime identity of phase3-to-phase4-orchestrator``)."""
    project: str
    """The project id the account is created in."""


class OwnsIdentity(ComponentProps, Protocol):
    """Props of a component that runs as (or calls with) an identity of its own."""

    @property
    def identity_account_id(self) -> str: ...


class Identity(StackConstruct):
    """A ``google_service_account`` with grant helpers that only ever add members."""

    @classmethod
    def own(cls, scope: Construct, props: OwnsIdentity, what: str,
            part: str = "identity") -> Identity:
        """The identity ``scope`` creates for itself (construct id ``identity``), shown in the
        console as ``<what> of <name>``."""
        return cls(scope, "identity", IdentityProps(
            account_id=props.identity_account_id, component=props.component, part=part,
            display_name=f"{what} of {props.name}", project=props.project,
        ))

    def __init__(self, scope: Construct, id: str, props: IdentityProps) -> None:
        super().__init__(scope, id)
        if not ACCOUNT_ID_RE.match(props.account_id):
            raise ValueError(
                f"identity {props.component}.{props.part}: account_id {props.account_id!r} "
                "must be 6-30 chars of [a-z0-9-], starting with a letter; shorten the manifest "
                "'short' or the sport prefix"
            )
        self.props = props
        self.owner = scope
        """The construct this identity belongs to (its scope, kept so no one asks jsii)."""
        # Single underscores: grant addresses embed it after their own ``__`` separator.
        self.component = logical_id(props.component, props.part).replace("__", "_")
        self.account = ServiceAccount(
            self, "sa", account_id=props.account_id, display_name=props.display_name,
            project=props.project,
        )
        self.address = self.pin(self.account, props.component, props.part)
        self.email = f"{props.account_id}@{props.project}.iam.gserviceaccount.com"
        self.users: list[tuple[TerraformResource, frozenset[str]]] = []
        """Resources that act as this identity, each with the grant addresses it cannot wait
        for (a grant on the resource itself); the stack makes each wait for the identity's
        other grants to propagate (``infra.synth.constructs.propagation``)."""

    def acts_for(self, resource: TerraformResource, except_grants: tuple[str, ...] = ()) -> None:
        """Record that ``resource`` acts as this identity (an OIDC token, a runtime or build
        account): it must not switch to it before the identity's grants have propagated."""
        self.users.append((resource, frozenset(except_grants)))

    @property
    def email_ref(self) -> str:
        """The account's ``email`` as a reference: whatever uses it is created after the
        account."""
        return ref(self.address, "email")

    @property
    def name_ref(self) -> str:
        """The account's ``name`` (``projects/P/serviceAccounts/E``) as a reference."""
        return ref(self.address, "name")

    @property
    def id_ref(self) -> str:
        """The account's ``id`` as a reference."""
        return ref(self.address, "id")

    @property
    def member(self) -> str:
        # The reference (not the literal email) orders the grant after the account exists.
        return f"serviceAccount:{self.email_ref}"

    @property
    def literal_member(self) -> str:
        return f"serviceAccount:{self.email}"

    def grant_token_creator(self, principal: Principal) -> Grant:
        """Let ``principal`` mint OIDC tokens as this identity (Pub/Sub push needs it)."""
        # The principal is part of the address: a second principal is a second member.
        return self.grant_member(
            ServiceAccountIamMember, principal, TOKEN_CREATOR,
            Target("iam.serviceAccount", self.email), f"token-creator-{principal.component}",
            (self.props.component, f"{self.props.part}_token_creator_{principal.component}"),
            service_account_id=self.name_ref, lifecycle=replaced_with(self.address))

    def grant_project_role(self, role: str, condition: tuple[str, str] | None = None) -> Grant:
        """Project-wide role for services whose IAM is project-level only (Firestore);
        ``condition``: (title, CEL expression) narrowing it to some resources."""
        if role in PRIMITIVE_ROLES:
            raise ValueError(f"identity {self.component}: primitive role {role} is forbidden; "
                             "use a predefined role")
        # Terraform names allow no dots: roles/datastore.user → datastore_user.
        role_key = role.split("/")[-1].replace(".", "_")
        grant = self.grant_member(
            ProjectIamMember, self, role, Target("project", self.props.project),
            f"project-{role_key}", (self.props.component, f"{self.props.part}_{role_key}"),
            project=self.props.project,
            condition=ProjectIamMemberCondition(title=condition[0], expression=condition[1])
            if condition else None)
        return replace(grant, condition=condition[1]) if condition else grant


@dataclass(frozen=True)
class GoogleAgent:
    """A Google-managed service agent such as Pub/Sub's (``service-N@gcp-sa-pubsub…``)."""

    member: str
    component: str
    literal: str = PUBSUB_AGENT
    """The member as ``infra.model.wiring`` names it; default: the Pub/Sub agent's."""

    @property
    def literal_member(self) -> str:
        return self.literal
