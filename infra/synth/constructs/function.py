"""A Cloud Function (gen2) packaged from ``functions/<source>/`` by this same stack.

The bundle object is named by the content hash of the function's folder (see
``infra/synth/bundle.py``): a code change changes the object name, which redeploys the function,
and nothing else does. The function gets its own runtime identity; a Pub/Sub-triggered
function also gets a trigger identity, granted ``roles/run.invoker`` on the function's Cloud
Run service (``service_config.service``) by this construct, so a redeploy can never leave
the trigger without the right to deliver.

Order. The function waits for its build identity's grants (a build without them fails), for
the Pub/Sub agent's token creator on the trigger identity (the trigger's push cannot sign
without it), and, through the stack, for each identity's grants to propagate
(``infra.synth.constructs.propagation``). The trigger's invoker is granted on the function's
Cloud Run service. For a function that already exists (adopted: ``live_service`` is the
service's live name) the invoker names that service literally, so it is created, and has
propagated, *before* the function switches its trigger identity. A new function's service
only exists once the function does, so there the invoker names ``service_config[0].service``
and follows the function; its first deliveries may meet a missing invoker (403) for minutes,
which the trigger retries (``RETRY_POLICY_RETRY``): delayed, not lost, and there is no
traffic on a function that did not exist. The function is never replaced by an apply
(``deletion_policy = "PREVENT"``), so a literal service name cannot go stale.

Provider facts (hashicorp/google, cloudfunctions2_function):
* ``build_config.source.storage_source.generation`` is Optional+Computed: the API returns the
  generation of its own copy in ``gcf-v2-sources-…``, and an update that leaves it unset sends
  that stale generation with the new object (the provider's own test sets it from the bundle
  object: mmv1/third_party/terraform/services/cloudfunctions2/
  resource_cloudfunctions2_function_test.go). It is set from the bundle object's
  ``generation``.
* ``deletion_policy`` (a virtual field, default ``DELETE``): ``PREVENT`` makes any plan that
  would delete or replace the function fail.
* ``description`` is Optional and not computed: left out, an update clears the live one, so
  the manifest's description is declared.
"""

from __future__ import annotations

from dataclasses import dataclass

from cdktn import AssetType, TerraformAsset
from cdktn_provider_google.cloudfunctions2_function import (
    Cloudfunctions2Function,
    Cloudfunctions2FunctionBuildConfig,
    Cloudfunctions2FunctionBuildConfigSource,
    Cloudfunctions2FunctionBuildConfigSourceStorageSource,
    Cloudfunctions2FunctionEventTrigger,
    Cloudfunctions2FunctionServiceConfig,
)
from cdktn_provider_google.storage_bucket_object import StorageBucketObject
from constructs import Construct

from infra.model.permissions import Grant, Target
from infra.synth.bundle import Bundle
from infra.synth.constructs.base import Principal, ref, wait_for
from infra.synth.constructs.builder import FunctionBuilder
from infra.synth.constructs.identity import GoogleAgent, Identity, IdentityProps
from infra.synth.constructs.run_target import RunTarget
from infra.synth.constructs.topic import Topic

PUBSUB_EVENT = "google.cloud.pubsub.topic.v1.messagePublished"


@dataclass(frozen=True)
class FunctionProps:
    """``trigger_topic`` set: Pub/Sub CloudEvent function (needs ``trigger_account_id`` and
    ``pubsub_agent``); ``None``: HTTP function. ``env``: generated configuration, never
    secrets. ``build_identity``: the Cloud Build identity with its grants (never the default
    compute one); the function waits for those grants.
    """

    name: str
    """The function's cloud name (``<sport>-<key>``), also its Cloud Run service's."""
    component: str
    """Address prefix: resources are ``<type>.<component>__<part>`` (``-`` becomes ``_``)."""
    project: str
    """The GCP project id the resources are created in."""
    region: str
    """Where the function runs and its trigger listens."""
    bundle: Bundle
    """The zipped source; its ``object_name`` changes with the content, so new code redeploys."""
    bucket_name: str
    """The bucket the bundle is uploaded to (the stack's function-sources bucket)."""
    entry_point: str
    """The Python callable in the bundle's ``main.py`` that functions-framework serves."""
    runtime_account_id: str
    """Account id of the runtime service account the function creates and runs as."""
    build_identity: FunctionBuilder
    runtime: str = "python312"
    """Cloud Functions runtime id."""
    timeout_seconds: int = 60
    """Request timeout; a scheduler job's attempt deadline and the trigger's backlog alert
    derive from it."""
    memory_mb: int = 256
    """Memory per instance in MiB (written as ``<n>M``)."""
    max_instances: int = 10
    """Upper bound of the function's Cloud Run instances."""
    env: tuple[tuple[str, str], ...] = ()
    """``(name, value)`` pairs in order; empty: no environment variables."""
    trigger_topic: Topic | None = None
    trigger_account_id: str | None = None
    """Account id of the identity the trigger pushes as (needed with ``trigger_topic``)."""
    pubsub_agent: GoogleAgent | None = None
    """The Pub/Sub service agent, granted token creation on the trigger identity."""
    description: str = ""
    """Shown in the console; empty: none."""
    live_service: str | None = None
    """The live Cloud Run service of an adopted function (its trigger invoker is named by it,
    so it precedes the function's update); ``None`` for a function the apply creates."""


