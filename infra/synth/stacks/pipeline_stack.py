"""``pipeline-<env>``: the whole pipeline of the manifest, rendered for one environment.

The stack only wires constructs together; every IAM grant here is a method call on the
construct that owns the target (``grant_invoke``, ``grant_publish``, ``grant_write``), and
the constructs grant what a connection needs as they are connected.
"""

from __future__ import annotations

from pathlib import Path

from cdktn import GcsBackend, TerraformOutput, TerraformStack
from cdktn_provider_google.data_google_project import DataGoogleProject
from cdktn_provider_google.provider import GoogleProvider
from constructs import Construct

from functions._shared.completion import EXPIRES_AT, TTL_SUBCOLLECTIONS
from infra.model.envs import EnvConfig
from infra.model.function_config import function_env
from infra.model.manifest import Manifest
from infra.model.naming import Names
from infra.paths import FUNCTIONS_DIR
from infra.paths import stack_name as _stack_name
from infra.synth.bundle import build_bundle
from infra.synth.constructs.alerting import AlertChannel, AlertChannelProps
from infra.synth.constructs.apis import ProjectApis
from infra.synth.constructs.base import Invokable
from infra.synth.constructs.bigquery import BigQueryDataset, DatasetProps, TableSpec
from infra.synth.constructs.bucket import BucketProps, SourceBucket
from infra.synth.constructs.firestore import Firestore, FirestoreProps
from infra.synth.constructs.function import CloudFunction, FunctionProps
from infra.synth.constructs.identity import GoogleAgent, Identity, IdentityProps
from infra.synth.constructs.push_edge import PushEdge, PushEdgeProps
from infra.synth.constructs.scheduled_job import ScheduledJob, ScheduledJobProps
from infra.synth.constructs.service import CloudRunService, ServiceProps
from infra.synth.constructs.topic import Topic, TopicProps

BUILDER_PROJECT_ROLES = ("roles/logging.logWriter", "roles/artifactregistry.writer")


def stack_name(env: EnvConfig) -> str:
    return _stack_name(env.name)


