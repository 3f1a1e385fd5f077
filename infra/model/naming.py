"""Cloud names and service-account ids: ``<sport>-<key>``, no random suffixes."""

from __future__ import annotations

from dataclasses import dataclass

from infra.model.envs import EnvConfig
from infra.model.manifest import (
    Function,
    Manifest,
    ManifestError,
    ScheduledJob,
    Service,
    Transition,
)


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

    def canary_subscription(self, transition_key: str) -> str:
        """The canary's own pull subscription on a gated transition's source topic."""
        return prefixed(self.sport, f"{transition_key}-canary-sub")

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

    def bucket(self, key: str) -> str:
        """A data bucket's cloud name, from the environment config (bucket names are global)."""
        return self.env.buckets[key]

    def source_bucket(self) -> str:
        return f"{self.env.project_id}-function-sources"

    def email(self, account_id: str) -> str:
        return f"{account_id}@{self.env.project_id}.iam.gserviceaccount.com"


def cloud_names(manifest: Manifest, env: EnvConfig) -> dict[str, list[tuple[str, str]]]:
    """Per resource kind, ``(manifest field, cloud name)`` of every resource of that kind.

    A gen2 function is deployed as a Cloud Run service of the same name, so functions and
    services share one namespace; dead-letter topics and subscriptions share theirs with the
    declared topics and push subscriptions.
    """
    n = Names(env)
    run = [(f"services[{i}]", n.service(s)) for i, s in enumerate(manifest.services)]
    run += [(f"functions[{i}]", n.function(f)) for i, f in enumerate(manifest.functions)]
    topics = [(f"topics[{i}]", n.topic(t.key)) for i, t in enumerate(manifest.topics)]
    topics += [(f"transitions[{i}] dead-letter topic", n.dead_letter_topic(t.subscription))
               for i, t in enumerate(manifest.transitions)]
    subs = [(f"transitions[{i}].subscription", n.subscription(t.subscription))
            for i, t in enumerate(manifest.transitions)]
    subs += [(f"transitions[{i}] dead-letter subscription",
              n.dead_letter_subscription(t.subscription))
             for i, t in enumerate(manifest.transitions)]
    subs += [(f"transitions[{i}] canary subscription", n.canary_subscription(t.key))
             for i, t in enumerate(manifest.transitions) if t.kind == "gated"]
    return {
        "Cloud Run service (services and gen2 functions)": run,
        "Cloud Scheduler job": [(f"jobs[{i}]", n.job(j)) for i, j in enumerate(manifest.jobs)],
        "Pub/Sub topic": topics,
        "Pub/Sub subscription": subs,
    }


def check_cloud_names(manifest: Manifest, env: EnvConfig) -> None:
    """``ManifestError`` naming the first cloud name two resources of one kind share."""
    for kind, entries in cloud_names(manifest, env).items():
        seen: dict[str, str] = {}
        for where, name in entries:
            if name in seen:
                raise ManifestError(f"{where}: invalid value {name!r}; the {kind} name is "
                                    f"already used by {seen[name]} in env {env.name}; cloud "
                                    "names must be unique per kind (set another key or "
                                    "cloud_name)")
            seen[name] = where
