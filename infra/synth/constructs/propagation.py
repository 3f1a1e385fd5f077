"""A wait for IAM grants to propagate before anything acts as the identity they were made to.

``depends_on`` on an IAM member waits for the API call that added the binding, not for the
binding to take effect: Google documents that access changes typically propagate in about
2 minutes and can take 7 minutes or longer
(https://cloud.google.com/iam/docs/access-change-propagation). A push subscription, a function
trigger, a scheduler job or a service that switches to a new identity in the same apply that
grants it would be refused (403) in that window: a push subscription dead-letters after its
last attempt, a function build fails. So every resource that acts as one of the stack's
identities depends on a ``time_sleep`` (provider ``hashicorp/time``) that itself depends on
every grant to that identity.

The provider's own example does the same for a function's build identity
(hashicorp/terraform-provider-google website/docs/r/cloudfunctions2_function.html.markdown,
"Cloudfunctions2 Basic Builder": ``time_sleep.wait_60_seconds`` after the builder's grants).

Chosen over a two-step cut-over (a first apply granting, a second one switching): one apply,
no state to remember between two runs, and a grant that is re-created later (its target
replaced) waits again, because the sleep's ``triggers`` name each grant's ``id`` and a change
of ``triggers`` replaces the sleep (time provider, ``time_sleep``: ``triggers`` forces a new
resource). A sleep is created once: later applies that change nothing about the grants do not
wait.
"""

from __future__ import annotations

from collections.abc import Iterable

from cdktn import TerraformProvider, TerraformProviderGeneratorMetadata, TerraformResource
from constructs import Construct

from infra.synth.constructs.base import StackConstruct, index_of, set_depends_on

TIME_PROVIDER_VERSION = "0.13.1"
PROPAGATION_SECONDS = 420
"""Google's documented upper case ("7 minutes or longer"), not the typical 2 minutes: a
subscription's five attempts with 10 s..600 s backoff span about 5 minutes, so a shorter wait
could still dead-letter the first deliveries after an identity switch."""

_META = TerraformProviderGeneratorMetadata(provider_name="time",
                                           provider_version_constraint=TIME_PROVIDER_VERSION)


def _time_provider(scope: StackConstruct) -> None:
    """Declare the ``time`` provider in ``scope``'s stack, once."""
    providers = index_of(scope.stack).providers
    if "time" not in providers:
        providers["time"] = TerraformProvider(
            scope.stack, "time", terraform_resource_type="time",
            terraform_generator_metadata=_META, terraform_provider_source="hashicorp/time")


class TimeSleep(TerraformResource):
    """A ``time_sleep`` of the ``time`` provider (which has no generated bindings here); its
    type is declared on the class, as generated provider classes do, so nothing reads it back."""

    TF_RESOURCE_TYPE = "time_sleep"

    def __init__(self, scope: Construct, id: str) -> None:
        super().__init__(scope, id, terraform_resource_type=self.TF_RESOURCE_TYPE,
                         terraform_generator_metadata=_META)


class PropagationWait(StackConstruct):
    """``time_sleep`` after ``grant_addresses`` (IAM member addresses); ``address`` is its own."""

    def __init__(self, scope: Construct, id: str, component: str, part: str,
                 grant_addresses: Iterable[str],
                 seconds: int = PROPAGATION_SECONDS) -> None:
        super().__init__(scope, id)
        grants = sorted(set(grant_addresses))
        if not grants:
            raise ValueError(f"propagation wait {component}.{part}: no grants to wait for")
        _time_provider(self)
        self.sleep = TimeSleep(self, "sleep")
        self.sleep.add_override("create_duration", f"{seconds}s")
        # A re-created grant has a new id: the sleep is replaced and waits again.
        self.sleep.add_override("triggers", {a.split(".", 1)[1]: f"${{{a}.id}}" for a in grants})
        set_depends_on(self.sleep, grants)
        self.address = self.pin(self.sleep, component, part)
        self.grants = tuple(grants)
