"""Per-environment configuration: the only input that differs between dev and prod.

Everything else comes from the manifest (``infra/model/pipeline.py``). Constructs never read
``os.environ``; the app picks one of these by name.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType

from infra.model.manifest import Manifest, ManifestError

PROJECT_RE = re.compile(r"^[a-z][a-z0-9-]{4,28}[a-z0-9]$")
SPORT_RE = re.compile(r"^[a-z]{2,5}$")
ENV_VAR_RE = re.compile(r"^[A-Z][A-Z0-9_]*$")
STACK_ENV = ("GCP_PROJECT", "SPORT")
"""Variables the stack gives every service itself (and ``TOPIC_<KEY>`` per published topic;
``EnvConfig.service_vars``)."""
TOPIC_VAR_PREFIX = "TOPIC_"


def topic_var(topic_key: str) -> str:
    """``phase2-raw-complete`` → ``TOPIC_PHASE2_RAW_COMPLETE``: a published topic's variable."""
    return TOPIC_VAR_PREFIX + topic_key.upper().replace("-", "_")


@dataclass(frozen=True)
class Scaling:
    """Cloud Run instance bounds. Default: scale to zero, at most 10 instances."""

    min_instances: int = 0
    max_instances: int = 10


@dataclass(frozen=True)
class EnvConfig:
    """One environment. ``images`` maps every service key to its container image."""

    name: str
    project_id: str
    region: str
    sport: str
    state_bucket: str
    images: Mapping[str, str]
    alert_channel_secret: str
    """Secret Manager secret holding the Slack token of the alert channel."""
    alert_slack_channel: str
    scaling: Mapping[str, Scaling] = field(default_factory=dict)
    """Per service key; services not listed get ``Scaling()``."""
    time_zone: str = "America/New_York"
    bigquery_location: str | None = None
    """Location of every dataset (and so of its tables); default: ``region``. The provider
    replaces a dataset whose location changes, so it must be the live one."""
    firestore_location: str | None = None
    """``location_id`` of the Firestore database; default: ``region``. Forces replacement too."""
    buckets: Mapping[str, str] = field(default_factory=dict)
    """Bucket key of the manifest → its cloud name (global, so per environment)."""
    alert_token_version: int = 1
    """Version of the write-only alert token; bump it after rotating the secret."""
    service_env: Mapping[str, Mapping[str, str]] = field(default_factory=dict)
    """Per service key: plain (never secret) environment variables the service's code reads
    beyond the stack's own (``GCP_PROJECT``, ``SPORT``, ``TOPIC_*``). The stack owns a service's
    whole env list, so a variable the live service needs is declared here or the next apply
    removes it. Default: none."""
    alert_channel_display_name: str | None = None
    """The notification channel's display name; default ``Pipeline alerts <slack channel>``.
    Set it to a live channel's display name to adopt that channel instead of adding one."""

    @property
    def dataset_location(self) -> str:
        return self.bigquery_location or self.region

    @property
    def database_location(self) -> str:
        return self.firestore_location or self.region

    def scaling_for(self, service_key: str) -> Scaling:
        return self.scaling.get(service_key, Scaling())

    def service_vars(self, service_key: str,
                     topics: Mapping[str, str]) -> tuple[tuple[str, str], ...]:
        """The complete environment of service ``service_key``: ``STACK_ENV``, then
        ``TOPIC_<KEY>`` per topic it publishes (``topics``: key → cloud name), then its
        ``service_env``."""
        return (("GCP_PROJECT", self.project_id), ("SPORT", self.sport),
                *((topic_var(k), cloud) for k, cloud in topics.items()),
                *sorted(self.service_env.get(service_key, {}).items()))

    def validate(self, manifest: Manifest) -> EnvConfig:
        """Raise ``ManifestError`` naming the field when this config cannot serve ``manifest``."""
        where = f"envs[{self.name}]"
        if not PROJECT_RE.match(self.project_id):
            raise ManifestError(f"{where}.project_id: invalid value {self.project_id!r}; "
                                "6-30 chars of [a-z0-9-]")
        if not SPORT_RE.match(self.sport):
            raise ManifestError(f"{where}.sport: invalid value {self.sport!r}; 2-5 lowercase "
                                "letters, e.g. nba")
        missing = sorted(s.key for s in manifest.services if s.key not in self.images)
        if missing:
            raise ManifestError(f"{where}.images: no image for services {missing}; add one per "
                                "service key")
        unknown = sorted(set(self.images) - {s.key for s in manifest.services})
        if unknown:
            raise ManifestError(f"{where}.images: unknown service keys {unknown}; declared: "
                                f"{sorted(s.key for s in manifest.services)}")
        declared = {b.key for b in manifest.buckets}
        if set(self.buckets) != declared:
            raise ManifestError(f"{where}.buckets: names {sorted(self.buckets)} but the manifest "
                                f"declares buckets {sorted(declared)}; name each one once")
        if self.alert_token_version < 1:
            raise ManifestError(f"{where}.alert_token_version: invalid value "
                                f"{self.alert_token_version!r}; at least 1")
        for key, extra in self.service_env.items():
            if key not in self.images:
                raise ManifestError(f"{where}.service_env: unknown service key {key!r}")
            for var in extra:
                if not ENV_VAR_RE.match(var) or var in STACK_ENV or var.startswith(TOPIC_VAR_PREFIX):
                    raise ManifestError(
                        f"{where}.service_env[{key}]: invalid name {var!r}; UPPER_SNAKE_CASE, "
                        f"and not one the stack sets ({', '.join(STACK_ENV)}, {TOPIC_VAR_PREFIX}*)")
        for key, sc in self.scaling.items():
            if key not in self.images:
                raise ManifestError(f"{where}.scaling: unknown service key {key!r}")
            if not 0 <= sc.min_instances <= sc.max_instances:
                raise ManifestError(f"{where}.scaling[{key}]: invalid bounds "
                                    f"{sc.min_instances}..{sc.max_instances}; need 0 <= min <= max")
        from infra.model.naming import check_cloud_names  # naming imports this module

        check_cloud_names(manifest, self)
        return self


