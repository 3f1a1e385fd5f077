"""The local Cloud Run front: one reverse proxy per target that enforces the stack's IAM.

Cloud Run checks ``roles/run.invoker`` on every request against the identity in its OIDC
token; the emulators mint no tokens and check nothing. So every push endpoint and scheduler
URI is rewritten to this front with the caller's identity in the path::

    http://127.0.0.1:<front port>/__as/<service-account-email>/<path the caller uses>

The front strips ``/__as/<email>`` and forwards the request to the target's backend
(functions-framework for a function, a contract simulator for a service) only if the stack
grants an invoker role on that target to that identity. Otherwise it answers 403 (401 when
the call carries no identity), as Cloud Run does.

Before IAM, the front applies the target's ingress as Cloud Run does. A contract simulator
calling another service names itself in the ``X-Local-Caller-Service`` header; an
internal-only target refuses such a call (404, as Cloud Run answers what its ingress
refuses) unless the caller's own calls leave through a VPC network. Pushes, scheduler jobs
and function triggers carry no such header: Pub/Sub, Cloud Scheduler and Eventarc of the
project are internal.

Push delivery semantics live here too. Measured on the Pub/Sub emulator (0.8.20): with a
retry policy on a push subscription, redelivery stalls after ~3 attempts as soon as more
than one message fails, and nothing is dead-lettered (one lone message is). So push
subscriptions are created in the emulator without their dead-letter and retry policies (it
then redelivers a refused message about once a second), and the front applies the
declared ones: it counts delivery attempts per message, answers redeliveries that come
before the declared backoff (``minimum_backoff`` doubling up to ``maximum_backoff``) with a
503 without calling the target, adds ``deliveryAttempt`` to the envelope when a dead-letter
policy is set (as Pub/Sub does), and once ``max_delivery_attempts`` have failed publishes
the message to the dead-letter topic with Pub/Sub's ``CloudPubSubDeadLetterSource*``
attributes and acknowledges it. Every request that reaches a decision is recorded in
``fronts.jsonl``.
"""

from __future__ import annotations

import base64
import http.client
import json
import threading
import time
import urllib.parse
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, fields
from typing import Any, Protocol

from infra.local.errors import LocalError
from infra.local.httpd import Answer
from infra.local.records import JsonlLog, now_iso, parse_time
from infra.local.topology_types import invoker_allows

IDENTITY_PREFIX = "/__as/"
ANONYMOUS = "anonymous"
CALLER_HEADER = "X-Local-Caller-Service"
HOP_HEADERS = frozenset({"host", "connection", "content-length", "keep-alive",
                         "transfer-encoding", "authorization", CALLER_HEADER.lower()})
# Push answers Pub/Sub treats as an acknowledgement.
ACK_STATUSES = frozenset({102, 200, 201, 202, 204})


class Publisher(Protocol):
    """What the fronts and simulators publish with: the supervisor hands them the emulator's
    ``infra.local.pubsub.PubSub`` (tests may hand a double). Failures are ``LocalError``."""

    def publish(self, topic: str, payloads: Sequence[bytes],
                attributes: Mapping[str, str] | None = None) -> list[str]: ...

    def publish_json(self, topic: str, payloads: Sequence[Any],
                     attributes: Mapping[str, str] | None = None) -> list[str]: ...


def as_path(identity: str | None, path: str) -> str:
    """``/__as/<identity>/<path>``: how a caller's identity travels to the front."""
    who = urllib.parse.quote(identity or ANONYMOUS, safe="@.")
    return f"{IDENTITY_PREFIX}{who}{path if path.startswith('/') else '/' + path}"


def split_identity(path: str) -> tuple[str | None, str]:
    """``/__as/a@b/process?x`` → (``a@b``, ``/process?x``); no prefix → (None, path)."""
    if not path.startswith(IDENTITY_PREFIX):
        return None, path
    rest = path[len(IDENTITY_PREFIX):]
    who, _, tail = rest.partition("/")
    identity = urllib.parse.unquote(who)
    return (None if identity == ANONYMOUS else identity), "/" + tail


@dataclass(frozen=True)
class DeliveryPolicy:
    """The declared delivery semantics of one push subscription, applied by the front."""

    subscription: str
    """The subscription's id (what dead-lettered messages name as their source)."""
    project: str
    topic: str
    """Short name of the topic it reads."""
    dead_letter_topic: str | None
    """Full path of the dead-letter topic, ``None`` when none is declared."""
    max_delivery_attempts: int | None
    minimum_backoff_s: float | None
    maximum_backoff_s: float | None
    retry: bool = True
    """``False``: a failed delivery is acknowledged (RETRY_POLICY_DO_NOT_RETRY triggers)."""

    def backoff(self, attempt: int) -> float:
        """Seconds to wait after failed attempt ``attempt`` (1-based) before the next one."""
        if self.minimum_backoff_s is None:
            return 0.0
        ceiling = self.maximum_backoff_s or self.minimum_backoff_s
        return float(min(ceiling, self.minimum_backoff_s * 2 ** (attempt - 1)))


