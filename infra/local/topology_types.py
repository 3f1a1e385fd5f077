"""The records the local runtime reads from a synthesized stack.

``infra.local.topology.read_topology`` builds them from ``cdk.tf.json``; the simulator, the
front, the launcher, the supervisor and the Pub/Sub set-up read them. Names are the cloud
names the stack declares (``<sport>-<key>``), identities service-account emails.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from infra.local.errors import LocalError

_DURATION_RE = re.compile(r"^(\d+(?:\.\d+)?)s$")


@dataclass(frozen=True)
class TopicSpec:
    """A topic: ``name`` is its cloud name (``<sport>-<key>``), ``short`` the manifest key."""

    short: str
    """The manifest key (``<sport>-`` stripped): the key of ``Topology.topics``."""
    name: str
    """The cloud name as the stack declares it (``nba-phase2-raw``)."""
    address: str
    """Its Terraform address (``google_pubsub_topic.<component>__topic``)."""


@dataclass(frozen=True)
class PushSpec:
    """Where a push subscription delivers: ``target`` (cloud name) at ``path``."""

    target: str
    path: str
    """The endpoint's path after the target's URI (``/`` if none); empty on a derived trigger,
    whose pushes go to the topic path (``Topology.push_path``)."""
    identity: str | None
    """Service account whose OIDC token the push carries; ``None``: no token."""


@dataclass(frozen=True)
class SubscriptionSpec:
    """A subscription as declared (or, ``origin == 'event_trigger'``, derived)."""

    short: str
    """The cloud name without the sport prefix; a derived trigger's is its full name."""
    name: str
    topic: str
    """The topic's ``short`` key (a key of ``Topology.topics``), likewise ``dead_letter_topic``."""
    ack_deadline_seconds: int
    """As declared (Pub/Sub's 10 if unset); a trigger's is the function timeout within 10..600."""
    push: PushSpec | None
    """``None``: a pull subscription."""
    dead_letter_topic: str | None
    max_delivery_attempts: int | None
    """Deliveries before dead-lettering (5 if unset); ``None`` when there is no dead-letter topic."""
    minimum_backoff: str | None
    """Retry policy bounds as durations (``"10s"``, likewise the maximum); ``None``: no retry policy."""
    maximum_backoff: str | None
    retention: str | None
    """``message_retention_duration`` (``"604800s"``); ``None``: not declared."""
    origin: str = "subscription"
    address: str = ""
    """The subscription's Terraform address; a derived trigger's is its function's."""
    retry: bool = True
    """``False``: failed deliveries are dropped (a trigger with RETRY_POLICY_DO_NOT_RETRY)."""


@dataclass(frozen=True)
class Target:
    """A Cloud Run service: one of the stack's services or a gen2 function's service."""

    name: str
    kind: str
    """``service`` or ``function``."""
    address: str
    timeout_seconds: int
    """A service's template timeout (300 if unset), a function's ``timeout_seconds`` (60 if unset)."""
    identity: str | None
    """Email of the account it runs and calls others as; ``None``: none declared."""
    invokers: tuple[str, ...] = ()
    """IAM members holding an invoker role on this target (``serviceAccount:…``, ``allUsers``)."""
    internal_only: bool = False
    """Its ingress refuses what Cloud Run counts as external (a service caller without VPC
    egress among them); push, scheduler and trigger calls are internal."""
    vpc_egress: bool = False
    """Its own calls to other targets leave through a VPC network, so they count as internal."""

    def allows(self, identity: str | None) -> bool:
        """Whether a request carrying ``identity``'s token may invoke this target."""
        return invoker_allows(self.invokers, identity)


def invoker_allows(invokers: tuple[str, ...], identity: str | None) -> bool:
    """Whether IAM ``invokers`` (members) let a caller with ``identity`` (email) through."""
    if "allUsers" in invokers:
        return True
    if not identity:
        return False
    if "allAuthenticatedUsers" in invokers:
        return True
    return any(m.split(":", 1)[-1] == identity for m in invokers)


@dataclass(frozen=True)
class FunctionSpec:
    """A gen2 function: served locally by functions-framework from its bundle."""

    name: str
    """The function's cloud name, also the name of its Cloud Run target (``Topology.targets``)."""
    address: str
    """Its Terraform address (``google_cloudfunctions2_function.<component>__function``)."""
    entry_point: str
    """The Python callable functions-framework serves (``build_config.entry_point``)."""
    signature: str
    """``cloudevent`` (it has an event trigger) or ``http``."""
    environment: dict[str, str]
    """``service_config.environment_variables`` as declared; empty when none."""
    bundle_object: str
    """Name of the source bundle's bucket object; empty when the stack declares none."""
    bundle_asset: str | None
    """The bundle file Terraform uploads (absolute), when the stack's asset exists."""
    timeout_seconds: int
    """``service_config.timeout_seconds`` (60 if unset)."""
    trigger_topic: str | None
    """``short`` key of the Pub/Sub trigger topic; ``None``: an HTTP function (or an
    event type with no local equivalent, noted in ``Topology.notes``)."""
    trigger_identity: str | None
    """Email the trigger's pushes carry: the declared trigger account, else the default
    compute account (which holds no invoker grant); ``None`` without a trigger."""
    retry: bool
    """The trigger's ``RETRY_POLICY_RETRY``; ``False`` (Eventarc's default) drops a failed
    event, and ``True`` without a trigger."""


