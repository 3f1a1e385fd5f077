"""The pipeline's wiring in one environment: every edge, trigger, job and grant, decided once.

Derived from the manifest and the environment (cloud names through ``infra.model.naming``).
Every consumer reads this one value instead of deriving its own copy: the stack makes one
construct grant call per ``Grant`` it does not get from a construct connection
(``infra.synth.stacks.pipeline_stack``), ``python -m infra.verify`` checks each grant and each
edge on the live project, ``iam.grants`` hands it to the policy gate, and the local runtime
names dead letters through it.

Its vocabulary (members, targets, slots, ``Grant``, the roles and ``ROLE_ACCESS``) is
``infra.model.permissions``, imported from there by everything that uses it.
"""

from __future__ import annotations

import base64
from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType

from infra.model.components import Function, Transition
from infra.model.envs import EnvConfig
from infra.model.manifest import Manifest
from infra.model.naming import Names
from infra.model.permissions import (
    BUILD_SOURCE_CONDITION,
    BUILDER_PROJECT_ROLES,
    DATA_EDITOR,
    DATA_VIEWER,
    INVOKER,
    JOB_USER,
    OBJECT_USER,
    OBJECT_VIEWER,
    PUBLISHER,
    PUBSUB_AGENT,
    ROLE_ACCESS,
    SUBSCRIBER,
    TOKEN_CREATOR,
    Grant,
    GrantedBy,
    MemberLookup,
    Slot,
    Target,
)


@dataclass(frozen=True)
class PushEdge:
    """A push subscription (cloud names) and the dead-letter pair that comes with it."""

    key: str
    """The transition key (``phase2-to-phase3``)."""
    component: str
    """The manifest's subscription key: the construct's address prefix."""
    subscription: str
    topic: str
    topic_key: str
    target: Target
    target_key: str
    path: str
    member: str
    """``serviceAccount:<push identity>``."""
    account_id: str
    dead_letter_topic: str
    dead_letter_subscription: str
    ack_deadline_seconds: int
    max_delivery_attempts: int


@dataclass(frozen=True)
class Announcements:
    """The canary's own pull subscription on a gated transition's source topic (cloud names):
    what the upstream phase announced, read without the orchestrator."""

    key: str
    """The gated transition's key (``phase3-to-phase4``)."""
    component: str
    """The construct's address prefix (``<transition>-canary``)."""
    subscription: str
    topic: str
    topic_key: str
    ack_deadline_seconds: int = 60
    retention: str = "604800s"
    """Unacknowledged announcements are kept 7 days (Pub/Sub's maximum default)."""


@dataclass(frozen=True)
class Trigger:
    """A function's Pub/Sub event trigger (cloud names)."""

    function: str
    function_key: str
    topic: str
    topic_key: str
    member: str
    account_id: str


@dataclass(frozen=True)
class Job:
    """A scheduler job (cloud names); ``body`` is what is sent: base64 of the JSON, or None."""

    job: str
    key: str
    target: Target
    target_key: str
    path: str
    http_method: str
    member: str
    account_id: str
    schedule: str
    time_zone: str
    body: str | None



@dataclass(frozen=True)
class Wiring(MemberLookup):
    """Everything ``derive()`` decides for one environment."""

    env: EnvConfig
    identities: Mapping[str, str]
    """Member → what it is (every identity the stack may grant to or act as)."""
    grants: tuple[Grant, ...]
    """Each grant once, in the order the stack makes them."""
    slots: Mapping[Slot, str]
    """Slot → the member that must act there."""
    edges: tuple[PushEdge, ...]
    triggers: tuple[Trigger, ...]
    jobs: tuple[Job, ...]
    services: tuple[str, ...]
    """Cloud names, in manifest order (likewise ``functions``, ``topics``, ``datasets``)."""
    functions: tuple[str, ...]
    topics: tuple[str, ...]
    """Every topic the stack declares: the manifest's, then each edge's dead-letter topic."""
    datasets: tuple[str, ...]
    buckets: tuple[str, ...] = ()
    """The manifest's data buckets (cloud names); the function-source bucket is not one."""
    announcements: tuple[Announcements, ...] = ()
    """One per gated transition when a function's role watches announcements."""

    def grants_by(self, by: GrantedBy) -> tuple[Grant, ...]:
        return tuple(g for g in self.grants if g.by == by)

    def edge(self, subscription: str) -> PushEdge:
        """The edge whose subscription (or dead-letter subscription) is ``subscription``."""
        for e in self.edges:
            if subscription in (e.subscription, e.dead_letter_subscription):
                return e
        raise KeyError(f"subscription {subscription!r} is no push edge's (edges: "
                       f"{', '.join(e.subscription for e in self.edges)})")


