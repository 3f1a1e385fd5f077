"""Identities and their grants as data, derived from the manifest and one environment.

This is the second, independent statement of who may do what: the constructs grant what a
connection needs as the stack is wired, and this module derives the same set from the
manifest alone. The policy gate (``iam.policy``) compares the synthesized stack with it, so
a grant that is widened, moved to another identity or lost shows up as a difference.

Vocabulary:

* a *member* is an IAM member string; service accounts are ``serviceAccount:<email>``, the
  Pub/Sub service agent (whose project number is only known at apply time) is
  ``PUBSUB_AGENT``;
* a *target* is what a role is granted on, named the way the cloud names it
  (``Target("pubsub.topic", "nba-phase4-trigger")``);
* a *slot* is a place where an identity acts: a service's runtime, a push subscription's
  OIDC token, a function's event trigger, a scheduler job's OIDC token, a function build.
"""

from __future__ import annotations

import base64
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Literal

from infra.cli import OneLineParser, add_env_argument
from infra.model.envs import EnvConfig, get_env
from infra.model.manifest import Manifest
from infra.model.naming import Names
from infra.model.pipeline import load

PUBSUB_AGENT = "serviceAccount:service-<project-number>@gcp-sa-pubsub.iam.gserviceaccount.com"
"""The Pub/Sub service agent of the stack's own project (``service-${project.number}@…``)."""

INVOKER = "roles/run.invoker"
PUBLISHER = "roles/pubsub.publisher"
SUBSCRIBER = "roles/pubsub.subscriber"
TOKEN_CREATOR = "roles/iam.serviceAccountTokenCreator"
DATA_EDITOR = "roles/bigquery.dataEditor"
DATASTORE_USER = "roles/datastore.user"
DATASTORE_VIEWER = "roles/datastore.viewer"
LOG_WRITER = "roles/logging.logWriter"
REGISTRY_WRITER = "roles/artifactregistry.writer"
OBJECT_VIEWER = "roles/storage.objectViewer"

TargetKind = Literal[
    "run.service",       # a Cloud Run service this stack deploys
    "function.service",  # the Cloud Run service under a gen2 function (named like it)
    "function",          # the Cloud Functions resource itself (cloudfunctions IAM)
    "pubsub.topic",
    "pubsub.subscription",
    "iam.serviceAccount",  # named by email
    "bigquery.dataset",
    "bigquery.table",
    "storage.bucket",
    "secret",
    "project",
    "other",
]

SlotKind = Literal[
    "service.runtime",    # Cloud Run service template.service_account
    "function.runtime",   # gen2 function service_config.service_account_email
    "function.trigger",   # gen2 function event_trigger.service_account_email
    "function.build",     # gen2 function build_config.service_account
    "subscription.push",  # push_config.oidc_token.service_account_email
    "job.oidc",           # Cloud Scheduler http_target.oidc_token.service_account_email
]

SHAREABLE_SLOTS: frozenset[str] = frozenset({"function.build"})
"""Slot kinds one identity may fill for several components (every function build)."""


@dataclass(frozen=True, order=True)
class Target:
    kind: TargetKind
    name: str

    def __str__(self) -> str:
        return f"{self.kind} {self.name}"


@dataclass(frozen=True, order=True)
class Grant:
    """``member`` holds ``role`` on ``target``; ``why`` says which connection needs it."""

    member: str
    role: str
    target: Target
    why: str = field(default="", compare=False)

    def __str__(self) -> str:
        return f"{short_member(self.member)} {self.role} on {self.target}"


@dataclass(frozen=True, order=True)
class Slot:
    kind: SlotKind
    component: str
    """Cloud name of the service, function, subscription or job."""

    def __str__(self) -> str:
        return f"{self.kind} of {self.component}"


@dataclass(frozen=True)
class PushEdgeSpec:
    """A push subscription as the manifest declares it (cloud names)."""

    subscription: str
    topic: str
    target: Target
    path: str
    member: str
    dead_letter_topic: str


@dataclass(frozen=True)
class TriggerSpec:
    """A function's Pub/Sub event trigger as the manifest declares it (cloud names)."""

    function: str
    topic: str
    member: str


@dataclass(frozen=True)
class JobSpec:
    """A scheduler job as the manifest declares it (cloud names)."""

    job: str
    target: Target
    path: str
    http_method: str
    member: str
    schedule: str
    time_zone: str
    body: str | None
    """The request body as sent (base64 of the manifest's JSON), ``None`` when there is none."""


