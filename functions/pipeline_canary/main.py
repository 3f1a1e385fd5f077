"""Pipeline canary: find stalled triggers, configuration drift and stale completion tracking.

HTTP entry point ``check_pipeline_health``, called every 15 minutes by Cloud Scheduler. It
first pulls what each gated transition's source phase announced from the canary's own
subscription (``announcements``: recorded in ``canary_announcements``, then acknowledged).
Then, for today and yesterday (in ``CANARY_TIMEZONE``) and each gated transition of
``GATED_TRANSITIONS``, it compares those announcements with the orchestrator's Firestore
documents (described in ``functions._shared.completion``) and reports the findings of
``findings``: a silent orchestrator, stalled triggers, configuration drift, stale tracking
and dead letters.

The response is always HTTP 200 with a JSON report ``{"healthy": bool, "findings": [...]}``:
a finding is not a failure of the canary, and a non-2xx answer would only make Cloud
Scheduler retry the same check. A configuration error raises (HTTP 500). Nothing is healed
here; ``python -m functions.pipeline_canary.reconcile --fix`` rewrites stale summaries.

This file only adapts the HTTP request to the plain functions of the package: ``config``
(the environment), ``state`` (one date's documents and where its summary is stale),
``announcements`` (pulling, recording and comparing what was announced), ``dead_letters``,
``health`` (``check_health``, whose clock ``now`` is a parameter) and ``clients``. The runtime loads it from
the zip root; the bundle holds this package at ``functions/pipeline_canary/`` and the shared
one at ``functions/_shared/``, so the absolute imports below resolve to the same code in the
repository and in the deployed function.
"""

from __future__ import annotations

import datetime as dt
import json
import os
from typing import TYPE_CHECKING, Any

import functions_framework

from functions.pipeline_canary.announcements import PubSubFeed
from functions.pipeline_canary.clients import get_db, get_subscriber
from functions.pipeline_canary.config import CanaryConfig
from functions.pipeline_canary.dead_letters import peek_dead_letters
from functions.pipeline_canary.health import check_health

if TYPE_CHECKING:
    import flask

# What callers that load this file as served (the local pipeline's tests) use besides the
# entry point.
__all__ = ["CanaryConfig", "PubSubFeed", "check_health", "check_pipeline_health"]


@functions_framework.http
def check_pipeline_health(request: flask.Request) -> tuple[str, int, dict[str, str]]:
    """Cloud Functions entry point: always 200 with the JSON report (see the module doc)."""
    config = CanaryConfig.from_env(os.environ)
    subscriber = get_subscriber()
    peek = None
    if config.dead_letters:

        def peek(path: str) -> list[dict[str, Any]]:
            return peek_dead_letters(subscriber, path)

    report = check_health(get_db(config.project), config, dt.datetime.now(dt.UTC), peek,
                          PubSubFeed(subscriber))
    body = json.dumps(report.to_dict(), default=str)
    return body, 200, {"Content-Type": "application/json"}
