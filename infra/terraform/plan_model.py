"""The typed model of `terraform show -json PLANFILE` (pydantic), as far as the tools read it.

The format is Terraform's "JSON Output Format"
(https://developer.hashicorp.com/terraform/internals/json-format; format_version 1.x,
Terraform 1.6+ writes "1.2"). Per its compatibility rules any 1.x minor version is accepted,
properties the models do not name are ignored, and other major versions are rejected.

``infra.terraform.plan_json`` turns a validated ``PlanDocument`` into the frozen ``Plan`` the
lifecycle tools use; a document that does not fit is an ``infra.errors.InputError`` naming the
field path and the value (``infra.input_files``).
"""

from __future__ import annotations

import json
import re
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, PlainValidator, StringConstraints, model_validator

from infra.input_files import STRICT, document_error

SUPPORTED_MAJOR = 1

Action = Literal["no-op", "create", "read", "update", "delete", "forget"]
"""One word of a ``change.actions`` list."""

KNOWN_ACTIONS: frozenset[tuple[str, ...]] = frozenset({
    ("no-op",), ("create",), ("read",), ("update",), ("delete",),
    ("delete", "create"), ("create", "delete"), ("forget",),
})
"""Every ``change.actions`` list Terraform's JSON output format documents
("Change Representation"; ``forget`` since Terraform 1.7's ``removed`` blocks). Anything else
is unreadable input: a change whose action nobody knows must never drop silently out of the
counts."""

PLAN_KEYS = ("planned_values", "resource_changes", "resource_drift", "output_changes")
"""A plan has at least one of these; state output (``terraform show -json`` of a state) has
none."""

NonEmpty = Annotated[str, StringConstraints(min_length=1)]


def _known_actions(actions: list[Action]) -> list[Action]:
    if tuple(actions) not in KNOWN_ACTIONS:
        known = ", ".join(json.dumps(list(a)) for a in sorted(KNOWN_ACTIONS))
        raise ValueError(f"expected one of the action lists Terraform writes ({known})")
    return actions


Actions = Annotated[list[Action], AfterValidator(_known_actions)]


def _step(value: object) -> str | int:
    """One step of an attribute path: a name (object attribute, map key) or a list index."""
    if isinstance(value, str) or (isinstance(value, int) and not isinstance(value, bool)):
        return value
    raise ValueError("expected an attribute name or a list index")


Step = Annotated[str | int, PlainValidator(_step)]


def _format_version(version: str) -> str:
    """Accept "1.x"; anything else is a format this parser was not written for."""
    match = re.fullmatch(r"(\d+)\.(\d+)", version)
    if match is None or int(match.group(1)) != SUPPORTED_MAJOR:
        raise ValueError(f"expected a format version {SUPPORTED_MAJOR}.x such as \"1.2\" "
                         f"(this tool reads {SUPPORTED_MAJOR}.x)")
    return version


class OutputChangeEntry(BaseModel):
    """A change representation: the actions and the values before and after (the value of an
    ``output_changes`` entry; a resource's ``change`` adds to it)."""

    model_config = STRICT

    actions: Actions
    before: Any = None
    after: Any = None
    after_unknown: Any = None
    before_sensitive: Any = None
    after_sensitive: Any = None


class ChangeEntry(OutputChangeEntry):
    """A resource's ``change`` object: also what forces a replacement and the import."""

    replace_paths: list[list[Step]] | None = None
    importing: dict[str, Any] | None = None
    """Present (Terraform 1.5+) when the change imports the object."""


class ResourceChangeEntry(BaseModel):
    """One entry of ``resource_changes`` or ``resource_drift``."""

    model_config = STRICT

    address: NonEmpty
    type: NonEmpty
    name: NonEmpty
    mode: Literal["managed", "data"] | None = None
    change: ChangeEntry
    action_reason: str | None = None
    previous_address: str | None = None


class ConfigResource(BaseModel):
    """A resource of the ``configuration`` block: its address and expressions."""

    model_config = STRICT

    address: str
    expressions: Any = None


class ConfigModule(BaseModel):
    """A module of the ``configuration`` block (the root module or a called one)."""

    model_config = STRICT

    resources: list[ConfigResource] = []
    module_calls: dict[str, ModuleCall] = {}


class ModuleCall(BaseModel):
    """A ``module_calls`` value: the called module's configuration."""

    model_config = STRICT

    module: ConfigModule | None = None


class Configuration(BaseModel):
    """The ``configuration`` block, as far as references are read from it."""

    model_config = STRICT

    root_module: ConfigModule | None = None


ConfigModule.model_rebuild()


class PlanDocument(BaseModel):
    """A whole `terraform show -json PLANFILE` document."""

    model_config = STRICT

    format_version: Annotated[str, AfterValidator(_format_version)]
    terraform_version: str = "unknown"
    errored: bool = False
    resource_drift: list[ResourceChangeEntry] | None = None
    resource_changes: list[ResourceChangeEntry] | None = None
    output_changes: dict[str, OutputChangeEntry] | None = None
    configuration: Configuration | None = None

    @model_validator(mode="before")
    @classmethod
    def _is_a_plan(cls, data: Any) -> Any:
        """A file that is not a plan at all is said so, not reported field by field."""
        run = "run `terraform show -json PLANFILE`"
        if not isinstance(data, dict):
            kind = "a list" if isinstance(data, list) else type(data).__name__
            raise document_error(f"not a plan JSON: top level is {kind}, expected an object; "
                                 f"{run}")
        if "format_version" not in data:
            raise document_error(f"not a plan JSON: no format_version; {run}")
        if not any(key in data for key in PLAN_KEYS):
            hint = " (this looks like state output)" if "values" in data else ""
            raise document_error(f"not a plan JSON: none of {', '.join(PLAN_KEYS)}{hint}; {run}")
        return data
