"""A Cloud Run service this repo deploys: own identity, ingress its callers can reach, no
public access.

Cloud Run counts a call from another Cloud Run service as internal only when the caller routes
it through a VPC network (Direct VPC egress or a connector, with Private Google Access on the
subnet): https://cloud.google.com/run/docs/securing/ingress. This construct declares no VPC
access (the repo declares no network, and the live project's is not known), so a service that
another service calls must take all traffic and rely on ``roles/run.invoker`` for exactly its
callers; ``grant_invoke`` refuses to wire an internal-only service to a service caller.

The deployed image is left to the release path that deploys it. The services' images are
released by their own repositories (``gcloud run deploy``), revision by revision. The stack
owns everything else: identity, ingress, scaling, timeout, the
environment variables it declares, and IAM. So the service ignores changes to its image and
to ``client``/``client_version`` (which ``gcloud`` sets on every deploy): the declared image is
only the one a *create* starts from, and an apply never rolls a deployed image back.

Environment variables are the stack's, all of them: Terraform manages a container's ``env``
as one list, so a variable a deploy adds with ``--set-env-vars``/``--update-env-vars`` is
removed by the next apply. Declare every variable a service needs in the stack (the manifest),
and deploy with ``--image`` only.
"""

from __future__ import annotations

from dataclasses import dataclass

from cdktn import TerraformResourceLifecycle
from cdktn_provider_google.cloud_run_v2_service import (
    CloudRunV2Service,
    CloudRunV2ServiceTemplate,
    CloudRunV2ServiceTemplateContainers,
    CloudRunV2ServiceTemplateContainersEnv,
    CloudRunV2ServiceTemplateContainersPorts,
    CloudRunV2ServiceTemplateScaling,
)
from constructs import Construct

from infra.model.permissions import PUBLIC_MEMBERS, Grant, Target
from infra.model.provider.lifecycle import DEPLOYED_FIELDS
from infra.stackjson.ingress import RUN_INTERNAL
from infra.synth.constructs.base import Principal, ref, replaced_with
from infra.synth.constructs.identity import Identity
from infra.synth.constructs.run_target import RunTarget

INTERNAL_INGRESS = frozenset(RUN_INTERNAL)
INGRESS_VALUES = INTERNAL_INGRESS | {"INGRESS_TRAFFIC_ALL"}


@dataclass(frozen=True)
class ServiceProps:
    """``identity_account_id``: the runtime service account created for the service.

    ``image``: the image a create starts from; later images come from the release path
    (see the module docstring). ``env``: plain environment variables (never secrets), the
    complete list. ``ingress`` default: internal only (Pub/Sub push, Cloud Scheduler and
    Eventarc in the project still reach it); a service another service calls needs
    ``INGRESS_TRAFFIC_ALL`` (see the module docstring). ``timeout_seconds``: the request
    timeout, default 540 s (callers' deadlines are derived from it).
    """

    name: str
    """The service's cloud name (``<sport>-<key>``)."""
    component: str
    """Address prefix: resources are ``<type>.<component>__<part>`` (``-`` becomes ``_``)."""
    project: str
    """The GCP project id the resources are created in."""
    region: str
    """Cloud Run region of the service (the env's ``region``)."""
    image: str
    identity_account_id: str
    min_instances: int = 0
    """Instances kept warm; 0 lets it scale to zero (cold starts)."""
    max_instances: int = 10
    """Autoscaling ceiling (``max_instance_count``): the most concurrent instances."""
    env: tuple[tuple[str, str], ...] = ()
    ingress: str = "INGRESS_TRAFFIC_INTERNAL_ONLY"
    timeout_seconds: int = 540


MAX_TIMEOUT_SECONDS = 3600
"""Cloud Run's maximum request timeout (https://cloud.google.com/run/docs/configuring/request-timeout)."""


class CloudRunService(RunTarget):
    props: ServiceProps
    URI_ATTRIBUTE = "uri"

    def __init__(self, scope: Construct, id: str, props: ServiceProps) -> None:
        super().__init__(scope, id)
        if props.ingress not in INGRESS_VALUES:
            raise ValueError(f"service {props.name}: ingress {props.ingress!r} is not one of "
                             f"{sorted(INGRESS_VALUES)}")
        if not 1 <= props.timeout_seconds <= MAX_TIMEOUT_SECONDS:
            raise ValueError(f"service {props.name}: timeout_seconds {props.timeout_seconds} "
                             f"outside Cloud Run's 1..{MAX_TIMEOUT_SECONDS}")
        self.props = props
        self.target = Target("run.service", props.name)
        self.identity = Identity.own(self, props, "Runtime identity")
        self.service = CloudRunV2Service(
            self, "service", name=props.name, project=props.project, location=props.region,
            # The provider's default, and what an import sets: an apply never deletes a live
            # service (website/docs/r/cloud_run_v2_service.html.markdown, deletion_protection).
            ingress=props.ingress, deletion_protection=True,
            lifecycle=TerraformResourceLifecycle(ignore_changes=list(DEPLOYED_FIELDS)),
            template=CloudRunV2ServiceTemplate(
                service_account=self.identity.email_ref,
                timeout=f"{props.timeout_seconds}s",
                scaling=CloudRunV2ServiceTemplateScaling(
                    min_instance_count=props.min_instances,
                    max_instance_count=props.max_instances,
                ),
                containers=[CloudRunV2ServiceTemplateContainers(
                    image=props.image,
                    ports=CloudRunV2ServiceTemplateContainersPorts(container_port=8080),
                    env=[CloudRunV2ServiceTemplateContainersEnv(name=k, value=v)
                         for k, v in props.env] or None,
                )],
            ),
        )
        self.address = self.pin(self.service, props.component, "service")
        self.identity.acts_for(self.service)

    @property
    def name_ref(self) -> str:
        """The service's ``name`` as a reference (its grants follow it)."""
        return ref(self.address, "name")

    def url(self, path: str) -> str:
        return f"{self.uri}{path}"

    @property
    def vpc_egress(self) -> bool:
        """Whether the service's calls leave through a VPC network: never, no VPC access is
        declared (so Cloud Run counts its calls to other services as external)."""
        return False

    def grant_invoke(self, principal: Principal) -> Grant:
        """Add ``roles/run.invoker`` for ``principal``, re-created if the service is replaced.

        Raises ``ValueError`` for a public member, and for another service's runtime identity
        when this service is internal-only and the caller has no VPC egress: Cloud Run would
        refuse every call it makes.
        """
        if principal.literal_member in PUBLIC_MEMBERS:
            raise ValueError(f"service {self.props.name}: invoker {principal.literal_member} is "
                             "public; grant the caller's own identity")
        caller = principal.owner if isinstance(principal, Identity) else None
        if (isinstance(caller, CloudRunService) and self.props.ingress in INTERNAL_INGRESS
                and not caller.vpc_egress):
            raise ValueError(
                f"service {self.props.name}: ingress {self.props.ingress} refuses calls from "
                f"service {caller.props.name}, which has no VPC egress; declare ingress "
                "INGRESS_TRAFFIC_ALL (its invoker members stay the only callers)")
        return self._grant_invoker(principal, self.name_ref, replaced_with(self.address))
