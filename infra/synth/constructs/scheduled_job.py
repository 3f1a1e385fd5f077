"""A Cloud Scheduler job that calls a Cloud Run target over HTTP with an OIDC token.

The attempt deadline is derived from the target's request timeout, never written by hand: a
deadline shorter than the timeout makes Scheduler give up on a request that is still running
and retry it, so a long backfill runs twice at once for one date (duplicate rows). With the
deadline past the timeout, Cloud Run has ended the first attempt (504) before Scheduler can
retry, and the retry waits ``min_backoff_seconds`` more. Scheduler allows HTTP deadlines of
15 s to 30 minutes (provider doc website/docs/r/cloud_scheduler_job.html.markdown,
``attempt_deadline``), so a target slower than that cannot be scheduled.
"""

from __future__ import annotations

import base64
from dataclasses import dataclass

from cdktn_provider_google.cloud_scheduler_job import (
    CloudSchedulerJob,
    CloudSchedulerJobHttpTarget,
    CloudSchedulerJobHttpTargetOidcToken,
    CloudSchedulerJobRetryConfig,
)
from constructs import Construct

from infra.model.permissions import Grant
from infra.synth.constructs.base import Invokable, StackConstruct
from infra.synth.constructs.identity import Identity


@dataclass(frozen=True)
class ScheduledJobProps:
    """``body``: JSON sent as the request body (POST only); ``retry_count`` default 1, the
    retry ``min_backoff_seconds`` after a failed attempt (default 60)."""

    name: str
    """The job's cloud name (``<sport>-<key>``); also names the OIDC identity's display name."""
    component: str
    """Address prefix: resources are ``<type>.<component>__<part>`` (``-`` becomes ``_``)."""
    project: str
    """The GCP project id the resources are created in."""
    region: str
    """Scheduler location of the job (the env's region)."""
    schedule: str
    """Cron expression (``*/15 * * * *``), read in ``time_zone``."""
    time_zone: str
    """IANA zone name (``Etc/UTC``, ``America/New_York``)."""
    target: Invokable
    """The service or function called; its request timeout sets the attempt deadline and
    it grants the job's identity the invoker role."""
    path: str
    """Appended to the target's URI (``/run``)."""
    identity_account_id: str
    """Account id of the service account the job creates for itself and calls as (its
    OIDC token, audience the target's)."""
    http_method: str = "POST"
    """Any method but ``POST`` refuses a ``body``."""
    body: str | None = None
    description: str = ""
    """Shown in the Scheduler console; empty: none."""
    retry_count: int = 1
    min_backoff_seconds: int = 60


MIN_DEADLINE_SECONDS = 15
MAX_DEADLINE_SECONDS = 30 * 60
DEADLINE_MARGIN_SECONDS = 30
"""Past the target's timeout: time for a cold start and the response to come back."""


def attempt_deadline(name: str, target_timeout_seconds: int) -> int:
    """Seconds Scheduler waits for one attempt on a target with this request timeout.

    Raises ``ValueError`` naming the job when the target may take longer than Scheduler's
    30-minute maximum for HTTP targets.
    """
    if target_timeout_seconds > MAX_DEADLINE_SECONDS:
        raise ValueError(f"job {name}: the target's timeout {target_timeout_seconds}s exceeds "
                         f"Scheduler's {MAX_DEADLINE_SECONDS}s attempt deadline for HTTP "
                         "targets; shorten the target's timeout or trigger it another way")
    return max(MIN_DEADLINE_SECONDS,
               min(target_timeout_seconds + DEADLINE_MARGIN_SECONDS, MAX_DEADLINE_SECONDS))


class ScheduledJob(StackConstruct):
    def __init__(self, scope: Construct, id: str, props: ScheduledJobProps) -> None:
        super().__init__(scope, id)
        if props.body is not None and props.http_method != "POST":
            raise ValueError(f"job {props.name}: a body needs http_method POST, "
                             f"got {props.http_method}")
        self.props = props
        self.identity = Identity.own(self, props, "Scheduler identity")
        self.job = CloudSchedulerJob(
            self, "job", name=props.name, project=props.project, region=props.region,
            schedule=props.schedule, time_zone=props.time_zone, description=props.description,
            attempt_deadline=f"{attempt_deadline(props.name, props.target.timeout_seconds)}s",
            retry_config=CloudSchedulerJobRetryConfig(
                retry_count=props.retry_count,
                min_backoff_duration=f"{props.min_backoff_seconds}s",
            ),
            http_target=CloudSchedulerJobHttpTarget(
                uri=props.target.url(props.path), http_method=props.http_method,
                headers={"Content-Type": "application/json"} if props.body else None,
                body=base64.b64encode(props.body.encode()).decode() if props.body else None,
                oidc_token=CloudSchedulerJobHttpTargetOidcToken(
                    service_account_email=self.identity.email_ref,
                    audience=props.target.audience,
                ),
            ),
        )
        self.address = self.pin(self.job, props.component, "job")
        self.identity.acts_for(self.job)
        self.grants: tuple[Grant, ...] = (props.target.grant_invoke(self.identity),)
        """What connecting the job to its target granted."""
