"""Helpers every construct shares: Terraform addresses and the IAM lifecycle rule.

Construct IDs are Terraform addresses (``<type>.<component>__<part>``): renaming one is a
state migration, not a refactor. The component prefix lets plan summaries group changes.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from typing import Protocol

from cdktn import TerraformResource, TerraformResourceLifecycle, TerraformStack

from infra.model.provider.lifecycle import replacement_trigger
from infra.model.wiring import Grant

NAME_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_-]*$")


def logical_id(component: str, part: str) -> str:
    """``phase3-analytics-sub`` + ``invoker`` → ``phase3_analytics_sub__invoker``.

    Raises ``ValueError`` when the result is not a valid Terraform resource name.
    """
    lid = f"{component.replace('-', '_')}__{part.replace('-', '_')}"
    if not NAME_RE.match(lid):
        raise ValueError(f"logical id {lid!r} is not a valid Terraform name "
                         "(letters, digits, '_' and '-'; no dots)")
    return lid


def pin_address(resource: TerraformResource, component: str, part: str) -> str:
    """Give ``resource`` a stable logical ID and return its literal Terraform address.

    Raises ``ValueError`` when the stack already holds that address: two resources pinned to
    one address would synthesize as one, the later silently replacing the earlier.
    """
    lid = logical_id(component, part)
    address = f"{resource.terraform_resource_type}.{lid}"
    stack = TerraformStack.of(resource)
    pinned: set[str] | None = getattr(stack, "_pinned_addresses", None)
    if pinned is None:
        pinned = set()
        stack._pinned_addresses = pinned  # type: ignore[attr-defined]
    if address in pinned:
        raise ValueError(f"address {address} is pinned twice in stack {stack.node.id}: "
                         "each grant's part must name its principal")
    pinned.add(address)
    resource.override_logical_id(lid)
    resources: dict[str, TerraformResource] | None = getattr(stack, "_pinned_resources", None)
    if resources is None:
        resources = {}
        stack._pinned_resources = resources  # type: ignore[attr-defined]
    resources[address] = resource
    return address


def import_existing(stack: TerraformStack, imports: Mapping[str, str]) -> None:
    """Give each pinned resource at an address of ``imports`` a Terraform ``import`` block.

    ``imports`` maps address → the provider's import id (``infra/adoption/<env>.json``).
    Raises ``ValueError`` naming the address when the stack declares no such resource: an
    import block for nothing is a stale adoption record, never silently dropped.
    """
    resources: dict[str, TerraformResource] = getattr(stack, "_pinned_resources", {})
    for address, import_id in sorted(imports.items()):
        if address not in resources:
            raise ValueError(f"adoption record: {address} is not declared in stack "
                           f"{stack.node.id}; re-run `make adopt` for this env")
        resources[address].import_from(import_id)


def keep_live(stack: TerraformStack, kept: Mapping[str, Mapping[str, object]]) -> None:
    """Set each kept live value (``infra/adoption/<env>.json``, ``kept``) on its resource.

    ``kept`` maps address → attribute path (dots; list items by index,
    ``template.containers.0.resources``) → the live value in Terraform's form. Raises
    ``ValueError`` naming the address when the stack declares no such resource.
    """
    resources: dict[str, TerraformResource] = getattr(stack, "_pinned_resources", {})
    for address, values in sorted(kept.items()):
        if address not in resources:
            raise ValueError(f"adoption record: kept values of {address}, which stack "
                             f"{stack.node.id} does not declare; re-run `make adopt`")
        for path, value in sorted(values.items()):
            resources[address].add_override(path, value)


def replaced_with(target_address: str) -> TerraformResourceLifecycle:
    """Lifecycle for an IAM member on a replaceable target: re-created when, and only when,
    the target is replaced.

    ``target_address`` is the target's literal address (a token in ``replace_triggered_by``
    breaks synthesis, and a literal is what reviewers and the policy gate read); the trigger
    names the target's replacement-only attribute (``infra.model.provider.lifecycle``), never the
    whole target, which would re-create the grant on every in-place update of it.
    Raises ``ValueError`` for a non-literal address or a type with no known attribute.
    """
    return TerraformResourceLifecycle(replace_triggered_by=[replacement_trigger(target_address)])


def wait_for(resource: TerraformResource, grants: Iterable[Grant]) -> None:
    """Make ``resource`` depend on the IAM members that made ``grants`` (their addresses).

    Raises ``ValueError`` naming a grant no construct has made (it has no address yet).
    """
    addresses = set()
    for g in grants:
        if not g.address:
            raise ValueError(f"{resource.terraform_resource_type} cannot wait for {g}: no "
                             "construct made it (a grant method returns its address)")
        addresses.add(g.address)
    resource.depends_on = sorted(set(resource.depends_on or []) | addresses)


class Principal(Protocol):
    """Anything that can be granted a role: an identity or a Google-managed agent."""

    @property
    def member(self) -> str:
        """The member as Terraform writes it (a reference, so grants follow the account)."""
        ...

    @property
    def literal_member(self) -> str:
        """The member as ``infra.model.wiring`` names it (``serviceAccount:<email>``)."""
        ...

    @property
    def component(self) -> str:
        """Key used in the logical IDs of grants to this principal."""
        ...


class Invokable(Protocol):
    """A Cloud Run service (or a gen2 function's service) that callers need invoker on."""

    def grant_invoke(self, principal: Principal) -> Grant:
        """``roles/run.invoker`` for ``principal``; returns what it granted."""
        ...

    def url(self, path: str) -> str: ...

    @property
    def audience(self) -> str: ...

    @property
    def timeout_seconds(self) -> int:
        """How long the target may take to answer one request."""
        ...
