"""Cloud names and service-account ids: ``<sport>-<key>``, no random suffixes.

Names are derived from the manifest and the few values of an environment ``NamingEnv``
lists; ``infra.model.envs.EnvConfig`` is one, and its ``validate`` checks the names derived
here (``check_cloud_names``, ``check_cloud_name_rules``), so this module reads an environment
through that protocol and never imports ``infra.model.envs``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Protocol, TypeVar

from infra.model import limits
from infra.model.components import Function, ManifestError, ScheduledJob, Service, Transition, invalid_value
from infra.model.manifest import Manifest


def prefixed(sport: str, key: str) -> str:
    """``<sport>-<key>``: the cloud name of a topic, subscription or job."""
    return f"{sport}-{key}"


def key_of(sport: str, cloud_name: str) -> str:
    """The key in ``<sport>-<key>`` (inverse of ``prefixed``); other names are their own key."""
    return cloud_name.removeprefix(f"{sport}-")


class NamingEnv(Protocol):
    """What naming reads of an environment (``infra.model.envs.EnvConfig``)."""

    @property
    def name(self) -> str: ...

    @property
    def sport(self) -> str: ...

    @property
    def project_id(self) -> str: ...

    @property
    def state_bucket(self) -> str: ...

    @property
    def buckets(self) -> Mapping[str, str]:
        """Bucket key of the manifest → its cloud name."""
        ...


@dataclass(frozen=True)
class Names:
    env: NamingEnv

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
        return self._declared_name(svc)

    def function(self, fn: Function) -> str:
        return self._declared_name(fn)

    def job(self, job: ScheduledJob) -> str:
        return self._declared_name(job)

    def _declared_name(self, item: Service | Function | ScheduledJob) -> str:
        """A service's, function's or job's cloud name: its ``cloud_name``, else
        ``<sport>-<key>``."""
        return item.cloud_name or prefixed(self.sport, item.key)

    def dataset(self, key: str) -> str:
        return f"{self.sport}_{key}"

    def service_account(self, svc: Service) -> str:
        return self._account("run", svc.short)

    def function_account(self, fn: Function) -> str:
        return self._account("fn", fn.short)

    def trigger_account(self, fn: Function) -> str:
        return self._account("trg", fn.short)

    def push_account(self, t: Transition) -> str:
        return self._account("push", t.key)

    def job_account(self, job: ScheduledJob) -> str:
        return self._account("job", job.short)

    def builder_account(self) -> str:
        return self._account("fn", "builder")

    def _account(self, kind: str, short: str) -> str:
        """A service account id: ``<sport>-<kind>-<short>``; Google allows 6-30 characters
        (``infra.model.item_checks.check_short`` bounds ``short``)."""
        return f"{self.sport}-{kind}-{short}"

    def bucket(self, key: str) -> str:
        """A data bucket's cloud name, from the environment config (bucket names are global)."""
        return self.env.buckets[key]

    def source_bucket(self) -> str:
        return f"{self.env.project_id}-function-sources"

    def email(self, account_id: str) -> str:
        return f"{account_id}@{self.env.project_id}.iam.gserviceaccount.com"


def cloud_names(manifest: Manifest, env: NamingEnv) -> dict[str, list[tuple[str, str]]]:
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


def check_cloud_names(manifest: Manifest, env: NamingEnv) -> None:
    """``ManifestError`` naming the first cloud name two resources of one kind share."""
    for kind, entries in cloud_names(manifest, env).items():
        seen: dict[str, str] = {}
        for where, name in entries:
            if name in seen:
                raise invalid_value(where, name, f"the {kind} name is already used by "
                                    f"{seen[name]} in env {env.name}; cloud names must be "
                                    "unique per kind (set another key or cloud_name)")
            seen[name] = where