@dataclass(frozen=True)
class IamData:
    """Everything ``expected()`` derives for one environment."""

    env: EnvConfig
    identities: Mapping[str, str]
    """Member → what it is (every identity the stack may grant to or act as)."""
    grants: frozenset[Grant]
    slots: Mapping[Slot, str]
    """Slot → the member that must act there."""
    edges: tuple[PushEdgeSpec, ...]
    triggers: tuple[TriggerSpec, ...]
    jobs_wiring: tuple[JobSpec, ...]
    services: frozenset[str]
    functions: frozenset[str]
    topics: frozenset[str]
    jobs: frozenset[str]
    datasets: frozenset[str]

    def grants_of(self, member: str) -> frozenset[Grant]:
        return frozenset(g for g in self.grants if g.member == member)

    def describe(self, member: str) -> str:
        return self.identities.get(member, "an identity the data does not declare")


def sa(names: Names, account_id: str) -> str:
    return f"serviceAccount:{names.email(account_id)}"


def short_member(member: str) -> str:
    """``serviceAccount:a@p.iam.gserviceaccount.com`` → ``a@p``; the agent → ``pubsub-agent``."""
    if member == PUBSUB_AGENT:
        return "pubsub-agent"
    return member.removeprefix("serviceAccount:").replace(".iam.gserviceaccount.com", "")


def completion_dataset(manifest: Manifest) -> str | None:
    """Dataset key of the ``phase_completions`` table the orchestrators dual-write to."""
    for t in manifest.tables:
        if t.name == "phase_completions":
            return t.dataset
    return None


