"""What the two ``Invokable`` constructs share: a Cloud Run service that callers invoke.

A ``CloudRunService`` (``infra.synth.constructs.service``) is one; a gen2 ``CloudFunction``
(``infra.synth.constructs.function``) is served by one. Callers address it by its URL, which
is also their OIDC audience; it answers one request within ``timeout_seconds`` (callers'
deadlines are derived from it); and ``roles/run.invoker`` is granted on the Cloud Run service
(a gen2 function checks it there, not on the function).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import ClassVar, Protocol

from cdktn import TerraformResourceLifecycle
from cdktn_provider_google.cloud_run_v2_service_iam_member import CloudRunV2ServiceIamMember

from infra.model.permissions import INVOKER, Grant, Target
from infra.synth.constructs.base import ComponentProps, Granter, Principal, StackConstruct, ref


class RunTargetProps(ComponentProps, Protocol):
    """What a ``RunTarget`` reads of its props."""

    @property
    def region(self) -> str: ...

    @property
    def timeout_seconds(self) -> int: ...


class RunTarget(StackConstruct):
    """The ``Invokable`` side of a construct whose ``address`` pins the resource that holds
    the service's URL (at ``URI_ATTRIBUTE``)."""

    props: RunTargetProps
    address: str
    URI_ATTRIBUTE: ClassVar[str]
    target: Target
    """What the wiring names its invoker grants' target (``run.service`` or
    ``function.service``, and the service's name)."""

    @property
    def uri(self) -> str:
        """The service's URL as a reference (callers follow the resource)."""
        return ref(self.address, self.URI_ATTRIBUTE)

    @property
    def audience(self) -> str:
        return self.uri

    @property
    def timeout_seconds(self) -> int:
        return self.props.timeout_seconds

    def granters(self) -> Mapping[tuple[Target, str], Granter]:
        return {(self.target, INVOKER): self.grant_invoke}

    def grant_invoke(self, principal: Principal) -> Grant:
        """``roles/run.invoker`` for ``principal``; each kind of target says on what."""
        raise NotImplementedError(type(self).__name__)

    def _grant_invoker(self, principal: Principal, service: str,
                       lifecycle: TerraformResourceLifecycle | None = None) -> Grant:
        """``roles/run.invoker`` for ``principal`` on the Cloud Run service named ``service``
        (in the props' project and region), recorded on ``target``."""
        return self.grant_member(
            CloudRunV2ServiceIamMember, principal, INVOKER, self.target,
            f"invoker-{principal.component}",
            (self.props.component, f"invoker_{principal.component}"),
            project=self.props.project, location=self.props.region, name=service,
            lifecycle=lifecycle)
