"""Pub/Sub for the local pipeline: the official client (``google-cloud-pubsub``) on the emulator.

Every process talks to the emulator through one publisher and one subscriber client per
emulator host (``clients``), created on first use and shared by all its threads (the
clients are thread-safe). They connect as the library does for ``PUBSUB_EMULATOR_HOST``
(an insecure gRPC channel, no credentials), but to the host the caller names: the runner,
the drills and the tests know it from ``state.json`` rather than from their environment,
and one test process may drive several topologies.

``PubSub(host)`` is what the runner, the supervisor's fronts and simulators, the drills, the
demo and the tests call: publish (bytes, JSON), pull without acknowledging, acknowledge,
drain, and the admin calls that create and delete topics and subscriptions. Calls are not
retried (the emulator answers at once or is not running); every failure is a ``LocalError``
naming the fix.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

import grpc
from google.api_core import exceptions as gexc
from google.pubsub_v1 import PublisherClient, PubsubMessage, SubscriberClient
from google.pubsub_v1.services.publisher.transports import PublisherGrpcTransport
from google.pubsub_v1.services.subscriber.transports import SubscriberGrpcTransport

from infra.local.errors import LocalError

TIMEOUT_S = 30.0
PULL_MAX_MESSAGES = 100

T = TypeVar("T")


@dataclass(frozen=True)
class Clients:
    """The publisher and subscriber of one process for the emulator at ``host``."""

    host: str
    """The emulator's ``127.0.0.1:<port>`` (``PUBSUB_EMULATOR_HOST``), the key of the cache."""
    publisher: PublisherClient
    """Over an insecure gRPC channel to ``host`` (likewise ``subscriber``)."""
    subscriber: SubscriberClient


_CLIENTS: dict[str, Clients] = {}
_CLIENTS_LOCK = threading.Lock()


def clients(host: str) -> Clients:
    """This process's clients for the emulator at ``host`` (``127.0.0.1:port``), made once."""
    with _CLIENTS_LOCK:
        found = _CLIENTS.get(host)
        if found is None:
            publisher = PublisherClient(transport=PublisherGrpcTransport(
                host=host, channel=grpc.insecure_channel(host)))
            subscriber = SubscriberClient(transport=SubscriberGrpcTransport(
                host=host, channel=grpc.insecure_channel(host)))
            found = _CLIENTS[host] = Clients(host, publisher, subscriber)
        return found


@dataclass(frozen=True)
class Received:
    """One pulled message: decoded data (JSON when it parses, else the raw text)."""

    ack_id: str
    """What ``acknowledge`` takes; valid for this pull only, until the ack deadline passes."""
    message_id: str
    """The id the emulator gave the message when it was published (the same on redelivery)."""
    data: Any
    """The decoded JSON value (a completion is a dict), or the text when it is not JSON."""
    attributes: dict[str, str]
    """The message's attributes as published; empty when it has none."""


def decode(raw: bytes) -> Any:
    """A message's data as JSON when it parses, else as text."""
    try:
        return json.loads(raw)
    except ValueError:
        return raw.decode(errors="replace")