def _images(registry: str, tag: str) -> Mapping[str, str]:
    keys = (
        "phase1-scrapers", "phase2-raw-processors", "phase3-analytics-processors",
        "phase4-precompute-processors", "prediction-coordinator", "prediction-worker",
    )
    return MappingProxyType({k: f"{registry}/{k}:{tag}" for k in keys})


ENVS: Mapping[str, EnvConfig] = MappingProxyType({
    "dev": EnvConfig(
        name="dev",
        project_id="nba-props-platform-dev",
        region="us-west2",
        sport="nba",
        state_bucket="nba-props-platform-dev-tfstate",
        images=_images("us-west2-docker.pkg.dev/nba-props-platform-dev/pipeline", "dev"),
        alert_channel_secret="pipeline-alerts-slack-token",
        alert_slack_channel="#nba-pipeline-alerts-dev",
        buckets=MappingProxyType({"raw": "nba-props-platform-dev-nba-raw"}),
    ),
    "prod": EnvConfig(
        name="prod",
        project_id="nba-props-platform",
        region="us-west2",
        sport="nba",
        state_bucket="nba-props-platform-tfstate",
        images=_images("us-west2-docker.pkg.dev/nba-props-platform/pipeline", "stable"),
        alert_channel_secret="pipeline-alerts-slack-token",
        alert_slack_channel="#nba-pipeline-alerts",
        # BigQuery errors in the live project read "Table not found in location us-west2".
        bigquery_location="us-west2",
        # <project>-<sport>-raw; the live raw bucket's name is not in the pipeline's records:
        # confirm it from the live inventory before the first apply and adopt that bucket.
        buckets=MappingProxyType({"raw": "nba-props-platform-nba-raw"}),
        scaling=MappingProxyType({
            "phase3-analytics-processors": Scaling(min_instances=0, max_instances=20),
            "prediction-worker": Scaling(min_instances=0, max_instances=50),
        }),
    ),
})


def unknown_env(name: str) -> str | None:
    """``None`` when ``name`` is a known environment, else the one line that says so.

    The single check of an environment name: every command line (``--env``) and the
    Makefile (``python -m infra.cli check-env``) use it before anything runs.
    """
    if name in ENVS:
        return None
    return f"unknown environment {name!r}; known: {', '.join(sorted(ENVS))}"


def get_env(name: str) -> EnvConfig:
    """The config of environment ``name``; a clear error lists the known ones."""
    message = unknown_env(name)
    if message is not None:
        raise ManifestError(f"env: {message}")
    return ENVS[name]
