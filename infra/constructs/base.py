"""Helpers every construct shares: Terraform addresses and the IAM lifecycle rule.

Construct IDs are Terraform addresses (``<type>.<component>__<part>``): renaming one is a
state migration, not a refactor. The component prefix lets plan summaries group changes.
"""

from __future__ import annotations

import re
from typing import Protocol

from cdktn import TerraformResource, TerraformResourceLifecycle

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
    """Give ``resource`` a stable logical ID and return its literal Terraform address."""
    lid = logical_id(component, part)
    resource.override_logical_id(lid)
    return f"{resource.terraform_resource_type}.{lid}"


def replaced_with(target_address: str) -> TerraformResourceLifecycle:
    """Lifecycle for an IAM member on a replaceable target: re-created when it is replaced.

    The address must be a literal string: a token in ``replace_triggered_by`` breaks
    synthesis, and a literal is also what reviewers and the policy gate read.
    """
    if "${" in target_address or "." not in target_address:
        raise ValueError(
            f"replace_triggered_by needs a literal resource address like "
            f"'google_cloud_run_v2_service.x__service', got {target_address!r}"
        )
    return TerraformResourceLifecycle(replace_triggered_by=[target_address])


class Principal(Protocol):
    """Anything that can be granted a role: an identity or a Google-managed agent."""

    @property
    def member(self) -> str: ...

    @property
    def component(self) -> str:
        """Key used in the logical IDs of grants to this principal."""
        ...


class Invokable(Protocol):
    """A Cloud Run service (or a gen2 function's service) that callers need invoker on."""

    def grant_invoke(self, principal: Principal) -> None: ...

    def url(self, path: str) -> str: ...

    @property
    def audience(self) -> str: ...
