"""The backlog threshold of a delivery subscription: one formula, from what the stack declares.

The backlog alerts of ``infra.synth.constructs.monitoring`` fire on the age of the oldest
unacknowledged message (``backlog_threshold``); this module derives that age.

A delivery subscription is described by its attempt deadline ``A``, its retry backoff
``b_min .. b_max`` and the attempts ``N`` before dead-lettering (``Delivery``):

* a push edge: ``A`` = its ``ack_deadline_seconds`` (Pub/Sub waits that long for the push
  response, https://cloud.google.com/pubsub/docs/push), its ``retry_policy`` backoff, ``N`` =
  its ``max_delivery_attempts``;
* a function trigger: ``A`` = the function's timeout ``T`` (the function is stopped then),
  Eventarc's backoff of 10 s .. 600 s, no dead-letter topic: ``RETRY_POLICY_RETRY`` retries
  until the message expires (https://cloud.google.com/functions/docs/writing/retries).

::

    threshold    = A + retry_budget
    retry_budget = sum(min(b_max, b_min * 2**k) for k in range(N - 1))   with dead-lettering
                 = b_max                                                  without

A healthy message is acknowledged by its first attempt, within ``A``; one the target refuses
(403, 404, 5xx: answered at once) is retried ``N - 1`` times, each after an exponentially
growing wait (Pub/Sub's documented exponential backoff between the policy's minimum and
maximum, modelled as doubling from ``b_min``, capped at ``b_max``), and then dead-lettered,
which acknowledges it on the source subscription and raises the dead-letter alert. So the
oldest unacknowledged message is older than ``threshold`` only when delivery is stuck short of
dead-lettering: at least two attempts ran into their deadline (a target that hangs or times
out), or Pub/Sub is not delivering at all. Dead-lettering would say so only after about
``N * A`` (52 minutes for 5 attempts of 600 s), which no edge could fit in 30 minutes
(``N`` is at least 5, and ``A`` must cover the target's run time), hence this threshold.
Without dead-lettering the message is retried for days; one older than a full attempt plus
the longest wait before the next has failed at least once and is still not delivered, and a
function that fails at startup fails every delivery.

The alert is loud ``threshold + BACKLOG_DURATION_SECONDS + PUBSUB_METRIC_DELAY_SECONDS`` after
the message was published; that must fit ``DETECTION_BUDGET_SECONDS`` (30 minutes), or the
construct raises ``ValueError`` naming the edge. Today: every push edge (600 s deadline, 5
attempts, 10 .. 600 s) 600 + 10 + 20 + 40 + 80 = 750 s, loud after 990 s; the Phase 3→4
orchestrator's trigger (540 s timeout) 540 + 600 = 1140 s, loud after 1380 s.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from infra.synth.constructs.function import CloudFunction
from infra.synth.constructs.push_edge import PushEdge

DETECTION_BUDGET_SECONDS = 30 * 60
"""Every silence is loud within 30 minutes of its first undelivered message or missed run."""
BACKLOG_DURATION_SECONDS = 120
"""How long the backlog age must stay above its threshold: two samples, so one late sample
does not open an incident (a stuck backlog only grows older)."""
PUBSUB_METRIC_DELAY_SECONDS = 120
"""Pub/Sub samples subscription metrics every 60 s and a sample becomes visible up to 120 s
later (https://cloud.google.com/monitoring/api/metrics_gcp_p_z#gcp-pubsub)."""
EVENTARC_MIN_BACKOFF_SECONDS = 10
EVENTARC_MAX_BACKOFF_SECONDS = 600
"""Event-driven functions with retries: "an exponential backoff strategy, with an increasing
backoff of between 10 and 600 seconds" (https://cloud.google.com/functions/docs/writing/retries)."""

_DURATION = re.compile(r"^(\d+)s$")


def seconds_of(what: str, value: str | int) -> int:
    """``"600s"`` (or 600) → 600; ``ValueError`` naming ``what`` and the value otherwise."""
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    m = _DURATION.match(str(value))
    if m is None:
        raise ValueError(f"{what}: {value!r} is not a duration in whole seconds like '600s'")
    return int(m.group(1))


@dataclass(frozen=True)
class Delivery:
    """How a delivery subscription retries: what its backlog threshold is derived from.

    ``max_delivery_attempts``: attempts before dead-lettering; ``None`` when the subscription
    never dead-letters (a function trigger retries until the message expires).
    """

    edge: str
    attempt_deadline_seconds: int
    min_backoff_seconds: int
    max_backoff_seconds: int
    max_delivery_attempts: int | None

    def __post_init__(self) -> None:
        for name in ("attempt_deadline_seconds", "min_backoff_seconds", "max_backoff_seconds"):
            value = getattr(self, name)
            if not isinstance(value, int) or value < 1:
                raise ValueError(f"edge {self.edge}: {name} {value!r} must be a positive "
                                 "number of seconds")
        if self.min_backoff_seconds > self.max_backoff_seconds:
            raise ValueError(f"edge {self.edge}: min_backoff_seconds {self.min_backoff_seconds} "
                             f"exceeds max_backoff_seconds {self.max_backoff_seconds}")
        if self.max_delivery_attempts is not None and self.max_delivery_attempts < 1:
            raise ValueError(f"edge {self.edge}: max_delivery_attempts "
                             f"{self.max_delivery_attempts!r} must be at least 1 (or None)")

    @classmethod
    def of_push_edge(cls, edge: PushEdge) -> Delivery:
        """A push edge's subscription as its construct declares it."""
        p = edge.props
        return cls(p.name, p.ack_deadline_seconds,
                   seconds_of(f"edge {p.name} minimum_backoff", p.minimum_backoff),
                   seconds_of(f"edge {p.name} maximum_backoff", p.maximum_backoff),
                   p.max_delivery_attempts)

    @classmethod
    def of_function_trigger(cls, fn: CloudFunction) -> Delivery:
        """The Eventarc subscription of a function's Pub/Sub trigger (``RETRY_POLICY_RETRY``)."""
        if fn.props.trigger_topic is None:
            raise ValueError(f"function {fn.props.name}: trigger_topic is None; only a "
                             "Pub/Sub-triggered function has a delivery subscription")
        return cls(f"{fn.props.name} trigger", fn.props.timeout_seconds,
                   EVENTARC_MIN_BACKOFF_SECONDS, EVENTARC_MAX_BACKOFF_SECONDS, None)


def retry_budget(d: Delivery) -> int:
    """Seconds of backoff a message waits between its attempts before it is dead-lettered
    (``N - 1`` waits doubling from the minimum, capped at the maximum), or, with no
    dead-lettering, one wait at the maximum. See the module docstring."""
    if d.max_delivery_attempts is None:
        return d.max_backoff_seconds
    return sum(min(d.max_backoff_seconds, d.min_backoff_seconds * 2 ** k)
               for k in range(d.max_delivery_attempts - 1))


def backlog_threshold(d: Delivery) -> int:
    """Age in seconds past which the oldest unacknowledged message of ``d`` means delivery is
    stuck short of dead-lettering: one attempt at its deadline plus ``retry_budget``."""
    return d.attempt_deadline_seconds + retry_budget(d)


def backlog_detection_seconds(d: Delivery) -> int:
    """When the backlog alert of ``d`` is loud, counted from the stuck message's publication."""
    return backlog_threshold(d) + BACKLOG_DURATION_SECONDS + PUBSUB_METRIC_DELAY_SECONDS


def checked_backlog_threshold(d: Delivery) -> int:
    """``backlog_threshold(d)``; ``ValueError`` naming the edge when it cannot be loud within
    ``DETECTION_BUDGET_SECONDS``."""
    threshold = backlog_threshold(d)
    loud = backlog_detection_seconds(d)
    if loud > DETECTION_BUDGET_SECONDS:
        raise ValueError(
            f"edge {d.edge}: a stuck delivery would be loud only after {loud}s (threshold "
            f"{threshold}s = attempt deadline {d.attempt_deadline_seconds}s + retry backoff "
            f"{retry_budget(d)}s, held {BACKLOG_DURATION_SECONDS}s, visible "
            f"{PUBSUB_METRIC_DELAY_SECONDS}s later), beyond the {DETECTION_BUDGET_SECONDS}s "
            "budget; shorten its deadline, backoff or attempts")
    return threshold
