"""Per-environment configuration: the only input that differs between dev and prod.

Everything else comes from the manifest (``infra/model/pipeline.py``). Constructs never read
``os.environ``; the app picks one of these by name.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

from infra.model import limits
from infra.model.components import ManifestError, invalid_value
from infra.model.manifest import Manifest
from infra.model.naming import check_cloud_name_rules, check_cloud_names

PROJECT_RE = re.compile(r"^[a-z][a-z0-9-]{4,28}[a-z0-9]$")
SPORT_RE = re.compile(r"^[a-z]{2,5}$")
ENV_VAR_RE = re.compile(r"^[A-Z][A-Z0-9_]*$")
ENV_NAME_RE = re.compile(r"^[a-z][a-z0-9]{1,9}$")
"""An environment's name: 2-10 lowercase letters or digits, starting with a letter. It names
the stack (``pipeline-<env>``), its state prefix, CI jobs and make's word lists, so anything
else (``Prod``, ``no_such env``) can never be an environment: tests use such names as the
unknown one."""
GITHUB_VAR_RE = re.compile(r"^(?!GITHUB_)[A-Z][A-Z0-9_]*$")
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
    """One environment. A service's container image (the one a *create* starts from; later
    images come from its release path) is ``images[key]`` when given, else
    ``<image_registry>/<key>:<image_tag>``: adding a service to the manifest needs no edit
    here (``image_for``)."""

    name: str
    project_id: str
    region: str
    sport: str
    state_bucket: str
    images: Mapping[str, str]
    alert_channel_secret: str
    """Secret Manager secret holding the Slack token of the alert channel."""
    alert_slack_channel: str
    ci_planner_variable: str
    """GitHub Actions repository variable holding the service account CI plans and reviews
    drift as in this environment (``pr.yml``, ``drift.yml``; docs/operating.md, "In CI")."""
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
    ci_deployer_variable: str | None = None
    """Repository variable holding the service account ``main.yml`` applies and verifies this
    environment with (its job runs in the GitHub environment of the same name, the only subject
    the deployer admits); ``None``: CI never applies it."""

    def __post_init__(self) -> None:
        """Refuse, on construction, a name that could not be an environment (``ENV_NAME_RE``)
        and CI identities that are not repository variable names or that are shared."""
        if not isinstance(self.name, str) or not ENV_NAME_RE.match(self.name):
            raise ManifestError(f"envs[{self.name!r}].name: invalid name {self.name!r}; 2-10 "
                                "lowercase letters or digits, starting with a letter")
        for attr in ("ci_planner_variable", "ci_deployer_variable"):
            value = getattr(self, attr)
            if value is not None and not GITHUB_VAR_RE.match(value):
                raise invalid_value(f"envs[{self.name}].{attr}", value,
                                    "a GitHub Actions variable name (UPPER_SNAKE_CASE)")
        if self.ci_planner_variable == self.ci_deployer_variable:
            raise ManifestError(f"envs[{self.name}].ci_deployer_variable: the planner's "
                                "variable; CI plans and applies as different identities")

    image_registry: str = ""
    """Where services' images live (``<registry>/<service key>:<image_tag>``)."""
    image_tag: str = ""

    def image_for(self, key: str) -> str:
        """The image a create of service ``key`` starts from (see the class docstring)."""
        if key in self.images:
            return self.images[key]
        if not self.image_registry or not self.image_tag:
            raise KeyError(f"envs[{self.name}]: no image for service {key!r}: set images[{key!r}] "
                           "or image_registry and image_tag")
        return f"{self.image_registry}/{key}:{self.image_tag}"

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
        problem = limits.PROJECT_ID.problem(self.project_id)
        if problem or not PROJECT_RE.match(self.project_id):
            raise invalid_value(f"{where}.project_id", self.project_id,
                                problem or f"{limits.PROJECT_ID.kind}: {limits.PROJECT_ID.accepts}")
        if not SPORT_RE.match(self.sport):
            raise invalid_value(f"{where}.sport", self.sport, "2-5 lowercase letters, e.g. nba")
        self._validate_google_values(where)
        self._validate_images(where, manifest)
        declared = {b.key for b in manifest.buckets}
        if set(self.buckets) != declared:
            raise ManifestError(f"{where}.buckets: names {sorted(self.buckets)} but the manifest "
                                f"declares buckets {sorted(declared)}; name each one once")
        if self.alert_token_version < 1:
            raise invalid_value(f"{where}.alert_token_version", self.alert_token_version,
                                "at least 1")
        self._validate_per_service(where, {s.key for s in manifest.services})
        check_cloud_names(manifest, self)
        check_cloud_name_rules(manifest, self)
        return self

    def _validate_images(self, where: str, manifest: Manifest) -> None:
        """An image for every declared service, each a valid reference, and none for others."""
        missing = sorted(s.key for s in manifest.services if s.key not in self.images)
        if missing and not (self.image_registry and self.image_tag):
            raise ManifestError(f"{where}.images: no image for services {missing}; add one per "
                                "service key, or set image_registry and image_tag")
        if self.image_tag and not limits.IMAGE_TAG.fullmatch(self.image_tag):
            raise invalid_value(f"{where}.image_tag", self.image_tag,
                                "a tag of letters, digits, '_', '.' and '-', at most 128 "
                                "characters, not starting with '.' or '-' "
                                "(https://github.com/distribution/reference)")
        for svc in manifest.services:
            image = self.image_for(svc.key)
            problem = limits.image_problem(image)
            if problem:
                field_path = (f"{where}.images[{svc.key}]" if svc.key in self.images
                              else f"{where}.image_registry")
                raise invalid_value(field_path, image, problem)
        unknown = sorted(set(self.images) - {s.key for s in manifest.services})
        if unknown:
            raise ManifestError(f"{where}.images: unknown service keys {unknown}; declared: "
                                f"{sorted(s.key for s in manifest.services)}")

    def _validate_per_service(self, where: str, service_keys: set[str]) -> None:
        """``service_env`` and ``scaling``: declared services only, names and bounds allowed."""
        for key, extra in self.service_env.items():
            if key not in service_keys:
                raise ManifestError(f"{where}.service_env: unknown service key {key!r}")
            for var in extra:
                if not ENV_VAR_RE.match(var) or var in STACK_ENV or var.startswith(TOPIC_VAR_PREFIX):
                    raise ManifestError(
                        f"{where}.service_env[{key}]: invalid name {var!r}; UPPER_SNAKE_CASE, "
                        f"and not one the stack sets ({', '.join(STACK_ENV)}, {TOPIC_VAR_PREFIX}*)")
        for key, sc in self.scaling.items():
            if key not in service_keys:
                raise ManifestError(f"{where}.scaling: unknown service key {key!r}")
            bad = limits.scaling_problem(sc.min_instances, sc.max_instances)
            if bad:
                raise invalid_value(f"{where}.scaling[{key}].{bad[0]}", bad[1],
                                    f"{bad[2]} (bounds {sc.min_instances}..{sc.max_instances})")

    def _validate_google_values(self, where: str) -> None:
        """Every value Google reads from this config, against what it accepts
        (``infra.model.limits``, each rule citing its documentation)."""
        locations = (
            ("region", self.region, limits.CLOUD_RUN_REGIONS,
             "a Cloud Run / Cloud Functions region"),
            ("bigquery_location" if self.bigquery_location else "bigquery_location (default: "
             "region)", self.dataset_location, limits.BIGQUERY_LOCATIONS,
             "a BigQuery location: a region or the multi-region US or EU"),
            ("firestore_location" if self.firestore_location else "firestore_location "
             "(default: region)", self.database_location, limits.FIRESTORE_LOCATIONS,
             "a Firestore location: a region or the multi-region nam5, nam7 or eur3"),
        )
        for name, value, allowed, kind in locations:
            problem = limits.location_problem(value, allowed, kind)
            if problem:
                raise invalid_value(f"{where}.{name}", value, problem)
        for name, value, rule in (("state_bucket", self.state_bucket, limits.BUCKET),
                                  ("alert_channel_secret", self.alert_channel_secret,
                                   limits.SECRET_ID)):
            problem = rule.problem(value)
            if problem:
                raise invalid_value(f"{where}.{name}", value, problem)
        for key, name in self.buckets.items():
            problem = limits.BUCKET.problem(name)
            if problem:
                raise invalid_value(f"{where}.buckets[{key}]", name, problem)
        for key, image in self.images.items():
            problem = limits.image_problem(image)
            if problem:
                raise invalid_value(f"{where}.images[{key}]", image, problem)
        problem = limits.time_zone_problem(self.time_zone)
        if problem:
            raise invalid_value(f"{where}.time_zone", self.time_zone,
                                f"{problem} (the canary reads today's date in it)")


