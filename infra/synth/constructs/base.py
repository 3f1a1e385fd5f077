"""Helpers every construct shares: Terraform addresses, references, the IAM lifecycle rule,
and the bookkeeping that spares jsii round trips.

Construct IDs are Terraform addresses (``<type>.<component>__<part>``): renaming one is a
state migration, not a refactor. The component prefix lets plan summaries group changes.

Every read of a construct's attribute (``resource.email``, ``resource.depends_on``,
``TerraformStack.of(x)``) is a request to the jsii Node process and its answer, so a synth
reads nothing it can know in Python: a reference to an attribute of a pinned resource is
written as Terraform writes it (``ref``), and the stack of each ``StackConstruct`` (found
once, from its scope), each provider class's resource type (``resource_type``), what the
stack's constructs pinned (``StackIndex``) and the ``depends_on`` written so far
(``add_depends_on``) are kept here. ``bench/synth.py`` counts the round trips of a synth.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Protocol
from weakref import WeakKeyDictionary

from cdktn import (
    TerraformDataSource,
    TerraformEphemeralResource,
    TerraformProvider,
    TerraformResource,
    TerraformResourceLifecycle,
    TerraformStack,
)
from constructs import Construct, IConstruct

from infra.model.permissions import Grant, Target
from infra.model.provider.lifecycle import replacement_trigger

NAME_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_-]*$")

Dependent = TerraformResource | TerraformDataSource | TerraformEphemeralResource
"""What can wait for others (``depends_on``) and has a resource type."""

_TYPE_ATTRIBUTE = "TF_RESOURCE_TYPE"
_TYPES: dict[type, str] = {}
_NODE_TYPES: WeakKeyDictionary[Dependent, str] = WeakKeyDictionary()
_DEPENDS_ON: WeakKeyDictionary[Dependent, frozenset[str]] = WeakKeyDictionary()
"""Each node's ``depends_on`` as this module last wrote (or read) it."""
_BATCHES: list[dict[Dependent, None]] = []
"""The nodes whose ``depends_on`` each open ``batched_depends_on`` will write, innermost last."""


def resource_type(node: Dependent) -> str:
    """``node.terraform_resource_type``, read once per generated provider class (the
    ``TF_RESOURCE_TYPE`` it gives each of its instances) rather than once per node; a node of
    a class that declares none (``TerraformResource`` itself: ``time_sleep``) is asked once."""
    cls = type(node)
    known = _TYPES.get(cls)
    if known is not None:
        return known
    if _TYPE_ATTRIBUTE in vars(cls):
        known = _TYPES[cls] = str(getattr(cls, _TYPE_ATTRIBUTE))
        return known
    known = _NODE_TYPES.get(node)
    if known is None:
        known = _NODE_TYPES[node] = node.terraform_resource_type
    return known


@dataclass
class StackIndex:
    """What one stack's constructs registered as they were built (``index_of``)."""

    resources: dict[str, TerraformResource] = field(default_factory=dict)
    """Pinned address → its resource (``pin_address``)."""
    members: dict[TerraformResource, str] = field(default_factory=dict)
    """IAM member resource → the member it grants, as the construct passed it."""
    constructs: list[StackConstruct] = field(default_factory=list)
    """Every ``StackConstruct`` of the stack, in the order they were built."""
    providers: dict[str, TerraformProvider] = field(default_factory=dict)
    """Providers a construct declared when it first needed one, by name."""


_INDEXES: WeakKeyDictionary[TerraformStack, StackIndex] = WeakKeyDictionary()


def index_of(stack: TerraformStack) -> StackIndex:
    index = _INDEXES.get(stack)
    if index is None:
        index = _INDEXES[stack] = StackIndex()
    return index


def stack_of(scope: IConstruct) -> TerraformStack:
    """The stack ``scope`` is in: ``scope`` itself, or what a ``StackConstruct`` recorded;
    only another construct costs a ``TerraformStack.of`` round trip."""
    if isinstance(scope, TerraformStack):
        return scope
    if isinstance(scope, StackConstruct):
        return scope.stack
    return TerraformStack.of(scope)


class StackConstruct(Construct):
    """A construct of this repository: it knows its stack (``stack``) without asking jsii,
    and is listed in the stack's index (``StackIndex.constructs``)."""

    def __init__(self, scope: Construct, id: str) -> None:
        super().__init__(scope, id)
        self.stack = stack_of(scope)
        index_of(self.stack).constructs.append(self)

    def pin(self, resource: TerraformResource, component: str, part: str,
            member: str | None = None) -> str:
        """``pin_address`` for a resource of this construct (``member``: what an IAM member
        resource grants, recorded so nothing reads it back)."""
        return pin_address(resource, component, part, self.stack, member)

    def grant_member(self, iam_member: Callable[..., TerraformResource], principal: Principal,
                     role: str, target: Target, id: str, address: tuple[str, str],
                     /, **on: object) -> Grant:
        """Declare ``iam_member`` (a ``google_*_iam_member`` class) as ``id`` in this construct,
        granting ``role`` to ``principal`` on what ``on`` names (the resource's other
        arguments), pinned at ``address`` (component, part); return the grant it made.

        The resource and the returned ``Grant`` (what the stack checks against the wiring)
        take the member and role from here, so they cannot disagree.
        """
        member = principal.member
        resource = iam_member(self, id, role=role, member=member, **on)
        return Grant(principal.literal_member, role, target,
                     address=self.pin(resource, *address, member=member))

    def granters(self) -> Mapping[tuple[Target, str], Granter]:
        """(target, role) → the method of this construct that grants ``role`` on ``target``
        (``grant_publish``, ``grant_invoke``, ...): how the stack makes each grant of the
        wiring through the construct that owns its target. Default: none."""
        return {}


