"""A Cloud Scheduler job that calls a Cloud Run target over HTTP with an OIDC token."""

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

from infra.model.wiring import Grant
from infra.synth.constructs.base import Invokable, pin_address
from infra.synth.constructs.identity import Identity, IdentityProps


@dataclass(frozen=True)
class ScheduledJobProps:
    """``body``: JSON sent as the request body (POST only); ``retry_count`` default 1."""

    name: str
    component: str
    project: str
    region: str
    schedule: str
    time_zone: str
    target: Invokable
    path: str
    identity_account_id: str
    http_method: str = "POST"
    body: str | None = None
    description: str = ""
    retry_count: int = 1
    attempt_deadline: str = "320s"


class ScheduledJob(Construct):
    def __init__(self, scope: Construct, id: str, props: ScheduledJobProps) -> None:
        super().__init__(scope, id)
        if props.body is not None and props.http_method != "POST":
            raise ValueError(f"job {props.name}: a body needs http_method POST, "
                             f"got {props.http_method}")
        self.props = props
        self.identity = Identity(self, "identity", IdentityProps(
            account_id=props.identity_account_id, component=props.component, part="identity",
            display_name=f"Scheduler identity of {props.name}", project=props.project,
        ))
        self.job = CloudSchedulerJob(
            self, "job", name=props.name, project=props.project, region=props.region,
            schedule=props.schedule, time_zone=props.time_zone, description=props.description,
            attempt_deadline=props.attempt_deadline,
            retry_config=CloudSchedulerJobRetryConfig(retry_count=props.retry_count),
            http_target=CloudSchedulerJobHttpTarget(
                uri=props.target.url(props.path), http_method=props.http_method,
                headers={"Content-Type": "application/json"} if props.body else None,
                body=base64.b64encode(props.body.encode()).decode() if props.body else None,
                oidc_token=CloudSchedulerJobHttpTargetOidcToken(
                    service_account_email=self.identity.account.email,
                    audience=props.target.audience,
                ),
            ),
        )
        self.address = pin_address(self.job, props.component, "job")
        self.grants: tuple[Grant, ...] = (props.target.grant_invoke(self.identity),)
        """What connecting the job to its target granted."""
