"""A push edge: topic → push subscription → Cloud Run target, complete or not at all.

One construct owns every piece the edge needs, so none can be forgotten: the subscription
with an OIDC token for a dedicated push identity and an explicit audience; the dead-letter
topic and a subscription on it (a dead-letter topic nobody reads loses messages); the
Pub/Sub service agent's publisher grant on the dead-letter topic and subscriber grant on the
source subscription (without them dead-lettering silently does nothing); token creator on
the push identity for the agent; and ``roles/run.invoker`` on the target for exactly that
identity, re-created whenever the target is replaced.

Order: the subscription waits for the invoker on its target and for the agent's token creator
on its push identity. A subscription that switches its OIDC identity (from the default compute
account it used before, say) before both grants exist pushes tokens the target refuses (403),
and after five attempts the messages are dead-lettered.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from cdktn_provider_google.pubsub_subscription import (
    PubsubSubscription,
    PubsubSubscriptionDeadLetterPolicy,
    PubsubSubscriptionExpirationPolicy,
    PubsubSubscriptionPushConfig,
    PubsubSubscriptionPushConfigOidcToken,
    PubsubSubscriptionRetryPolicy,
)
from constructs import Construct

from infra.model.permissions import SUBSCRIBER, Grant, Target
from infra.synth.constructs.base import Granter, Invokable, Principal, StackConstruct, wait_for
from infra.synth.constructs.identity import GoogleAgent, Identity
from infra.synth.constructs.pull_subscription import grant_subscriber
from infra.synth.constructs.topic import Topic, TopicProps


@dataclass(frozen=True)
class PushEdgeProps:
    """``name``: the subscription's cloud name; ``dead_letter_topic`` and
    ``dead_letter_subscription`` name the dead-letter pair (see ``infra.model.naming``).

    ``ack_deadline_seconds`` default 600 (long Phase 3 runs); ``max_delivery_attempts``
    default 5 before dead-lettering; backoff 10 s .. 600 s between attempts.
    """

    name: str
    component: str
    """Address prefix: resources are ``<type>.<component>__<part>`` (``-`` becomes ``_``)."""
    project: str
    """The GCP project id the resources are created in."""
    topic: Topic
    """The topic whose messages are pushed."""
    target: Invokable
    """The service or function pushed to; it grants the push identity the invoker role."""
    path: str
    """Appended to the target's URI; must start with ``/``."""
    identity_account_id: str
    """Account id of the identity the edge creates; pushes carry its OIDC token."""
    pubsub_agent: GoogleAgent
    """The Pub/Sub service agent: granted token creation on the push identity and
    publisher/subscriber on the dead-letter pair."""
    dead_letter_topic: str
    dead_letter_subscription: str
    ack_deadline_seconds: int = 600
    max_delivery_attempts: int = 5
    minimum_backoff: str = "10s"
    maximum_backoff: str = "600s"
    dead_letter_retention: str = "604800s"
    """How long the dead-letter topic keeps messages (7 days)."""


class PushEdge(StackConstruct):
    def __init__(self, scope: Construct, id: str, props: PushEdgeProps) -> None:
        super().__init__(scope, id)
        if not props.path.startswith("/"):
            raise ValueError(f"push edge {props.name}: path {props.path!r} must start with '/'")
        if not 5 <= props.max_delivery_attempts <= 100:
            raise ValueError(f"push edge {props.name}: max_delivery_attempts "
                             f"{props.max_delivery_attempts} outside Pub/Sub's 5..100")
        self.props = props
        agent = props.pubsub_agent
        self.identity = Identity.own(self, props, "Push identity", part="push_identity")
        self.dead_letter_topic = Topic(self, "dlq", TopicProps(
            name=props.dead_letter_topic, component=props.component, project=props.project,
            part="dead_letter_topic",
        ))
        self.dead_letter_subscription = PubsubSubscription(
            self, "dlq-sub", name=props.dead_letter_subscription, project=props.project,
            topic=self.dead_letter_topic.id, ack_deadline_seconds=60,
            message_retention_duration=props.dead_letter_retention,
            expiration_policy=PubsubSubscriptionExpirationPolicy(ttl=""),
        )
        self.dead_letter_subscription_address = self.pin(
            self.dead_letter_subscription, props.component, "dead_letter_subscription")
        # The grants the push needs, first: the subscription depends on them.
        token_creator = self.identity.grant_token_creator(agent)
        invoker = props.target.grant_invoke(self.identity)
        self.subscription = PubsubSubscription(
            self, "subscription", name=props.name, project=props.project, topic=props.topic.id,
            ack_deadline_seconds=props.ack_deadline_seconds,
            push_config=PubsubSubscriptionPushConfig(
                push_endpoint=props.target.url(props.path),
                oidc_token=PubsubSubscriptionPushConfigOidcToken(
                    service_account_email=self.identity.email_ref,
                    audience=props.target.audience,
                ),
            ),
            dead_letter_policy=PubsubSubscriptionDeadLetterPolicy(
                dead_letter_topic=self.dead_letter_topic.id,
                max_delivery_attempts=props.max_delivery_attempts,
            ),
            retry_policy=PubsubSubscriptionRetryPolicy(
                minimum_backoff=props.minimum_backoff, maximum_backoff=props.maximum_backoff,
            ),
            expiration_policy=PubsubSubscriptionExpirationPolicy(ttl=""),
        )
        self.address = self.pin(self.subscription, props.component, "subscription")
        wait_for(self.subscription, (token_creator, invoker))
        self.identity.acts_for(self.subscription)

        self.grants: tuple[Grant, ...] = (
            self.dead_letter_topic.grant_publish(agent),
            grant_subscriber(self, agent, "agent-subscriber",
                             (props.component, f"subscriber_{agent.component}"),
                             props.project, self.address, props.name),
            token_creator,
            invoker,
        )
        """What the edge granted for itself: the agent's three grants and the invoker."""

    def granters(self) -> Mapping[tuple[Target, str], Granter]:
        dead_letters = Target("pubsub.subscription", self.props.dead_letter_subscription)
        return {(dead_letters, SUBSCRIBER): self.grant_dead_letter_read}

    def grant_dead_letter_read(self, principal: Principal) -> Grant:
        """Let ``principal`` peek at the dead-letter subscription (the canary watches it)."""
        return grant_subscriber(
            self, principal, f"dlq-reader-{principal.component}",
            (self.props.component, f"dead_letter_reader_{principal.component}"),
            self.props.project, self.dead_letter_subscription_address,
            self.props.dead_letter_subscription)
