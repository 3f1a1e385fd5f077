"""The BigQuery dual write: each new completion and each trigger as one row.

Rows go to ``BQ_COMPLETIONS_TABLE`` with deterministic insert ids, so monitors query BigQuery,
not Firestore; an empty variable skips the write, and a failure is logged at ERROR and never
blocks the trigger.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from functions._shared.completion import Tally
from functions._shared.logs import log
from functions._shared.messages import Completion
from functions.phase3_to_phase4.clients import Clients
from functions.phase3_to_phase4.config import Config


def write_rows(
    clients: Clients, config: Config, rows: list[dict[str, Any]], row_ids: list[str]
) -> None:
    """Dual-write rows to BigQuery; failures are logged at ERROR and never raised."""
    table = config.bq_table_id
    if not table or clients.rows is None:
        log("DEBUG", "BQ_COMPLETIONS_TABLE is empty; skipping the BigQuery dual write")
        return
    try:
        errors = clients.rows.insert_rows(table, rows, row_ids)
    except Exception as exc:
        log("ERROR", f"BigQuery insert into {table} failed: {exc!r}", row_ids=row_ids)
        return
    if errors:
        log("ERROR", f"BigQuery insert into {table} rejected rows", errors=errors, row_ids=row_ids)


# Rows follow the declared table schema (infra/model/schemas/orchestration/phase_completions.json);
# a test keeps them within it.


def completion_row(
    config: Config, completion: Completion, t: Tally, now: dt.datetime
) -> tuple[dict[str, Any], str]:
    """One ``event = completion`` row and its deterministic insert id."""
    phase = completion.phase or config.source_phase
    row = {
        "game_date": completion.game_date,
        "phase": phase,
        "transition": config.transition,
        "processor_name": completion.processor,
        "event": "completion",
        "status": completion.status,
        "expected": completion.processor in config.expected_processors,
        "completed_count": len(t.completed),
        "expected_count": len(t.expected),
        "is_triggered": False,
        "trigger_reason": None,
        "trigger_message_id": None,
        "execution_id": completion.execution_id,
        "correlation_id": completion.correlation_id,
        "record_count": completion.record_count,
        "recorded_at": now.isoformat(),
    }
    row_id = f"{completion.game_date}:{phase}:{completion.processor}"
    if not completion.succeeded:
        row_id += f":{completion.status}"
    return row, row_id


def trigger_row(
    config: Config, completion: Completion, t: Tally, message_id: str | None, now: dt.datetime
) -> tuple[dict[str, Any], str]:
    """One ``event = trigger`` row (``message_id``: the published trigger's) and its
    deterministic insert id."""
    row = {
        "game_date": completion.game_date,
        "phase": config.source_phase,
        "transition": config.transition,
        "processor_name": None,
        "event": "trigger",
        "status": "triggered",
        "expected": None,
        "completed_count": len(t.completed),
        "expected_count": len(t.expected),
        "is_triggered": True,
        "trigger_reason": "all_expected_processors_complete",
        "trigger_message_id": message_id,
        "execution_id": None,
        "correlation_id": completion.correlation_id,
        "record_count": None,
        "recorded_at": now.isoformat(),
    }
    return row, f"{completion.game_date}:{config.transition}:trigger"
