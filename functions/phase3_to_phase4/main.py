"""Phase 3 → Phase 4 orchestrator: gate Phase 4 on every enabled Phase 3 processor.

Entry point ``handle_phase3_completion`` (CloudEvent, Pub/Sub messagePublished on the source
phase's completion topic). Each delivery carries one processor's completion message; when
the enabled set is complete for a game date, exactly one trigger is published to the Phase 4
trigger topic. Everything the code needs comes from environment variables that the stack
generates from the manifest: no processor or topic name is written here.

This file only adapts the CloudEvent to the plain functions of the package:

``config``        the environment variables (``Config.from_env``)
``cloudevent``    unwrapping a completion message from its CloudEvent (validation:
                  ``functions._shared.messages``)
``tracking``      completion records and the summary derived from them
``claim``         the trigger claim and the one publish per date
``bigquery_log``  the dual write of completions and triggers to BigQuery
``clients``       the lazily created Google clients
``handler``       one delivery, end to end (``handle_event``)

The Firestore documents are described in ``functions._shared.completion``. The runtime loads
this file from the zip root; the bundle holds this package at ``functions/phase3_to_phase4/``
and the shared one at ``functions/_shared/``, so the absolute imports below resolve to the
same code in the repository and in the deployed function.
"""

from __future__ import annotations

import datetime as dt
import os
from typing import TYPE_CHECKING

import functions_framework

from functions.phase3_to_phase4.config import Config
from functions.phase3_to_phase4.handler import handle_event

if TYPE_CHECKING:
    from cloudevents.http import CloudEvent


@functions_framework.cloud_event
def handle_phase3_completion(cloud_event: CloudEvent) -> None:
    """Cloud Functions entry point: one Pub/Sub delivery of a completion message."""
    config = Config.from_env(os.environ)
    handle_event(None, config, str(cloud_event["id"]), cloud_event.data, dt.datetime.now(dt.UTC))