class CloudFunction(RunTarget):
    props: FunctionProps
    URI_ATTRIBUTE = "service_config[0].uri"
    """The function's ``service_config[0].uri``: its Cloud Run service's URL."""

    def __init__(self, scope: Construct, id: str, props: FunctionProps) -> None:
        super().__init__(scope, id)
        if props.trigger_topic is not None and (
            props.trigger_account_id is None or props.pubsub_agent is None
        ):
            raise ValueError(f"function {props.name}: a Pub/Sub trigger needs trigger_account_id "
                             "and pubsub_agent so its invoker binding can be declared")
        self.props = props
        # Invoker grants are on the function's Cloud Run service: gen2 checks them there.
        self.target = Target("function.service", props.name)
        self.identity = Identity(self, "identity", IdentityProps(
            account_id=props.runtime_account_id, component=props.component,
            part="runtime_identity", display_name=f"Runtime identity of {props.name}",
            project=props.project,
        ))
        asset = TerraformAsset(self, "bundle-asset", path=str(props.bundle.path),
                               type=AssetType.FILE)
        self.object = StorageBucketObject(
            self, "bundle", name=props.bundle.object_name, bucket=props.bucket_name,
            source=asset.path,
        )
        bundle = self.pin(self.object, props.component, "bundle")

        self.trigger_identity: Identity | None = None
        event_trigger = None
        trigger_grants: tuple[Grant, ...] = ()
        if props.trigger_topic is not None:
            self.trigger_identity = Identity(self, "trigger-identity", IdentityProps(
                account_id=props.trigger_account_id or "", component=props.component,
                part="trigger_identity", display_name=f"Event trigger identity of {props.name}",
                project=props.project,
            ))
            event_trigger = Cloudfunctions2FunctionEventTrigger(
                trigger_region=props.region, event_type=PUBSUB_EVENT,
                pubsub_topic=props.trigger_topic.id, retry_policy="RETRY_POLICY_RETRY",
                service_account_email=self.trigger_identity.email_ref,
            )
            if props.pubsub_agent is not None:
                # Eventarc's push subscription mints OIDC tokens as the trigger identity.
                trigger_grants = (self.trigger_identity.grant_token_creator(props.pubsub_agent),)

        self.function = Cloudfunctions2Function(
            self, "function", name=props.name, project=props.project, location=props.region,
            description=props.description or None, deletion_policy="PREVENT",
            build_config=Cloudfunctions2FunctionBuildConfig(
                runtime=props.runtime, entry_point=props.entry_point,
                service_account=props.build_identity.identity.id_ref,
                source=Cloudfunctions2FunctionBuildConfigSource(
                    storage_source=Cloudfunctions2FunctionBuildConfigSourceStorageSource(
                        bucket=props.bucket_name, object=ref(bundle, "name"),
                        generation=self.object.generation,  # a number: only its token fits
                    ),
                ),
            ),
            service_config=Cloudfunctions2FunctionServiceConfig(
                service_account_email=self.identity.email_ref,
                timeout_seconds=props.timeout_seconds,
                available_memory=f"{props.memory_mb}M",
                max_instance_count=props.max_instances,
                ingress_settings="ALLOW_INTERNAL_ONLY",
                all_traffic_on_latest_revision=True,
                environment_variables=dict(props.env) or None,
            ),
            event_trigger=event_trigger,
        )
        self.address = self.pin(self.function, props.component, "function")
        # Every grant that can exist before the function does (see the module docstring).
        wait_for(self.function, (*props.build_identity.grants, *trigger_grants))

        self.grants: tuple[Grant, ...] = trigger_grants
        """What connecting the trigger granted (token creator for the agent, invoker)."""
        self.identity.acts_for(self.function)
        props.build_identity.identity.acts_for(self.function)
        if self.trigger_identity is not None:
            invoker = self.grant_invoke(self.trigger_identity)
            self.grants += (invoker,)
            # A new function's invoker follows it (it names the computed service): the
            # function cannot wait for it. An adopted one's precedes it.
            self.trigger_identity.acts_for(
                self.function, () if props.live_service else (invoker.address or "",))

    @property
    def service_ref(self) -> str:
        """The function's ``service_config[0].service`` (its Cloud Run service) as a
        reference."""
        return ref(self.address, "service_config[0].service")

    def url(self, path: str) -> str:
        return f"{self.uri}{'' if path == '/' else path}"

    def grant_invoke(self, principal: Principal) -> Grant:
        """``roles/run.invoker`` on the function's Cloud Run service (gen2 checks it there).

        No ``replace_triggered_by``: the member's ``name`` is the function's
        ``service_config[0].service`` (a new value only when the function is replaced, and a
        change of ``name`` forces a new member) or, for an adopted function, its live service,
        and the function is never replaced (``deletion_policy = "PREVENT"``). A trigger on the
        function itself would re-create the grant on every code change (a new bundle updates
        the function in place).
        """
        return self._grant_invoker(principal, self.props.live_service or self.service_ref)
