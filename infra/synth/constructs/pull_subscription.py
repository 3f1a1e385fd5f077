"""A pull subscription of one reader on a topic it watches, with subscriber grants on it only.

The canary reads what the upstream phase of each gated transition *announced* through one of
these, independently of the orchestrator's trigger (a subscription Eventarc owns): when the
orchestrator never runs, the announcements still reach the canary. The subscription never
expires (``ttl = ""``: idle off-seasons must not delete it) and keeps unacknowledged
messages 7 days, Pub/Sub's retention maximum for a subscription, so a canary that misses
runs still finds what was announced meanwhile. Nothing pushes: no endpoint, no dead-letter
topic (a reader that cannot parse a message acknowledges it itself).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from cdktn_provider_google.pubsub_subscription import (
    PubsubSubscription,
    PubsubSubscriptionExpirationPolicy,
)
from cdktn_provider_google.pubsub_subscription_iam_member import PubsubSubscriptionIamMember
from constructs import Construct

from infra.model.permissions import SUBSCRIBER, Grant, Target
from infra.synth.constructs.base import Granter, Principal, StackConstruct, ref, replaced_with
from infra.synth.constructs.topic import Topic


@dataclass(frozen=True)
class PullSubscriptionProps:
    """``name``: the subscription's cloud name; ``component``: the address prefix.

    ``ack_deadline_seconds`` default 60 (the reader records then acknowledges within a run);
    ``retention`` default 7 days.
    """

    name: str
    component: str
    project: str
    """The GCP project id the resources are created in."""
    topic: Topic
    """The topic it reads, in this stack."""
    ack_deadline_seconds: int = 60
    retention: str = "604800s"


class PullSubscription(StackConstruct):
    def __init__(self, scope: Construct, id: str, props: PullSubscriptionProps) -> None:
        super().__init__(scope, id)
        if not 10 <= props.ack_deadline_seconds <= 600:
            raise ValueError(f"pull subscription {props.name}: ack_deadline_seconds "
                             f"{props.ack_deadline_seconds} outside Pub/Sub's 10..600")
        self.props = props
        self.subscription = PubsubSubscription(
            self, "subscription", name=props.name, project=props.project, topic=props.topic.id,
            ack_deadline_seconds=props.ack_deadline_seconds,
            message_retention_duration=props.retention,
            expiration_policy=PubsubSubscriptionExpirationPolicy(ttl=""),
        )
        self.address = self.pin(self.subscription, props.component, "subscription")

    @property
    def name(self) -> str:
        return self.props.name

    def granters(self) -> Mapping[tuple[Target, str], Granter]:
        return {(Target("pubsub.subscription", self.props.name), SUBSCRIBER): self.grant_subscribe}

    def grant_subscribe(self, principal: Principal) -> Grant:
        """``roles/pubsub.subscriber`` on this subscription only (pull and acknowledge)."""
        return grant_subscriber(
            self, principal, f"subscriber-{principal.component}",
            (self.props.component, f"subscriber_{principal.component}"),
            self.props.project, self.address, self.props.name)


def grant_subscriber(owner: StackConstruct, principal: Principal, id: str,
                     address: tuple[str, str], project: str, subscription_address: str,
                     subscription: str) -> Grant:
    """``roles/pubsub.subscriber`` for ``principal`` on the subscription pinned at
    ``subscription_address`` (cloud name ``subscription``), re-created if it is replaced; the
    member is ``owner``'s ``id``, pinned at ``address`` (``StackConstruct.grant_member``)."""
    return owner.grant_member(
        PubsubSubscriptionIamMember, principal, SUBSCRIBER,
        Target("pubsub.subscription", subscription), id, address,
        project=project, subscription=ref(subscription_address, "name"),
        lifecycle=replaced_with(subscription_address))
