"""A Pub/Sub topic with publish grants."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from cdktn_provider_google.pubsub_topic import PubsubTopic
from cdktn_provider_google.pubsub_topic_iam_member import PubsubTopicIamMember
from constructs import Construct

from infra.model.permissions import PUBLISHER, Grant, Target
from infra.synth.constructs.base import Granter, Principal, StackConstruct, ref, replaced_with


@dataclass(frozen=True)
class TopicProps:
    """``name``: the cloud name (``<sport>-<key>``); ``component``: the address prefix.

    ``part``: address suffix, default ``topic``. ``retention``: message retention;
    default 7 days so a stalled consumer can replay.
    """

    name: str
    component: str
    project: str
    """The GCP project id the resources are created in."""
    part: str = "topic"
    labels: tuple[tuple[str, str], ...] = ()
    """``(key, value)`` resource labels (``("pipeline", "nba")``); empty: none."""
    retention: str = "604800s"


class Topic(StackConstruct):
    def __init__(self, scope: Construct, id: str, props: TopicProps) -> None:
        super().__init__(scope, id)
        self.props = props
        self.topic = PubsubTopic(
            self, "topic", name=props.name, project=props.project,
            message_retention_duration=props.retention, labels=dict(props.labels) or None,
        )
        self.address = self.pin(self.topic, props.component, props.part)

    @property
    def id(self) -> str:
        """Full topic id ``projects/P/topics/T`` (a reference, so order follows)."""
        return ref(self.address, "id")

    @property
    def name_ref(self) -> str:
        """The topic's ``name`` as a reference (grants follow the topic)."""
        return ref(self.address, "name")

    @property
    def name(self) -> str:
        return self.props.name

    @property
    def target(self) -> Target:
        return Target("pubsub.topic", self.props.name)

    def granters(self) -> Mapping[tuple[Target, str], Granter]:
        return {(self.target, PUBLISHER): self.grant_publish}

    def grant_publish(self, principal: Principal) -> Grant:
        """Add ``roles/pubsub.publisher`` on this topic only (never project-wide)."""
        return self.grant_member(
            PubsubTopicIamMember, principal, PUBLISHER, self.target,
            f"publisher-{principal.component}",
            (self.props.component, f"{self.props.part}_publisher_{principal.component}"),
            project=self.props.project, topic=self.name_ref, lifecycle=replaced_with(self.address))