@dataclass(frozen=True)
class JobSpec:
    """A Cloud Scheduler job calling ``target`` at ``path`` under ``identity``."""

    name: str
    """The job's cloud name."""
    short: str
    """The manifest key (the name without ``<sport>-``)."""
    schedule: str
    """Cron expression as declared (``*/15 * * * *``)."""
    time_zone: str
    """IANA zone the schedule is read in (``Etc/UTC`` if unset)."""
    target: str
    """Cloud name of the Cloud Run target (a key of ``Topology.targets``)."""
    path: str
    """Request path after the target's URI (``/`` if none)."""
    method: str
    """HTTP method (``POST`` if unset)."""
    body: str | None
    """The request body, base64-decoded from the stack; ``None``: no body."""
    headers: dict[str, str]
    """Request headers as declared (``Content-Type`` when there is a body); may be empty."""
    identity: str | None
    """Email whose OIDC token the call carries; ``None``: an unauthenticated call."""
    retry_count: int
    """Retries after a failed attempt (``retry_config.retry_count``; 0 if unset)."""


@dataclass(frozen=True)
class Topology:
    """What the local pipeline creates and serves, read from one stack."""

    stack_path: Path
    """The ``cdk.tf.json`` read; bundle assets are resolved relative to its folder."""
    stack_project: str
    """The project the stack declares (provider ``google.project``)."""
    project: str
    """The emulator project: the stack's own unless overridden."""
    region: str
    """The google provider's region (``us-central1`` if unset); names derived trigger
    subscriptions (``eventarc-<region>-<function>-sub``)."""
    topics: dict[str, TopicSpec]
    """By ``short`` key."""
    subscriptions: tuple[SubscriptionSpec, ...]
    """The declared subscriptions in stack order, then one derived per function trigger."""
    targets: dict[str, Target]
    """Services and gen2 functions by cloud name."""
    functions: tuple[FunctionSpec, ...]
    """The gen2 functions, served locally by functions-framework."""
    jobs: tuple[JobSpec, ...]
    """The Cloud Scheduler jobs the supervisor runs."""
    notes: tuple[str, ...] = field(default_factory=tuple)
    """What the stack declares that has no local equivalent (a non-Pub/Sub trigger), for
    the operator; empty when everything is served."""

    def topic_path(self, short: str) -> str:
        return f"projects/{self.project}/topics/{self.topics[short].name}"

    def subscription_path(self, sub: SubscriptionSpec) -> str:
        return f"projects/{self.project}/subscriptions/{sub.name}"

    def push_path(self, sub: SubscriptionSpec) -> str:
        """The request path a push of ``sub`` carries (function triggers: the topic path)."""
        assert sub.push is not None
        if sub.origin == "event_trigger":
            return f"/{self.topic_path(sub.topic)}"
        return sub.push.path or "/"

    def delivery_policy(self, sub: SubscriptionSpec) -> dict[str, Any]:
        """The declared delivery semantics of push subscription ``sub`` (front's view)."""
        return {
            "subscription": sub.name, "project": self.project, "topic": sub.topic,
            "dead_letter_topic": (self.topic_path(sub.dead_letter_topic)
                                  if sub.dead_letter_topic else None),
            "max_delivery_attempts": sub.max_delivery_attempts,
            "minimum_backoff_s": (seconds(sub.minimum_backoff)
                                  if sub.minimum_backoff is not None else None),
            "maximum_backoff_s": (seconds(sub.maximum_backoff)
                                  if sub.maximum_backoff is not None else None),
            "retry": sub.retry,
        }

    def invoker_grant_count(self) -> int:
        return sum(len(t.invokers) for t in self.targets.values())


def seconds(duration: str | int | None, default: float = 0.0) -> float:
    """``"10s"`` → 10.0; ints pass through; ``None`` → ``default``."""
    if duration is None:
        return default
    if isinstance(duration, int):
        return float(duration)
    m = _DURATION_RE.match(str(duration).strip())
    if not m:
        raise LocalError(f"duration {duration!r} is not '<n>s'; fix the stack (e.g. '10s')")
    return float(m.group(1))