def logical_id(component: str, part: str) -> str:
    """``phase3-analytics-sub`` + ``invoker`` → ``phase3_analytics_sub__invoker``.

    Raises ``ValueError`` when the result is not a valid Terraform resource name.
    """
    lid = f"{component.replace('-', '_')}__{part.replace('-', '_')}"
    if not NAME_RE.match(lid):
        raise ValueError(f"logical id {lid!r} is not a valid Terraform name "
                         "(letters, digits, '_' and '-'; no dots)")
    return lid


def pin_address(resource: TerraformResource, component: str, part: str,
                stack: TerraformStack | None = None, member: str | None = None) -> str:
    """Give ``resource`` a stable logical ID and return its literal Terraform address.

    ``stack``: the stack ``resource`` is in, when the caller knows it (default: asked);
    ``member``: for an IAM member resource, the member it grants (``StackIndex.members``).
    Raises ``ValueError`` when the stack already holds that address: two resources pinned to
    one address would synthesize as one, the later silently replacing the earlier.
    """
    lid = logical_id(component, part)
    address = f"{resource_type(resource)}.{lid}"
    if stack is None:
        stack = TerraformStack.of(resource)
    index = index_of(stack)
    if address in index.resources:
        raise ValueError(f"address {address} is pinned twice in stack {stack.node.id}: "
                         "each grant's part must name its principal")
    index.resources[address] = resource
    if resource not in _DEPENDS_ON:
        _DEPENDS_ON[resource] = frozenset()  # created by a construct: depends on nothing yet
    if member is not None:
        index.members[resource] = member
    resource.override_logical_id(lid)
    return address


def ref(address: str, attribute: str) -> str:
    """``${<address>.<attribute>}``: a reference to an attribute of the resource pinned at
    ``address`` (``pin_address``), the string cdktn renders for a token of that attribute.

    Terraform orders whatever holds it after that resource, as it would with the token, and
    nothing is read through jsii (reading a token is a round trip). ``address`` must be the
    pinned, literal address.
    """
    return f"${{{address}.{attribute}}}"


def import_existing(stack: TerraformStack, imports: Mapping[str, str]) -> None:
    """Give each pinned resource at an address of ``imports`` a Terraform ``import`` block.

    ``imports`` maps address → the provider's import id (``infra/adoption/<env>.json``).
    Raises ``ValueError`` naming the address when the stack declares no such resource: an
    import block for nothing is a stale adoption record, never silently dropped.
    """
    resources = index_of(stack).resources
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
    resources = index_of(stack).resources
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


def add_depends_on(node: Dependent, addresses: Iterable[str]) -> None:
    """Make ``node`` depend on ``addresses`` as well (``depends_on`` kept sorted).

    ``node.depends_on`` is read from jsii only when this module has not seen ``node``: a
    resource ``pin_address`` pinned is known to depend on nothing yet (no construct passes
    ``depends_on`` to a constructor), and after a write this module knows what it wrote. So
    every ``depends_on`` of the stacks' resources is written here or by ``set_depends_on``
    (``tests/synth/constructs/test_base.py`` keeps it so); a write elsewhere would be overwritten.
    """
    known = _DEPENDS_ON.get(node)
    current = frozenset(node.depends_on or []) if known is None else known
    merged = current | frozenset(addresses)
    if known is None or merged != known:
        _write_depends_on(node, merged)


def set_depends_on(node: Dependent, addresses: Iterable[str]) -> None:
    """Make ``node`` depend on exactly ``addresses`` (sorted), whatever it depended on."""
    _write_depends_on(node, frozenset(addresses))


def _write_depends_on(node: Dependent, addresses: frozenset[str]) -> None:
    _DEPENDS_ON[node] = addresses
    if _BATCHES:
        _BATCHES[-1][node] = None
    else:
        node.depends_on = sorted(addresses)


@contextmanager
def batched_depends_on() -> Iterator[None]:
    """Within it, ``add_depends_on`` and ``set_depends_on`` only record; leaving it writes
    each changed node's ``depends_on`` once. A resource of the stacks gains dependencies in up
    to three steps (its construct's grants, the propagation waits, its APIs): one write each
    is three round trips where one will do. Nothing is written when the block raises."""
    batch: dict[Dependent, None] = {}
    _BATCHES.append(batch)
    try:
        yield
    finally:
        _BATCHES.pop()
    for node in batch:
        _write_depends_on(node, _DEPENDS_ON[node])


def wait_for(resource: TerraformResource, grants: Iterable[Grant]) -> None:
    """Make ``resource`` depend on the IAM members that made ``grants`` (their addresses).

    Raises ``ValueError`` naming a grant no construct has made (it has no address yet).
    """
    addresses = set()
    for g in grants:
        if not g.address:
            raise ValueError(f"{resource_type(resource)} cannot wait for {g}: no "
                             "construct made it (a grant method returns its address)")
        addresses.add(g.address)
    add_depends_on(resource, addresses)


class ComponentProps(Protocol):
    """Props of a component: its cloud name, its address prefix and its project."""

    @property
    def name(self) -> str: ...

    @property
    def component(self) -> str: ...

    @property
    def project(self) -> str: ...


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


Granter = Callable[[Principal], Grant]
"""A construct's method granting one role on its own resource to a principal."""


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
