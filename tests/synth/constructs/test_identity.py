"""Identity: one service account, token-creator members per principal, project roles."""

from __future__ import annotations

from typing import Any

import pytest

from infra.synth.constructs.identity import GoogleAgent, Identity, IdentityProps
from tests.synth.constructs.support import AGENT, INVENTORIES, PROJECT, new_stack
from tests.synth.tfassert import assert_inventory_file, synth

SA = "google_service_account.edge__push_identity"
OTHER = GoogleAgent("serviceAccount:other@p.iam.gserviceaccount.com", "other_agent")


def props(account_id: str = "nba-push-x") -> IdentityProps:
    return IdentityProps(account_id, "edge", "push_identity", "Push identity", PROJECT)


@pytest.fixture(scope="module")
def built() -> tuple[Identity, dict[str, Any]]:
    stack = new_stack("identity")
    ident = Identity(stack, "id", props())
    ident.grant_token_creator(AGENT)
    ident.grant_token_creator(OTHER)
    ident.grant_project_role("roles/datastore.user")
    return ident, synth(stack)


def test_inventory(built: tuple[Identity, dict[str, Any]]) -> None:
    assert_inventory_file(built[1], INVENTORIES / "identity.yaml")


def test_email_and_address_are_literal(built: tuple[Identity, dict[str, Any]]) -> None:
    ident = built[0]
    assert ident.email == f"nba-push-x@{PROJECT}.iam.gserviceaccount.com"
    assert ident.address == SA
    assert ident.component == "edge_push_identity"


def test_identity_rejects_an_invalid_account_id() -> None:
    with pytest.raises(ValueError, match=r"account_id 'nba-run-a-name-that-is-far-too-long-x' "
                                         r"must be 6-30 chars"):
        Identity(new_stack("identity-invalid"), "id",
                 props("nba-run-a-name-that-is-far-too-long-x"))


@pytest.mark.parametrize("role", ["roles/owner", "roles/editor", "roles/viewer"])
def test_identity_refuses_primitive_roles(role: str) -> None:
    ident = Identity(new_stack("identity-primitive"), "id", props())
    with pytest.raises(ValueError, match=f"primitive role {role} is forbidden"):
        ident.grant_project_role(role)