@dataclass(frozen=True)
class FrontPlan:
    """The front guarding one Cloud Run target: who may invoke it and how pushes to it are
    delivered; its backend is the function or simulator of the same name."""

    target: str
    kind: str
    invokers: tuple[str, ...]
    timeout_seconds: int
    deliveries: dict[str, DeliveryPolicy]
    """Subscription path → the delivery policy of each push subscription to this target."""
    internal_only: bool = False
    vpc_callers: tuple[str, ...] = ()
    """Services whose calls leave through a VPC network (internal to this target)."""

    def allows(self, identity: str | None) -> bool:
        return invoker_allows(self.invokers, identity)

    def ingress_refuses(self, caller_service: str | None) -> bool:
        """Whether the target's ingress refuses a call from ``caller_service`` (``None``: a
        push, scheduler or trigger call, which is internal)."""
        return (self.internal_only and caller_service is not None
                and caller_service not in self.vpc_callers)

    def spec(self, port: int, backend_port: int) -> FrontSpec:
        """This front listening on ``port``, its backend on ``backend_port``."""
        return FrontSpec(**{f.name: getattr(self, f.name) for f in fields(FrontPlan)},
                         port=port, backend_port=backend_port)


@dataclass(frozen=True, kw_only=True)
class FrontSpec(FrontPlan):
    """One front as the supervisor runs it: its plan, the port it listens on and its
    backend's."""

    port: int
    backend_port: int

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> FrontSpec:
        return cls(**{**data, "invokers": tuple(data["invokers"]),
                      "vpc_callers": tuple(data.get("vpc_callers") or ()),
                      "deliveries": {k: DeliveryPolicy(**v)
                                     for k, v in data["deliveries"].items()}})


def plain(status: int, text: str) -> Answer:
    """A plain-text answer, as Cloud Run and Pub/Sub give their own."""
    return status, {"Content-Type": "text/plain"}, text.encode()


def describe(payload: Any) -> dict[str, Any]:
    """The fields of a completion or trigger message the records keep."""
    if not isinstance(payload, dict):
        return {}
    return {key: payload[key] for key in (
        "game_date", "correlation_id", "processor_name", "output_table", "status",
        "start_date", "transition", "skip_downstream_trigger") if key in payload}


@dataclass
class Envelope:
    """A request body parsed as a Pub/Sub push envelope (``message`` is ``None`` if not)."""

    outer: Any
    message: dict[str, Any] | None
    payload: Any

    @classmethod
    def parse(cls, body: bytes) -> Envelope:
        try:
            outer = json.loads(body) if body else None
        except ValueError:
            return cls(None, None, None)
        if isinstance(outer, dict) and isinstance(outer.get("message"), dict):
            msg = outer["message"]
            try:
                payload = json.loads(base64.b64decode(msg.get("data") or ""))
            except ValueError:
                payload = None
            return cls(outer, msg, payload)
        return cls(outer, None, outer)

    @property
    def subscription(self) -> str | None:
        return self.outer.get("subscription") if self.message is not None else None

    @property
    def message_id(self) -> str | None:
        return str(self.message["messageId"]) if self.message and "messageId" in self.message \
            else None

    def body(self) -> bytes:
        return json.dumps(self.outer).encode()


