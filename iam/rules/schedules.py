"""Schedules: a scheduler job waits for its target to finish before it retries."""

from __future__ import annotations

import re
from collections.abc import Iterator

from iam.rules.engine import PROVIDER_DOCS, Context, Finding, rule
from iam.rules.helpers import http_jobs
from infra.stackjson.graph import StackGraph
from infra.stackjson.stack import first

MAX_HTTP_DEADLINE = 30 * 60
DEFAULT_HTTP_DEADLINE = 180
"""Scheduler's attempt deadline for HTTP targets when none is set."""
DEFAULT_RUN_TIMEOUT = 300
DEFAULT_FUNCTION_TIMEOUT = 60


def seconds(value: object, default: int) -> int | None:
    """``"540s"`` → 540, a number → itself, unset → ``default``; ``None`` when unreadable."""
    if value is None or value == "":
        return default
    if isinstance(value, int | float):
        return int(value)
    m = re.fullmatch(r"(\d+)(?:\.\d+)?s", str(value).strip())
    return int(m.group(1)) if m else None


def target_timeout(g: StackGraph, address: str) -> int | None:
    """The request timeout of the service or function at ``address``, in seconds."""
    body = g.body(address)
    if address.startswith("google_cloudfunctions2_function."):
        return seconds(first(body.get("service_config")).get("timeout_seconds"),
                       DEFAULT_FUNCTION_TIMEOUT)
    return seconds(first(body.get("template")).get("timeout"), DEFAULT_RUN_TIMEOUT)


@rule("SCHED-001", "A scheduler job's deadline covers its target's timeout",
      see=PROVIDER_DOCS + "resources/cloud_scheduler_job",
      fix="derive attempt_deadline from the target's timeout (ScheduledJob does)")
def deadline_covers_timeout(ctx: Context) -> Iterator[Finding]:
    """When an attempt's deadline passes, Scheduler marks it failed and retries, even though
    the target may still be working: a deadline below the target's request timeout runs a
    long backfill twice at once for the same date (duplicate rows). Scheduler allows HTTP
    deadlines of 15 seconds to 30 minutes, so the target's timeout must fit in that too."""
    g = ctx.graph
    for job, _, ep in http_jobs(g):
        if ep.target is None or ep.target.address is None:
            continue
        deadline = seconds(job.body.get("attempt_deadline"), DEFAULT_HTTP_DEADLINE)
        timeout = target_timeout(g, ep.target.address)
        if deadline is None or timeout is None:
            yield Finding(job.address, f"attempt_deadline {job.body.get('attempt_deadline')!r} "
                          "or the target's timeout is not a duration in seconds")
        elif deadline > MAX_HTTP_DEADLINE:
            yield Finding(job.address, f"attempt_deadline {deadline}s exceeds Scheduler's "
                          f"{MAX_HTTP_DEADLINE}s maximum for HTTP targets")
        elif deadline < timeout:
            yield Finding(job.address, f"attempt_deadline {deadline}s is shorter than "
                          f"{ep.target.target}'s {timeout}s timeout: Scheduler retries while "
                          "the first attempt still runs")