def named_resources(manifest: Manifest, env: NamingEnv
                    ) -> list[tuple[str, str, str, limits.NameRule]]:
    """Every name this environment gives a resource, as it will be in the cloud:
    ``(manifest or env field it derives from, that field's value, cloud name, Google's rule)``.
    """
    n = Names(env)
    where = f"envs[{env.name}]"
    out: list[tuple[str, str, str, limits.NameRule]] = [
        (f"{where}.sport (the function builder's account)", env.sport, n.builder_account(),
         limits.SERVICE_ACCOUNT),
        (f"{where}.project_id (the function source bucket)", env.project_id, n.source_bucket(),
         limits.BUCKET),
    ]
    out += _component_names("services", manifest.services, n.service, limits.CLOUD_RUN_SERVICE,
                            (n.service_account,))
    out += _component_names("functions", manifest.functions, n.function, limits.FUNCTION,
                            (n.function_account, n.trigger_account))
    out += _component_names("jobs", manifest.jobs, n.job, limits.SCHEDULER_JOB, (n.job_account,))
    for i, topic in enumerate(manifest.topics):
        out.append((f"topics[{i}].key", topic.key, n.topic(topic.key), limits.PUBSUB))
    for i, t in enumerate(manifest.transitions):
        sub = f"transitions[{i}].subscription"
        out.append((sub, t.subscription, n.subscription(t.subscription), limits.PUBSUB))
        out.append((sub, t.subscription, n.dead_letter_topic(t.subscription), limits.PUBSUB))
        out.append((sub, t.subscription, n.dead_letter_subscription(t.subscription),
                    limits.PUBSUB))
        out.append((f"transitions[{i}].key", t.key, n.push_account(t), limits.SERVICE_ACCOUNT))
        if t.kind == "gated":
            out.append((f"transitions[{i}].key", t.key, n.canary_subscription(t.key),
                        limits.PUBSUB))
    for i, d in enumerate(manifest.datasets):
        out.append((f"datasets[{i}].key", d.key, n.dataset(d.key), limits.BIGQUERY_DATASET))
    return out


Named = TypeVar("Named", Service, Function, ScheduledJob)


def _component_names(field: str, items: Sequence[Named], cloud_name: Callable[[Named], str],
                     rule: limits.NameRule, accounts: Sequence[Callable[[Named], str]]
                     ) -> list[tuple[str, str, str, limits.NameRule]]:
    """``named_resources`` of the services, functions or jobs ``items`` (manifest ``field``):
    each one's cloud name (derived from ``cloud_name`` when set, else from ``key``) and the
    ids of its service ``accounts`` (derived from ``short``)."""
    out: list[tuple[str, str, str, limits.NameRule]] = []
    for i, item in enumerate(items):
        where = f"{field}[{i}]"
        named_by = "cloud_name" if item.cloud_name else "key"
        out.append((f"{where}.{named_by}", item.cloud_name or item.key, cloud_name(item), rule))
        out += [(f"{where}.short", item.short, account(item), limits.SERVICE_ACCOUNT)
                for account in accounts]
    return out


def check_cloud_name_rules(manifest: Manifest, env: NamingEnv) -> None:
    """``ManifestError`` naming the field whose derived cloud name Google would refuse
    (``<sport>-<key>`` too long, ...), and refusing two service accounts or buckets with one
    name (``check_cloud_names`` covers the other kinds)."""
    seen: dict[tuple[str, str], str] = {}
    for field, value, name, rule in named_resources(manifest, env):
        problem = rule.problem(name)
        if problem:
            raise ManifestError(f"{field}: invalid value {value!r} (cloud name {name!r} in "
                                f"envs[{env.name}]); {problem}")
        if rule in (limits.SERVICE_ACCOUNT, limits.BUCKET):
            other = seen.setdefault((rule.kind, name), field)
            if other != field:
                raise invalid_value(field, value, f"{rule.kind} {name!r} is already used by "
                                    f"{other} in envs[{env.name}]: each must be unique")
    buckets = {env.state_bucket: f"envs[{env.name}].state_bucket",
               Names(env).source_bucket(): f"envs[{env.name}].project_id (function sources)"}
    for key, name in env.buckets.items():
        other = buckets.setdefault(name, f"envs[{env.name}].buckets[{key}]")
        if other != f"envs[{env.name}].buckets[{key}]":
            raise invalid_value(f"envs[{env.name}].buckets[{key}]", name,
                                f"the bucket name is already used by {other}: each bucket is its own")