class PipelineStack(TerraformStack):
    def __init__(self, scope: Construct, manifest: Manifest, env: EnvConfig,
                 bundle_dir: Path, functions_dir: Path = FUNCTIONS_DIR) -> None:
        super().__init__(scope, stack_name(env))
        env.validate(manifest)
        self.manifest = manifest
        self.env = env
        names = Names(env)
        project = env.project_id

        GcsBackend(self, bucket=env.state_bucket, prefix=f"pipeline/{env.name}")
        GoogleProvider(self, "google", project=project, region=env.region)
        apis = ProjectApis(self, "apis", project)
        project_data = DataGoogleProject(self, "project", project_id=project)
        project_data.override_logical_id("project")
        pubsub_agent = GoogleAgent(
            member=(f"serviceAccount:service-{project_data.number}"
                    "@gcp-sa-pubsub.iam.gserviceaccount.com"),
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

        # Services, each with its own identity; publishers get publish on their topics only.
        self.services: dict[str, CloudRunService] = {}
        for svc in manifest.services:
            scaling = env.scaling_for(svc.key)
            env_vars = [("GCP_PROJECT", project), ("SPORT", env.sport)]
            env_vars += [(f"TOPIC_{t.upper().replace('-', '_')}", names.topic(t))
                         for t in svc.publishes]
            self.services[svc.key] = CloudRunService(self, f"service-{svc.key}", ServiceProps(
                name=names.service(svc), component=svc.key, project=project,
                region=env.region, image=env.images[svc.key],
                identity_account_id=names.service_account(svc),
                min_instances=scaling.min_instances, max_instances=scaling.max_instances,
                env=tuple(env_vars),
            ))
            for topic_key in svc.publishes:
                self.topics[topic_key].grant_publish(self.services[svc.key].identity)
        for svc in manifest.services:
            for callee in svc.invokes:
                self.services[callee].grant_invoke(self.services[svc.key].identity)

        # Functions: bundled from functions/<source>/ into a hash-named object.
        bucket = SourceBucket(self, "function-sources", BucketProps(
            name=names.source_bucket(), component="function_sources", project=project,
            location=env.region,
        ))
        # The documented minimum for a custom function-build identity, instead of the broad
        # roles/cloudbuild.builds.builder: write build logs, push the image, read the source.
        builder = Identity(self, "function-builder", IdentityProps(
            account_id=names.builder_account(), component="function_builder", part="identity",
            display_name="Cloud Build identity for function deploys", project=project,
        ))
        for role in BUILDER_PROJECT_ROLES:
            builder.grant_project_role(role)
        bucket.grant_read(builder)
        self.functions: dict[str, CloudFunction] = {}
        for fn in manifest.functions:
            trigger = self.topics[fn.trigger_topic] if fn.trigger_topic else None
            self.functions[fn.key] = CloudFunction(self, f"function-{fn.key}", FunctionProps(
                name=names.function(fn), component=fn.key, project=project, region=env.region,
                bundle=build_bundle(fn.source, bundle_dir, functions_dir / fn.source),
                bucket_name=bucket.name,
                entry_point=fn.entry_point, runtime_account_id=names.function_account(fn),
                build_identity=builder, runtime=fn.runtime,
                timeout_seconds=fn.timeout_seconds, memory_mb=fn.memory_mb,
                max_instances=fn.max_instances,
                env=tuple(sorted(function_env(manifest, env, fn).items())),
                trigger_topic=trigger,
                trigger_account_id=names.trigger_account(fn) if trigger else None,
                pubsub_agent=pubsub_agent if trigger else None,
            ))
            for topic_key in fn.publishes:
                self.topics[topic_key].grant_publish(self.functions[fn.key].identity)

        # Transitions: direct ones push the source topic to the target; gated ones push the
        # function's trigger topic to the target.
        self.edges: dict[str, PushEdge] = {}
        for t in manifest.transitions:
            source_topic = t.topic if t.kind == "direct" else t.trigger_topic
            assert source_topic is not None
            self.edges[t.subscription] = PushEdge(self, f"edge-{t.key}", PushEdgeProps(
                name=names.subscription(t.subscription), component=t.subscription,
                project=project, topic=self.topics[source_topic],
                target=self.services[t.target_service], path=t.path,
                identity_account_id=names.push_account(t), pubsub_agent=pubsub_agent,
                dead_letter_topic=names.dead_letter_topic(t.subscription),
                dead_letter_subscription=names.dead_letter_subscription(t.subscription),
                ack_deadline_seconds=t.ack_deadline_seconds,
                max_delivery_attempts=t.max_delivery_attempts,
            ))

        # Scheduled jobs
        for job in manifest.jobs:
            target: Invokable = (self.services[job.target] if job.target in self.services
                                 else self.functions[job.target])
            ScheduledJob(self, f"job-{job.key}", ScheduledJobProps(
                name=names.job(job), component=f"{job.key}-job", project=project,
                region=env.region, schedule=job.schedule, time_zone=job.time_zone,
                target=target, path=job.path, identity_account_id=names.job_account(job),
                http_method=job.http_method, body=job.body, description=job.description,
            ))

        # Data stores
        firestore = Firestore(self, "firestore", FirestoreProps(
            project=project, location=env.region,
            ttl_collections=tuple(sorted(
                {t.completion_collection for t in manifest.gated() if t.completion_collection}
                | set(TTL_SUBCOLLECTIONS)  # completion documents' subcollections expire too
            )),
            ttl_field=EXPIRES_AT,
        ))
        self.datasets: dict[str, BigQueryDataset] = {}
        for ds in manifest.datasets:
            self.datasets[ds.key] = BigQueryDataset(self, f"dataset-{ds.key}", DatasetProps(
                dataset_id=names.dataset(ds.key), component=f"dataset-{ds.key}",
                project=project, location="US" if env.region.startswith("us") else env.region,
                schema_key=ds.key, description=ds.description,
                tables=tuple(TableSpec(t.name, t.partition_field, t.description)
                             for t in manifest.tables if t.dataset == ds.key),
            ))
        for fn in manifest.functions:
            identity = self.functions[fn.key].identity
            if fn.role == "orchestrator":
                firestore.grant_read_write(identity)
                self.datasets["orchestration"].grant_write(identity)
            else:
                firestore.grant_read(identity)
                for edge in self.edges.values():
                    edge.grant_dead_letter_read(identity)
        for svc in manifest.services:
            phase = manifest.phase(svc.phase)
            if phase.dataset is not None:
                self.datasets[phase.dataset].grant_write(self.services[svc.key].identity)

        # Alerting
        channel = AlertChannel(self, "alerts", AlertChannelProps(
            project=project, slack_channel=env.alert_slack_channel,
            token_secret=env.alert_channel_secret,
        ))
        for alert in manifest.alerts:
            if alert.component in self.services:
                cloud_name = names.service(manifest.service(alert.component))
            else:
                cloud_name = names.function(manifest.function(alert.component))
            channel.alert_on_errors(alert.component, cloud_name, alert.auto_close_seconds)

        for key, topic in self.topics.items():
            out = TerraformOutput(self, f"output-topic-{key}", value=topic.id)
            out.override_logical_id(f"topic_{key.replace('-', '_')}")

        apis.order_before(self)