def project_env(name: str, project_id: str, *, image_tag: str, alert_slack_channel: str,
                region: str = "us-west2", sport: str = "nba",
                **settings: Any) -> EnvConfig:
    """An environment laid out by the project's conventions, each written only here: Terraform
    state in ``<project>-tfstate``, images in the ``pipeline`` Artifact Registry repository of
    ``region``, the raw bucket ``<project>-<sport>-raw``, the planner's CI variable
    ``GCP_PLAN_SERVICE_ACCOUNT_<NAME>``, and the one Slack token secret. ``settings`` are the
    remaining ``EnvConfig`` fields by name (an unknown name fails as this module loads)."""
    return EnvConfig(
        name=name, project_id=project_id, region=region, sport=sport,
        state_bucket=f"{project_id}-tfstate",
        images=MappingProxyType({}),
        image_registry=f"{region}-docker.pkg.dev/{project_id}/pipeline",
        image_tag=image_tag,
        alert_channel_secret="pipeline-alerts-slack-token",
        alert_slack_channel=alert_slack_channel,
        ci_planner_variable=f"GCP_PLAN_SERVICE_ACCOUNT_{name.upper()}",
        buckets=MappingProxyType({"raw": f"{project_id}-{sport}-raw"}),
        **settings)


ENVS: Mapping[str, EnvConfig] = MappingProxyType({
    "dev": project_env("dev", "nba-props-platform-dev", image_tag="dev",
                       alert_slack_channel="#nba-pipeline-alerts-dev"),
    # The live raw bucket's name is not in the pipeline's records: confirm the conventional
    # one from the live inventory before the first apply, and adopt that bucket.
    "prod": project_env(
        "prod", "nba-props-platform", image_tag="stable",
        alert_slack_channel="#nba-pipeline-alerts",
        ci_deployer_variable="GCP_APPLY_SERVICE_ACCOUNT_PROD",
        # BigQuery errors in the live project read "Table not found in location us-west2".
        bigquery_location="us-west2",
        scaling=MappingProxyType({
            "phase3-analytics-processors": Scaling(min_instances=0, max_instances=20),
            "prediction-worker": Scaling(min_instances=0, max_instances=50),
        })),
})
if any(key != env.name for key, env in ENVS.items()):
    raise ManifestError("envs: each key must be its environment's name")


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