class PubSub:
    """The Pub/Sub emulator at ``host``, through this process's shared clients."""

    def __init__(self, host: str) -> None:
        self.host = host

    @property
    def clients(self) -> Clients:
        return clients(self.host)

    def _error(self, what: str, exc: gexc.GoogleAPICallError) -> LocalError:
        if isinstance(exc, gexc.ServiceUnavailable):
            return LocalError(f"Pub/Sub emulator at {self.host} unreachable ({exc.message}); is it "
                              "running? check `python -m infra.local status`")
        detail = str(exc)[:300].replace("\n", " ")
        return LocalError(f"Pub/Sub emulator: {what} failed: {detail}")

    def _call(self, what: str, call: Callable[[], T]) -> T:
        try:
            return call()
        except gexc.GoogleAPICallError as exc:
            raise self._error(what, exc) from exc

    def _tolerating(self, tolerated: type[gexc.GoogleAPICallError], what: str,
                    call: Callable[[], object]) -> None:
        """``call``, where the answer ``tolerated`` means it is done already."""
        try:
            call()
        except tolerated:
            return
        except gexc.GoogleAPICallError as exc:
            raise self._error(what, exc) from exc

    # ----------------------------------------------------------------- admin

    def create_topic(self, path: str) -> None:
        """Create topic ``path``; one that exists already is left as it is."""
        self._tolerating(gexc.AlreadyExists, f"create {path}",
                         lambda: self.clients.publisher.create_topic(
                             name=path, retry=None, timeout=TIMEOUT_S))

    def create_subscription(self, request: Mapping[str, Any]) -> None:
        """Create the subscription ``request`` describes (``google.pubsub.v1.Subscription``
        fields: ``name``, ``topic``, ``push_config``...); an existing one is left as it is."""
        self._tolerating(gexc.AlreadyExists, f"create {request.get('name')}",
                         lambda: self.clients.subscriber.create_subscription(
                             request=dict(request), retry=None, timeout=TIMEOUT_S))

    def delete_topic(self, path: str) -> None:
        """Delete topic ``path``; one that does not exist is not an error."""
        self._tolerating(gexc.NotFound, f"delete {path}",
                         lambda: self.clients.publisher.delete_topic(
                             topic=path, retry=None, timeout=TIMEOUT_S))

    def delete_subscription(self, path: str) -> None:
        """Delete subscription ``path``; one that does not exist is not an error."""
        self._tolerating(gexc.NotFound, f"delete {path}",
                         lambda: self.clients.subscriber.delete_subscription(
                             subscription=path, retry=None, timeout=TIMEOUT_S))

    def topics(self, project: str) -> set[str]:
        """The paths of ``project``'s topics."""
        return self._call(f"list topics of {project}", lambda: {
            t.name for t in self.clients.publisher.list_topics(
                project=f"projects/{project}", retry=None, timeout=TIMEOUT_S)})

    def subscriptions(self, project: str) -> set[str]:
        """The paths of ``project``'s subscriptions."""
        return self._call(f"list subscriptions of {project}", lambda: {
            s.name for s in self.clients.subscriber.list_subscriptions(
                project=f"projects/{project}", retry=None, timeout=TIMEOUT_S)})

    # ----------------------------------------------------------------- messages

    def publish(self, topic: str, payloads: Sequence[bytes],
                attributes: Mapping[str, str] | None = None) -> list[str]:
        """Publish each payload (bytes) to ``topic`` in one request; return the message ids."""
        messages = [PubsubMessage(data=p, attributes=dict(attributes or {})) for p in payloads]
        response = self._call(f"publish to {topic}", lambda: self.clients.publisher.publish(
            topic=topic, messages=messages, retry=None, timeout=TIMEOUT_S))
        return [str(m) for m in response.message_ids]

    def publish_json(self, topic: str, payloads: Sequence[Any],
                     attributes: Mapping[str, str] | None = None) -> list[str]:
        return self.publish(topic, [json.dumps(p).encode() for p in payloads], attributes)

    def pull(self, subscription: str, max_messages: int = PULL_MAX_MESSAGES) -> list[Received]:
        """Pull what is available now (``return_immediately``), without acknowledging."""
        response = self._call(f"pull {subscription}", lambda: self.clients.subscriber.pull(
            request={"subscription": subscription, "max_messages": max_messages,
                     "return_immediately": True},
            retry=None, timeout=TIMEOUT_S))
        return [Received(ack_id=item.ack_id, message_id=str(item.message.message_id),
                         data=decode(item.message.data),
                         attributes=dict(item.message.attributes))
                for item in response.received_messages]

    def acknowledge(self, subscription: str, ack_ids: Sequence[str]) -> None:
        if ack_ids:
            self._call(f"acknowledge on {subscription}",
                       lambda: self.clients.subscriber.acknowledge(
                           subscription=subscription, ack_ids=list(ack_ids), retry=None,
                           timeout=TIMEOUT_S))

    def drain(self, subscription: str) -> list[Received]:
        """Pull and acknowledge until the subscription returns nothing."""
        everything: list[Received] = []
        while True:
            batch = self.pull(subscription)
            if not batch:
                return everything
            self.acknowledge(subscription, [m.ack_id for m in batch])
            everything.extend(batch)
