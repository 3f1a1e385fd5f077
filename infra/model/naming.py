"""Cloud names and service-account ids: ``<sport>-<key>``, no random suffixes."""

from __future__ import annotations

from dataclasses import dataclass

from infra.model.envs import EnvConfig
from infra.model.manifest import Function, ScheduledJob, Service, Transition


def prefixed(sport: str, key: str) -> str:
    """``<sport>-<key>``: the cloud name of a topic, subscription or job."""
    return f"{sport}-{key}"


def key_of(sport: str, cloud_name: str) -> str:
    """The key in ``<sport>-<key>`` (inverse of ``prefixed``); other names are their own key."""
    return cloud_name.removeprefix(f"{sport}-")


@dataclass(frozen=True)
class Names:
    env: EnvConfig

    @property
    def sport(self) -> str:
        return self.env.sport

    def topic(self, key: str) -> str:
        return prefixed(self.sport, key)

    def subscription(self, key: str) -> str:
        return prefixed(self.sport, key)

    def dead_letter_topic(self, key: str) -> str:
        return f"{self.subscription(key)}-dlq"

    def dead_letter_subscription(self, key: str) -> str:
        return f"{self.subscription(key)}-dlq-sub"

    def service(self, svc: Service) -> str:
        return svc.cloud_name or f"{self.sport}-{svc.key}"

    def function(self, fn: Function) -> str:
        return fn.cloud_name or f"{self.sport}-{fn.key}"

    def job(self, job: ScheduledJob) -> str:
        return job.cloud_name or prefixed(self.sport, job.key)

    def dataset(self, key: str) -> str:
        return f"{self.sport}_{key}"

    def service_account(self, svc: Service) -> str:
        return f"{self.sport}-run-{svc.short}"

    def function_account(self, fn: Function) -> str:
        return f"{self.sport}-fn-{fn.short}"

    def trigger_account(self, fn: Function) -> str:
        return f"{self.sport}-trg-{fn.short}"

    def push_account(self, t: Transition) -> str:
        return f"{self.sport}-push-{t.key}"

    def job_account(self, job: ScheduledJob) -> str:
        return f"{self.sport}-job-{job.short}"

    def builder_account(self) -> str:
        return f"{self.sport}-fn-builder"

    def source_bucket(self) -> str:
        return f"{self.env.project_id}-function-sources"

    def email(self, account_id: str) -> str:
        return f"{account_id}@{self.env.project_id}.iam.gserviceaccount.com"
