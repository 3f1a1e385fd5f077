"""What the plan JSON tool tests share: addresses in the recorded plan fixtures, a CLI run."""

from __future__ import annotations

from typing import NamedTuple

SVC = "google_cloud_run_v2_service.phase3_analytics__service"
FUNCTION = "google_cloudfunctions2_function.phase3_to_phase4_orchestrator__function"
OLD_INVOKER = (
    "google_cloud_run_v2_service_iam_member.phase2_to_phase3_orchestrator__trigger_invoker"
)
TABLE = "google_bigquery_table.orchestration__phase_completions"


class Run(NamedTuple):
    """One in-process run of a CLI: exit code, stdout, stderr."""

    code: int
    out: str
    err: str
