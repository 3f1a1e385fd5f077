"""``pipeline-<env>``: the whole pipeline of the manifest, rendered for one environment.

The stack only wires constructs together. Who gets which grant is decided once, in
``infra.model.wiring``: the constructs grant what a connection needs as they are connected
(push edges, function triggers, scheduled jobs), and the stack makes every other grant of
the wiring through the ``grant_*`` method of the construct that owns the target. Grant
methods return what they granted, so the stack refuses to synthesize when the grants made
differ from the wiring's.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

from cdktn import GcsBackend, TerraformOutput, TerraformStack
from cdktn_provider_google.data_google_project import DataGoogleProject
from cdktn_provider_google.provider import GoogleProvider
from constructs import Construct

from functions._shared.completion import ANNOUNCEMENTS, EXPIRES_AT, TTL_SUBCOLLECTIONS
from infra.model.adoption import Record
from infra.model.envs import EnvConfig
from infra.model.function_config import function_env
from infra.model.manifest import Manifest
from infra.model.naming import Names
from infra.model.permissions import (
    DATASTORE_USER,
    DATASTORE_VIEWER,
    JOB_USER,
    Grant,
    Target,
)
from infra.model.wiring import Wiring, derive
from infra.paths import FUNCTIONS_DIR
from infra.paths import stack_name as _stack_name
from infra.synth.bundle import build_bundle
from infra.synth.constructs.alerting import AlertChannel, AlertChannelProps
from infra.synth.constructs.apis import ProjectApis
from infra.synth.constructs.base import (
    Granter,
    Invokable,
    Principal,
    add_depends_on,
    batched_depends_on,
    import_existing,
    index_of,
    keep_live,
    logical_id,
    ref,
    resource_type,
)
from infra.synth.constructs.bigquery import BigQueryDataset, DatasetProps
from infra.synth.constructs.bucket import Bucket, BucketProps
from infra.synth.constructs.builder import FunctionBuilder, FunctionBuilderProps
from infra.synth.constructs.dashboard import (
    DashboardProps,
    PipelineDashboard,
    pipeline_dashboard,
)
from infra.synth.constructs.firestore import Firestore, FirestoreProps
from infra.synth.constructs.function import CloudFunction, FunctionProps
from infra.synth.constructs.identity import GoogleAgent, Identity
from infra.synth.constructs.monitoring import MonitoringProps, PipelineMonitoring
from infra.synth.constructs.propagation import PropagationWait
from infra.synth.constructs.pull_subscription import PullSubscription, PullSubscriptionProps
from infra.synth.constructs.push_edge import PushEdge, PushEdgeProps
from infra.synth.constructs.scheduled_job import ScheduledJob, ScheduledJobProps
from infra.synth.constructs.service import CloudRunService, ServiceProps
from infra.synth.constructs.topic import Topic, TopicProps

REQUIRED_TERRAFORM = ">= 1.11"
"""The alert token is an ephemeral resource (Terraform 1.10) fed to a write-only attribute
(1.11); older releases fail on it."""


def seconds(duration: str) -> int:
    """``"540s"`` → 540 (Cloud Run and Pub/Sub durations); ``ValueError`` naming the value."""
    if not duration.endswith("s") or not duration[:-1].isdigit():
        raise ValueError(f"duration {duration!r} is not whole seconds like '540s'")
    return int(duration[:-1])


def stack_name(env: EnvConfig) -> str:
    return _stack_name(env.name)


class PipelineStack(TerraformStack):
    def __init__(self, scope: Construct, manifest: Manifest, env: EnvConfig,
                 bundle_dir: Path, functions_dir: Path = FUNCTIONS_DIR,
                 imports: Mapping[str, str] | None = None, record: Record | None = None) -> None:
        """``record``: the adoption record (``infra/adoption/<env>.json``): imports of
        declared resources that already exist, the live values kept, the live services of
        adopted functions; ``imports`` alone is a record of imports only. Default none, so
        everything is created."""
        super().__init__(scope, stack_name(env))
        # Each resource's depends_on is written once, at the end (see batched_depends_on).
        with batched_depends_on():
            self._build(manifest, env, bundle_dir, functions_dir,
                        record or Record(imports=imports or {}))

    def _build(self, manifest: Manifest, env: EnvConfig, bundle_dir: Path, functions_dir: Path,
               record: Record) -> None:
        # Write-only attributes (the alert token) need Terraform 1.11.
        self.add_override("terraform.required_version", REQUIRED_TERRAFORM)
        env.validate(manifest)
        self.manifest = manifest
        self.env = env
        self.wiring = derive(manifest, env)
        names = Names(env)
        project = env.project_id

        GcsBackend(self, bucket=env.state_bucket, prefix=f"pipeline/{env.name}")
        GoogleProvider(self, "google", project=project, region=env.region)
        apis = ProjectApis(self, "apis", project)
        project_data = DataGoogleProject(self, "project", project_id=project)
        project_data.override_logical_id("project")
        project_number = ref(f"data.{resource_type(project_data)}.project", "number")
        pubsub_agent = GoogleAgent(
            member=f"serviceAccount:service-{project_number}@gcp-sa-pubsub.iam.gserviceaccount.com",
            component="pubsub_agent",
        )

        # Topics
        self.topics: dict[str, Topic] = {
            t.key: Topic(self, f"topic-{t.key}", TopicProps(
                name=names.topic(t.key), component=t.key, project=project,
                labels=(("pipeline", env.sport),),
            ))
            for t in manifest.topics
        }

        # Services, each with its own identity. A service another service calls takes all
        # traffic: its callers have no VPC egress, so Cloud Run counts their calls as
        # external (see infra.synth.constructs.service); its invoker members guard it.
        called = {key for svc in manifest.services for key in svc.invokes}
        self.services: dict[str, CloudRunService] = {}
        for svc in manifest.services:
            scaling = env.scaling_for(svc.key)
            # A kept live timeout is the service's timeout: its callers' deadlines follow it.
            live_timeout = record.kept.get(f"google_cloud_run_v2_service.{logical_id(svc.key, 'service')}",
                                           {}).get("template.timeout")
            self.services[svc.key] = CloudRunService(self, f"service-{svc.key}", ServiceProps(
                name=names.service(svc), component=svc.key, project=project,
                region=env.region, image=env.image_for(svc.key),
                identity_account_id=names.service_account(svc),
                min_instances=scaling.min_instances, max_instances=scaling.max_instances,
                env=env.service_vars(svc.key, {t: names.topic(t) for t in svc.publishes}),
                timeout_seconds=(seconds(live_timeout) if isinstance(live_timeout, str)
                                 else svc.timeout_seconds),
                ingress=("INGRESS_TRAFFIC_ALL" if svc.key in called
                         else "INGRESS_TRAFFIC_INTERNAL_ONLY"),
            ))

        # Functions: bundled from functions/<source>/ into a hash-named object.
        bucket = Bucket(self, "function-sources", BucketProps(
            name=names.source_bucket(), component="function_sources", project=project,
            location=env.region,
        ))
        builder = FunctionBuilder(self, "function-builder", FunctionBuilderProps(
            account_id=names.builder_account(), project=project,
        ))
        self.functions: dict[str, CloudFunction] = {}
        for fn in manifest.functions:
            trigger = self.topics[fn.trigger_topic] if fn.trigger_topic else None
            fn_address = f"google_cloudfunctions2_function.{logical_id(fn.key, 'function')}"
            live_fn_timeout = record.kept.get(fn_address, {}).get("service_config.timeout_seconds")
            self.functions[fn.key] = CloudFunction(self, f"function-{fn.key}", FunctionProps(
                name=names.function(fn), component=fn.key, project=project, region=env.region,
                bundle=build_bundle(fn.source, bundle_dir, functions_dir / fn.source),
                bucket_name=bucket.name,
                entry_point=fn.entry_point, runtime_account_id=names.function_account(fn),
                build_identity=builder, runtime=fn.runtime,
                timeout_seconds=(live_fn_timeout if isinstance(live_fn_timeout, int)
                                 else fn.timeout_seconds), memory_mb=fn.memory_mb,
                max_instances=fn.max_instances,
                env=tuple(sorted(function_env(manifest, env, fn).items())),
                trigger_topic=trigger,
                trigger_account_id=names.trigger_account(fn) if trigger else None,
                pubsub_agent=pubsub_agent if trigger else None,
                description=fn.description,
                live_service=record.services.get(fn_address),
            ))

        # Push edges: direct transitions push the source topic to the target; gated ones push
        # the function's trigger topic to the target.
        self.edges: dict[str, PushEdge] = {}
        for e in self.wiring.edges:
            self.edges[e.component] = PushEdge(self, f"edge-{e.key}", PushEdgeProps(
                name=e.subscription, component=e.component, project=project,
                topic=self.topics[e.topic_key], target=self.services[e.target_key],
                path=e.path, identity_account_id=e.account_id, pubsub_agent=pubsub_agent,
                dead_letter_topic=e.dead_letter_topic,
                dead_letter_subscription=e.dead_letter_subscription,
                ack_deadline_seconds=e.ack_deadline_seconds,
                max_delivery_attempts=e.max_delivery_attempts,
            ))

        # The canary's own pull subscription on each gated transition's source topic: what the
        # upstream phase announced, read without the orchestrator (which may never run).
        self.announcements: dict[str, PullSubscription] = {
            a.key: PullSubscription(self, f"announcements-{a.key}", PullSubscriptionProps(
                name=a.subscription, component=a.component, project=project,
                topic=self.topics[a.topic_key], ack_deadline_seconds=a.ack_deadline_seconds,
                retention=a.retention,
            ))
            for a in self.wiring.announcements
        }

        # Scheduled jobs
        jobs: list[ScheduledJob] = []
        for job in manifest.jobs:
            target: Invokable = (self.services[job.target] if job.target in self.services
                                 else self.functions[job.target])
            jobs.append(ScheduledJob(self, f"job-{job.key}", ScheduledJobProps(
                name=names.job(job), component=f"{job.key}-job", project=project,
                region=env.region, schedule=job.schedule, time_zone=job.time_zone,
                target=target, path=job.path, identity_account_id=names.job_account(job),
                http_method=job.http_method, body=job.body, description=job.description,
            )))

        # Data stores
        firestore = Firestore(self, "firestore", FirestoreProps(
            project=project, location=env.database_location,
            ttl_collections=tuple(sorted(
                {t.completion_collection for t in manifest.gated() if t.completion_collection}
                | set(TTL_SUBCOLLECTIONS)  # completion documents' subcollections expire too
                | ({ANNOUNCEMENTS} if self.wiring.announcements else set())
            )),
            ttl_field=EXPIRES_AT,
        ))
        self.datasets: dict[str, BigQueryDataset] = {}
        for ds in manifest.datasets:
            self.datasets[ds.key] = BigQueryDataset(self, f"dataset-{ds.key}", DatasetProps(
                dataset_id=names.dataset(ds.key), component=f"dataset-{ds.key}",
                project=project, location=env.dataset_location,
                description=ds.description,
                tables=tuple(t for t in manifest.tables if t.dataset == ds.key),
            ))

        # Data buckets (the scrapers' raw files), protected like every data store.
        self.buckets: dict[str, Bucket] = {
            b.key: Bucket(self, f"bucket-{b.key}", BucketProps(
                name=names.bucket(b.key), component=f"bucket-{b.key}", project=project,
                location=env.region, protected=True,
            ))
            for b in manifest.buckets
        }

        # Every grant no construct connection made, then the proof that together they are
        # exactly the wiring's.
        self.firestore = firestore
        self.bucket = bucket
        self.builder = builder
        granted = list(builder.grants)
        granted += [g for edge in self.edges.values() for g in edge.grants]
        granted += [g for fn in self.functions.values() for g in fn.grants]
        granted += [g for job in jobs for g in job.grants]
        granters = self._granters()
        granted += [self._grant(g, granters) for g in self.wiring.grants_by("stack")]
        check_grants(self.wiring, granted)
        self._wait_for_propagation(granted)

        # Alerting
        channel = AlertChannel(self, "alerts", AlertChannelProps(
            project=project, slack_channel=env.alert_slack_channel,
            token_secret=env.alert_channel_secret, token_version=env.alert_token_version,
            display_name=env.alert_channel_display_name,
        ))
        for alert in manifest.alerts:
            if alert.component in self.services:
                cloud_name = names.service(manifest.service(alert.component))
            else:
                cloud_name = names.function(manifest.function(alert.component))
            channel.alert_on_errors(alert.component, cloud_name, alert.auto_close_seconds,
                                    alert.display_name)
        # Silences, watched from outside the component that broke, every threshold derived
        # from the stack's own constructs (infra.synth.constructs.monitoring): each push
        # edge's backlog age and dead letters, each Pub/Sub trigger's backlog age, each
        # scheduler job's failed runs, the canary's heartbeat; the dashboard from the wiring.
        monitoring = PipelineMonitoring(self, "monitoring", MonitoringProps(
            project=project, channel=channel))
        built = list(index_of(self).constructs)
        for edge in (n for n in built if isinstance(n, PushEdge)):
            monitoring.alert_on_backlog(edge)
            monitoring.alert_on_dead_letters(edge)
        for fn_construct in (n for n in built if isinstance(n, CloudFunction)):
            if fn_construct.props.trigger_topic is not None:
                monitoring.alert_on_trigger_backlog(fn_construct)
        scheduled = [n for n in built if isinstance(n, ScheduledJob)]
        for job_construct in scheduled:
            monitoring.alert_on_job_failures(job_construct)
        for fn in manifest.functions:
            if fn.role != "canary":
                continue
            canary = self.functions[fn.key]
            runs = [j for j in scheduled if j.props.target is canary]
            if len(runs) != 1:
                raise ValueError(f"function {canary.props.name}: the canary's heartbeat needs "
                                 "exactly one scheduler job calling it, found "
                                 f"{[j.props.name for j in runs]}")
            monitoring.alert_on_missing_heartbeat(canary, runs[0])
        PipelineDashboard(self, "dashboard", DashboardProps(
            project=project, layout=pipeline_dashboard(manifest, self.wiring)))

        for key, topic in self.topics.items():
            out = TerraformOutput(self, f"output-topic-{key}", value=topic.id)
            out.override_logical_id(f"topic_{key.replace('-', '_')}")

        apis.order_before(self)
        import_existing(self, record.imports)
        keep_live(self, record.kept)

    def _identities(self) -> list[Identity]:
        return sorted((c for c in index_of(self).constructs if isinstance(c, Identity)),
                      key=lambda i: i.address)

    def _wait_for_propagation(self, granted: Sequence[Grant]) -> None:
        """Every resource acting as an identity waits for the identity's grants (made to it,
        or on it: the agent's token creator) to propagate; see
        ``infra.synth.constructs.propagation``."""
        for identity in self._identities():
            mine = {g.address for g in granted if g.address and (
                g.member == identity.literal_member
                or (g.target.kind == "iam.serviceAccount" and g.target.name == identity.email))}
            waits: dict[tuple[str, ...], str] = {}
            for resource, excluded in identity.users:
                wanted = tuple(sorted(mine - excluded))
                if not wanted:
                    continue
                if wanted not in waits:
                    part = f"{identity.props.part}_grants_propagated"
                    waits[wanted] = PropagationWait(
                        identity, f"propagated-{len(waits)}", identity.props.component,
                        part + (f"_{len(waits) + 1}" if waits else ""), wanted).address
                add_depends_on(resource, {waits[wanted]})

    def _principal(self, member: str) -> Principal:
        principals: list[Principal] = [self.builder.identity]
        principals += [s.identity for s in self.services.values()]
        principals += [f.identity for f in self.functions.values()]
        for p in principals:
            if p.literal_member == member:
                return p
        raise ValueError(f"stack {self.node.id}: the wiring grants to {member}, which no "
                         "service, function or build identity of the stack is")

    def _granters(self) -> dict[tuple[Target, str], Granter]:
        """What each construct of the stack grants on its own resource (``granters``); raises
        ``ValueError`` when two constructs claim one (target, role)."""
        found: dict[tuple[Target, str], Granter] = {}
        for construct in index_of(self).constructs:
            for key, granter in construct.granters().items():
                if key in found:
                    raise ValueError(f"stack {self.node.id}: two constructs grant {key[1]} on "
                                     f"{key[0]}")
                found[key] = granter
        return found

    def _grant(self, grant: Grant, granters: Mapping[tuple[Target, str], Granter]) -> Grant:
        """Make ``grant`` through the construct owning its target (``granters``, collected once
        by ``_granters``); return what it granted."""
        principal = self._principal(grant.member)
        granter = granters.get((grant.target, grant.role))
        if granter is not None:
            return granter(principal)
        kind, name, role = grant.target.kind, grant.target.name, grant.role
        if kind == "project" and name == self.env.project_id and isinstance(principal, Identity):
            if role == DATASTORE_USER:
                return self.firestore.grant_read_write(principal)
            if role == DATASTORE_VIEWER:
                return self.firestore.grant_read(principal)
            if role == JOB_USER:
                return principal.grant_project_role(role)
        raise ValueError(f"stack {self.node.id}: no construct grants {grant} ({grant.why})")


def check_grants(wiring: Wiring, granted: list[Grant]) -> None:
    """Raise ``ValueError`` naming each grant made but not wired, or wired but not made."""
    made, wired = set(granted), set(wiring.grants)
    extra = sorted(str(g) for g in made - wired)
    missing = sorted(str(g) for g in wired - made)
    if extra or missing:
        raise ValueError(f"pipeline-{wiring.env.name}: the constructs granted "
                         f"{', '.join(extra) or 'nothing extra'} beyond the wiring and left out "
                         f"{', '.join(missing) or 'nothing'}; grant through infra.model.wiring")