def sa(names: Names, account_id: str) -> str:
    return f"serviceAccount:{names.email(account_id)}"



def completion_dataset(manifest: Manifest) -> str | None:
    """Dataset key of the ``phase_completions`` table the orchestrators dual-write to."""
    for t in manifest.tables:
        if t.name == "phase_completions":
            return t.dataset
    return None


def source_topic(t: Transition) -> str:
    """The topic key a transition's push subscription listens on.

    Direct: the source phase's completion topic; gated: the function's trigger topic.
    """
    topic = t.topic if t.kind == "direct" else t.trigger_topic
    assert topic is not None  # the manifest validates gated transitions
    return topic


class _Builder:
    """Collects one environment's wiring; ``derive()`` is its only caller."""

    def __init__(self, manifest: Manifest, env: EnvConfig) -> None:
        self.manifest = manifest
        self.env = env
        self.names = Names(env)
        self.identities: dict[str, str] = {PUBSUB_AGENT: "the Pub/Sub service agent"}
        self.grants: dict[Grant, Grant] = {}
        self.slots: dict[Slot, str] = {}

    def run_target(self, key: str) -> Target:
        if key in {s.key for s in self.manifest.services}:
            return Target("run.service", self.names.service(self.manifest.service(key)))
        return Target("function.service", self.names.function(self.manifest.function(key)))

    def add(self, member: str, role: str, target: Target, why: str,
            by: GrantedBy = "stack", condition: str = "") -> None:
        self.grants.setdefault(Grant(member, role, target, condition=condition),
                               Grant(member, role, target, why, by, condition=condition))

    def account(self, account_id: str, what: str) -> str:
        member = sa(self.names, account_id)
        self.identities[member] = what
        return member

    def topic(self, key: str) -> Target:
        return Target("pubsub.topic", self.names.topic(key))

    def project(self) -> Target:
        return Target("project", self.env.project_id)

    def dataset(self, key: str) -> Target:
        return Target("bigquery.dataset", self.names.dataset(key))

    def bucket(self, key: str) -> Target:
        return Target("storage.bucket", self.names.bucket(key))

    # The grants are kept in the order ``derive`` calls the methods below: the order the
    # stack makes its grant calls in.

    def services(self) -> None:
        """Each service's grants, from what the manifest says its code does."""
        for svc in self.manifest.services:
            cloud = self.names.service(svc)
            member = self.account(self.names.service_account(svc),
                                  f"runtime identity of service {cloud}")
            self.slots[Slot("service.runtime", cloud)] = member
            for topic in svc.publishes:
                self.add(member, PUBLISHER, self.topic(topic),
                         f"{cloud} announces completions on {self.names.topic(topic)}")
        for svc in self.manifest.services:
            for callee in svc.invokes:
                self.add(sa(self.names, self.names.service_account(svc)), INVOKER,
                         self.run_target(callee),
                         f"{self.names.service(svc)} calls {callee} directly")

    def service_data(self) -> None:
        for svc in self.manifest.services:
            cloud = self.names.service(svc)
            member = sa(self.names, self.names.service_account(svc))
            if svc.runs_queries:
                self.add(member, JOB_USER, self.project(), f"{cloud} runs BigQuery jobs")
            for role, target, keys, verb in (
                    (DATA_VIEWER, self.dataset, svc.reads, "reads"),
                    (DATA_EDITOR, self.dataset, svc.writes, "writes"),
                    (OBJECT_VIEWER, self.bucket, svc.reads_buckets, "reads"),
                    (OBJECT_USER, self.bucket, svc.writes_buckets, "writes (and overwrites)")):
                for key in keys:
                    self.add(member, role, target(key), f"{cloud} {verb} {target(key).name}")

    def builder(self) -> str:
        builder = self.account(self.names.builder_account(),
                               "Cloud Build identity of the function deploys")
        whys = ("writes function build logs", "pushes function images to Artifact Registry",
                "reads and writes the function source copy in gcf-v2-sources-<number>-<region> "
                "(conditioned on those buckets)")
        for role, why in zip(BUILDER_PROJECT_ROLES, whys, strict=True):
            self.add(builder, role, self.project(), why, "function_builder",
                     BUILD_SOURCE_CONDITION[1] if role == OBJECT_USER else "")
        return builder

    def functions(self, builder: str) -> list[Trigger]:
        triggers: list[Trigger] = []
        for fn in self.manifest.functions:
            cloud = self.names.function(fn)
            runtime = self.account(self.names.function_account(fn),
                                   f"runtime identity of function {cloud}")
            self.slots[Slot("function.runtime", cloud)] = runtime
            self.slots[Slot("function.build", cloud)] = builder
            if fn.trigger_topic is not None:
                triggers.append(self.trigger(fn, cloud))
            for topic in fn.publishes:
                self.add(runtime, PUBLISHER, self.topic(topic),
                         f"{cloud} publishes {self.names.topic(topic)}")
        return triggers

    def trigger(self, fn: Function, cloud: str) -> Trigger:
        assert fn.trigger_topic is not None
        account_id = self.names.trigger_account(fn)
        member = self.account(account_id, f"event-trigger identity of function {cloud}")
        self.slots[Slot("function.trigger", cloud)] = member
        topic = self.names.topic(fn.trigger_topic)
        # Eventarc's push subscription mints OIDC tokens as the trigger identity.
        self.add(PUBSUB_AGENT, TOKEN_CREATOR, Target("iam.serviceAccount",
                                                     self.names.email(account_id)),
                 f"Pub/Sub mints OIDC tokens for {cloud}'s trigger", "function")
        self.add(member, INVOKER, Target("function.service", cloud),
                 f"the {topic} trigger delivers to {cloud}", "function")
        return Trigger(cloud, fn.key, topic, fn.trigger_topic, member, account_id)

    def edges(self) -> list[PushEdge]:
        edges: list[PushEdge] = []
        for t in self.manifest.transitions:
            sub = self.names.subscription(t.subscription)
            account_id = self.names.push_account(t)
            push = self.account(account_id, f"push identity of subscription {sub}")
            self.slots[Slot("subscription.push", sub)] = push
            target = self.run_target(t.target_service)
            edge = PushEdge(
                key=t.key, component=t.subscription, subscription=sub,
                topic=self.names.topic(source_topic(t)), topic_key=source_topic(t),
                target=target, target_key=t.target_service, path=t.path, member=push,
                account_id=account_id,
                dead_letter_topic=self.names.dead_letter_topic(t.subscription),
                dead_letter_subscription=self.names.dead_letter_subscription(t.subscription),
                ack_deadline_seconds=t.ack_deadline_seconds,
                max_delivery_attempts=t.max_delivery_attempts,
            )
            edges.append(edge)
            dlq = edge.dead_letter_topic
            # Without the agent's publisher and subscriber grants dead-lettering silently
            # does nothing; without token creator it cannot sign the push.
            self.add(PUBSUB_AGENT, PUBLISHER, Target("pubsub.topic", dlq),
                     f"{sub} dead-letters to {dlq}", "push_edge")
            self.add(PUBSUB_AGENT, SUBSCRIBER, Target("pubsub.subscription", sub),
                     f"Pub/Sub acknowledges dead-lettered messages of {sub}", "push_edge")
            self.add(PUBSUB_AGENT, TOKEN_CREATOR,
                     Target("iam.serviceAccount", self.names.email(account_id)),
                     f"Pub/Sub mints OIDC tokens for {sub}", "push_edge")
            self.add(push, INVOKER, target, f"{sub} pushes to {target.name}{t.path}",
                     "push_edge")
        return edges

    def jobs(self) -> list[Job]:
        jobs: list[Job] = []
        for job in self.manifest.jobs:
            cloud = self.names.job(job)
            account_id = self.names.job_account(job)
            member = self.account(account_id, f"OIDC identity of scheduler job {cloud}")
            self.slots[Slot("job.oidc", cloud)] = member
            body = base64.b64encode(job.body.encode()).decode() if job.body else None
            target = self.run_target(job.target)
            jobs.append(Job(cloud, job.key, target, job.target, job.path, job.http_method,
                            member, account_id, job.schedule, job.time_zone, body))
            self.add(member, INVOKER, target, f"{cloud} calls {job.target}{job.path}",
                     "scheduled_job")
        return jobs

    def announcements(self) -> list[Announcements]:
        """The canary's pull subscription of each gated transition's source topic, when a
        function's role watches announcements."""
        if not any(ROLE_ACCESS[fn.role].watches_announcements for fn in self.manifest.functions):
            return []
        return [Announcements(key=t.key, component=f"{t.key}-canary",
                              subscription=self.names.canary_subscription(t.key),
                              topic=self.names.topic(t.topic), topic_key=t.topic)
                for t in self.manifest.gated()]

    def state(self, edges: list[PushEdge], announcements: list[Announcements]) -> None:
        """Firestore, the completion dataset, dead letters and announcements, by
        ``ROLE_ACCESS``."""
        orchestration = completion_dataset(self.manifest)
        for fn in self.manifest.functions:
            cloud = self.names.function(fn)
            runtime = sa(self.names, self.names.function_account(fn))
            access = ROLE_ACCESS[fn.role]
            self.add(runtime, access.firestore_role, self.project(),
                     f"{cloud} tracks completions in Firestore" if access.writes_completions
                     else f"{cloud} reads completion tracking and records announcements"
                     if access.watches_announcements
                     else f"{cloud} reads completion tracking")
            if access.writes_completions and orchestration is not None:
                self.add(runtime, DATA_EDITOR, self.dataset(orchestration),
                         f"{cloud} dual-writes phase_completions")
            if access.reads_dead_letters:
                for e in edges:
                    self.add(runtime, SUBSCRIBER,
                             Target("pubsub.subscription", e.dead_letter_subscription),
                             f"{cloud} peeks at {e.dead_letter_subscription} to report "
                             "failing pushes")
            if access.watches_announcements:
                for a in announcements:
                    self.add(runtime, SUBSCRIBER, Target("pubsub.subscription", a.subscription),
                             f"{cloud} pulls what {a.topic} announced to report a silent "
                             f"{a.key} gate")
        self.service_data()


def derive(manifest: Manifest, env: EnvConfig) -> Wiring:
    """The identities, slots, edges and grants the pipeline needs in ``env``, and nothing more."""
    b = _Builder(manifest, env)
    names = b.names
    b.services()
    builder = b.builder()
    triggers = b.functions(builder)
    edges = b.edges()
    jobs = b.jobs()
    announcements = b.announcements()
    b.state(edges, announcements)
    return Wiring(
        env=env,
        identities=MappingProxyType(b.identities),
        grants=tuple(b.grants.values()),
        slots=MappingProxyType(b.slots),
        edges=tuple(edges),
        triggers=tuple(triggers),
        jobs=tuple(jobs),
        services=tuple(names.service(s) for s in manifest.services),
        functions=tuple(names.function(f) for f in manifest.functions),
        topics=tuple(names.topic(t.key) for t in manifest.topics)
        + tuple(e.dead_letter_topic for e in edges),
        datasets=tuple(names.dataset(d.key) for d in manifest.datasets),
        buckets=tuple(names.bucket(b.key) for b in manifest.buckets),
        announcements=tuple(announcements),
    )