class Front:
    """The decision, delivery and forwarding logic of one front (the server wraps it)."""

    def __init__(self, spec: FrontSpec, log: JsonlLog, pubsub: Publisher | None = None) -> None:
        self.spec = spec
        self.log = log
        self.pubsub = pubsub
        # Per (subscription, message id): attempts so far, and the earliest next attempt.
        self._counts: dict[tuple[str, str], int] = {}
        self._due: dict[tuple[str, str], float] = {}
        self._lock = threading.Lock()

    def _attempt(self, key: tuple[str, str] | None, policy: DeliveryPolicy | None,
                 now: float) -> int | None:
        """The number of this delivery attempt, or ``None`` when it comes before its backoff."""
        if key is None:
            return None
        with self._lock:
            if policy is not None and now < self._due.get(key, 0.0):
                return None
            self._counts[key] = self._counts.get(key, 0) + 1
            return self._counts[key]

    def handle(self, method: str, raw_path: str, headers: dict[str, str], body: bytes) -> Answer:
        """Decide, forward and record one request (``infra.local.httpd.Handle``)."""
        arrived = time.time()
        identity, path = split_identity(raw_path)
        env = Envelope.parse(body)
        sub, mid = env.subscription, env.message_id
        key = (sub, mid) if sub and mid else None
        policy = self.spec.deliveries.get(sub or "")
        attempt = self._attempt(key, policy, arrived)
        if key is not None and policy is not None and attempt is None:
            # Redelivered by the emulator before the declared backoff: not an attempt.
            return plain(503, "retry backoff: not due yet")
        if env.message is not None:
            if policy is not None and policy.dead_letter_topic and attempt is not None:
                env.outer["deliveryAttempt"] = attempt
            if self.spec.kind == "function" and path.startswith("/projects/"):
                # Eventarc hands over messages without data too; functions-framework only
                # converts envelopes whose message has ``data``.
                env.message.setdefault("data", "")
            body = env.body()
        published = parse_time(env.message.get("publishTime")) if env.message else None
        record: dict[str, Any] = {
            "ts": now_iso(), "target": self.spec.target, "kind": self.spec.kind,
            "identity": identity, "method": method, "path": path,
            "via": "push" if env.message is not None else "http",
            "topic": policy.topic if policy else None, "subscription": sub,
            "message_id": mid, "attempt": attempt, **describe(env.payload),
        }
        if env.message is not None and env.payload is None:
            record["payload"] = "not json"
        if published is not None:
            record["since_publish_ms"] = round((arrived - published.timestamp()) * 1000, 1)
        caller = next((v for k, v in headers.items() if k.lower() == CALLER_HEADER.lower()),
                      None)
        if caller is not None:
            record["caller_service"] = caller
        if self.spec.ingress_refuses(caller):
            status, out_headers, answer = plain(
                404, f"404 Not Found: {self.spec.target} takes internal traffic only and "
                f"{caller} has no VPC egress, so its call is external")
            record["decision"] = "refused by ingress"
        elif self.spec.allows(identity):
            status, out_headers, answer = self.forward(method, path, headers, body)
            record["decision"] = "allowed"
        else:
            code = 401 if identity is None else 403
            who = identity or "a caller without an identity token"
            status, out_headers, answer = plain(
                code, f"{code} {'Unauthorized' if code == 401 else 'Forbidden'}: {who} "
                f"lacks roles/run.invoker on {self.spec.target}")
            record["decision"] = "denied"
        record.update(status=status, duration_ms=round((time.time() - arrived) * 1000, 1))
        if status >= 400:
            record["answer"] = answer[:300].decode(errors="replace")
        if key is not None and policy is not None and attempt is not None:
            status, out_headers, answer = self._settle(key, policy, attempt, env, status,
                                                       out_headers, answer, record)
        elif key is not None and status in ACK_STATUSES:
            self._forget(key)
        self.log.write(record)
        return status, out_headers, answer

    def _settle(self, key: tuple[str, str], policy: DeliveryPolicy, attempt: int,
                env: Envelope, status: int, headers: dict[str, str], answer: bytes,
                record: dict[str, Any]) -> Answer:
        """Apply the subscription's policy to the outcome of one delivery attempt."""
        if status in ACK_STATUSES:
            self._forget(key)
            return status, headers, answer
        if not policy.retry:
            self._forget(key)
            record["delivery"] = "dropped (the trigger does not retry)"
            return plain(200, "failed; not retried (RETRY_POLICY_DO_NOT_RETRY)")
        limit = policy.max_delivery_attempts
        if policy.dead_letter_topic and limit is not None and attempt >= limit:
            try:
                self._dead_letter(policy, env, attempt)
            except LocalError as exc:
                record["delivery"] = f"dead-lettering failed: {exc}"
                return plain(503, str(exc))
            self._forget(key)
            record["delivery"] = f"dead-lettered to {policy.dead_letter_topic}"
            return plain(200, f"dead-lettered after {attempt} attempts")
        wait = policy.backoff(attempt)
        with self._lock:
            self._due[key] = time.time() + wait
        record["delivery"] = f"retry in {wait:g}s"
        return status, headers, answer

    def _forget(self, key: tuple[str, str]) -> None:
        with self._lock:
            self._due.pop(key, None)
            self._counts.pop(key, None)

    def _dead_letter(self, policy: DeliveryPolicy, env: Envelope, attempt: int) -> None:
        if self.pubsub is None or env.message is None or policy.dead_letter_topic is None:
            raise LocalError("no Pub/Sub emulator configured for dead-lettering")
        msg = env.message
        attributes = dict(msg.get("attributes") or {})
        attributes.update({
            "CloudPubSubDeadLetterSourceDeliveryCount": str(attempt),
            "CloudPubSubDeadLetterSourceSubscription": policy.subscription,
            "CloudPubSubDeadLetterSourceSubscriptionProject": policy.project,
            "CloudPubSubDeadLetterSourceTopicPublishTime": str(msg.get("publishTime", "")),
        })
        try:
            data = base64.b64decode(msg.get("data") or "")
        except ValueError as exc:
            raise LocalError(f"the pushed message's data is not base64 ({exc})") from exc
        self.pubsub.publish(policy.dead_letter_topic, [data], attributes)

    def forward(self, method: str, path: str, headers: dict[str, str], body: bytes) -> Answer:
        conn = http.client.HTTPConnection("127.0.0.1", self.spec.backend_port,
                                          timeout=self.spec.timeout_seconds)
        try:
            sent = {k: v for k, v in headers.items() if k.lower() not in HOP_HEADERS}
            conn.request(method, path, body=body or None, headers=sent)
            resp = conn.getresponse()
            answer = resp.read()
            keep = {k: v for k, v in resp.getheaders() if k.lower() == "content-type"}
            return resp.status, keep, answer
        except (OSError, http.client.HTTPException) as exc:
            # Cloud Run answers 503 when the container does not respond.
            return plain(503, f"503 Service Unavailable: {self.spec.target} backend on port "
                         f"{self.spec.backend_port} did not answer ({exc})")
        finally:
            conn.close()