def expected(manifest: Manifest, env: EnvConfig) -> IamData:
    """The identities, slots and grants the pipeline needs in ``env``, and nothing more."""
    names = Names(env)
    identities: dict[str, str] = {PUBSUB_AGENT: "the Pub/Sub service agent"}
    grants: set[Grant] = set()
    slots: dict[Slot, str] = {}
    triggers: list[TriggerSpec] = []
    jobs: list[JobSpec] = []

    def run_target(key: str) -> Target:
        if key in {s.key for s in manifest.services}:
            return Target("run.service", names.service(manifest.service(key)))
        return Target("function.service", names.function(manifest.function(key)))

    def add(member: str, role: str, target: Target, why: str) -> None:
        grants.add(Grant(member, role, target, why))

    for svc in manifest.services:
        member = sa(names, names.service_account(svc))
        cloud = names.service(svc)
        identities[member] = f"runtime identity of service {cloud}"
        slots[Slot("service.runtime", cloud)] = member
        for topic in svc.publishes:
            add(member, PUBLISHER, Target("pubsub.topic", names.topic(topic)),
                f"{cloud} announces completions on {names.topic(topic)}")
        for callee in svc.invokes:
            add(member, INVOKER, run_target(callee), f"{cloud} calls {callee} directly")
        dataset = manifest.phase(svc.phase).dataset
        if dataset is not None:
            add(member, DATA_EDITOR, Target("bigquery.dataset", names.dataset(dataset)),
                f"{cloud} writes {names.dataset(dataset)}")

    builder = sa(names, names.builder_account())
    identities[builder] = "Cloud Build identity of the function deploys"
    add(builder, LOG_WRITER, Target("project", env.project_id), "writes function build logs")
    add(builder, REGISTRY_WRITER, Target("project", env.project_id),
        "pushes function images to Artifact Registry")
    add(builder, OBJECT_VIEWER, Target("storage.bucket", names.source_bucket()),
        "reads function source bundles")
    orchestration = completion_dataset(manifest)
    for fn in manifest.functions:
        cloud = names.function(fn)
        runtime = sa(names, names.function_account(fn))
        identities[runtime] = f"runtime identity of function {cloud}"
        slots[Slot("function.runtime", cloud)] = runtime
        slots[Slot("function.build", cloud)] = builder
        for topic in fn.publishes:
            add(runtime, PUBLISHER, Target("pubsub.topic", names.topic(topic)),
                f"{cloud} publishes {names.topic(topic)}")
        if fn.role == "orchestrator":
            add(runtime, DATASTORE_USER, Target("project", env.project_id),
                f"{cloud} tracks completions in Firestore")
            if orchestration is not None:
                add(runtime, DATA_EDITOR,
                    Target("bigquery.dataset", names.dataset(orchestration)),
                    f"{cloud} dual-writes phase_completions")
        else:
            add(runtime, DATASTORE_VIEWER, Target("project", env.project_id),
                f"{cloud} reads completion tracking")
        if fn.trigger_topic is not None:
            trigger = sa(names, names.trigger_account(fn))
            identities[trigger] = f"event-trigger identity of function {cloud}"
            slots[Slot("function.trigger", cloud)] = trigger
            triggers.append(TriggerSpec(cloud, names.topic(fn.trigger_topic), trigger))
            add(trigger, INVOKER, Target("function.service", cloud),
                f"the {names.topic(fn.trigger_topic)} trigger delivers to {cloud}")
            add(PUBSUB_AGENT, TOKEN_CREATOR, Target("iam.serviceAccount", names.email(
                names.trigger_account(fn))), f"Pub/Sub mints OIDC tokens for {cloud}'s trigger")

    edges: list[PushEdgeSpec] = []
    for t in manifest.transitions:
        source = t.topic if t.kind == "direct" else t.trigger_topic
        assert source is not None
        sub = names.subscription(t.subscription)
        push = sa(names, names.push_account(t))
        target = run_target(t.target_service)
        dlq = names.dead_letter_topic(t.subscription)
        identities[push] = f"push identity of subscription {sub}"
        slots[Slot("subscription.push", sub)] = push
        edges.append(PushEdgeSpec(sub, names.topic(source), target, t.path, push, dlq))
        add(push, INVOKER, target, f"{sub} pushes to {target.name}{t.path}")
        add(PUBSUB_AGENT, PUBLISHER, Target("pubsub.topic", dlq), f"{sub} dead-letters to {dlq}")
        add(PUBSUB_AGENT, SUBSCRIBER, Target("pubsub.subscription", sub),
            f"Pub/Sub acknowledges dead-lettered messages of {sub}")
        add(PUBSUB_AGENT, TOKEN_CREATOR,
            Target("iam.serviceAccount", names.email(names.push_account(t))),
            f"Pub/Sub mints OIDC tokens for {sub}")
        for fn in manifest.functions:
            if fn.role == "canary":
                dlq_sub = names.dead_letter_subscription(t.subscription)
                add(sa(names, names.function_account(fn)), SUBSCRIBER,
                    Target("pubsub.subscription", dlq_sub),
                    f"{names.function(fn)} peeks at {dlq_sub} to report failing pushes")

    for job in manifest.jobs:
        cloud = names.job(job)
        member = sa(names, names.job_account(job))
        identities[member] = f"OIDC identity of scheduler job {cloud}"
        slots[Slot("job.oidc", cloud)] = member
        body = base64.b64encode(job.body.encode()).decode() if job.body else None
        jobs.append(JobSpec(cloud, run_target(job.target), job.path, job.http_method, member,
                            job.schedule, job.time_zone, body))
        add(member, INVOKER, run_target(job.target), f"{cloud} calls {job.target}{job.path}")

    return IamData(
        env=env,
        identities=MappingProxyType(identities),
        grants=frozenset(grants),
        slots=MappingProxyType(slots),
        edges=tuple(edges),
        triggers=tuple(triggers),
        jobs_wiring=tuple(jobs),
        services=frozenset(names.service(s) for s in manifest.services),
        functions=frozenset(names.function(f) for f in manifest.functions),
        topics=frozenset(names.topic(t.key) for t in manifest.topics)
        | frozenset(e.dead_letter_topic for e in edges),
        jobs=frozenset(names.job(j) for j in manifest.jobs),
        datasets=frozenset(names.dataset(d.key) for d in manifest.datasets),
    )


def table(data: IamData) -> list[tuple[str, str, str, str]]:
    """``(identity, role, target, why)`` rows, sorted."""
    return sorted((short_member(g.member), g.role, str(g.target), g.why) for g in data.grants)


def markdown(data: IamData) -> str:
    """The grant data of one environment as a Markdown table (``python -m iam.grants``)."""
    rows = [f"Grants of `{data.env.name}` ({data.env.project_id}): {len(data.grants)}", "",
            "| identity | role | target | why |", "|---|---|---|---|"]
    rows += [f"| `{m}` | `{r}` | {t} | {w} |" for m, r, t, w in table(data)]
    return "\n".join(rows) + "\n"


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m iam.grants [--env dev|prod]``: print what the data grants, and why."""
    parser = OneLineParser(prog="python -m iam.grants", description=main.__doc__, tool="grants")
    add_env_argument(parser, default="prod")
    args = parser.parse_args(argv)
    print(markdown(expected(load(), get_env(args.env))), end="")
    return 0


if __name__ == "__main__":
    sys.exit(main())
