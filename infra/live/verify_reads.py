"""What ``infra.live.verify`` reads of the live project, and how a check reports.

``LiveProject`` reads one environment through a ``CloudReader`` (``infra.live.reader``), each
resource at most once, and knows the full resource names of what the wiring names; a read
that fails is ``Unreadable`` (with the API, for the fix), a resource a check depends on that
is missing is ``Unavailable``. ``Check`` is one printed verdict.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from infra.live.reader import JSON, CloudReader, ReadError
from infra.model.envs import EnvConfig
from infra.model.permissions import DATA_EDITOR, PUBSUB_AGENT, Target

# A dataset's access entries return the legacy role names (BigQuery REST Dataset.access:
# "will return only the legacy format").
# @see https://cloud.google.com/bigquery/docs/reference/rest/v2/datasets#Dataset.FIELDS.access
LEGACY_DATASET_ROLES = {"roles/bigquery.dataOwner": "OWNER", DATA_EDITOR: "WRITER",
                        "roles/bigquery.dataViewer": "READER"}


@dataclass(frozen=True)
class Check:
    """One verified edge: ``detail`` says what was seen, ``fix`` what to do when it failed."""

    ok: bool
    kind: str
    subject: str
    detail: str
    fix: str = ""

    def line(self) -> str:
        status = "OK  " if self.ok else "FAIL"
        text = f"{status} {self.kind:<12} {self.subject}: {self.detail}"
        return text if self.ok or not self.fix else f"{text}; fix: {self.fix}"


class Unavailable(Exception):
    """A resource a check depends on is missing; the message says which."""


class Unreadable(Exception):
    """A read failed (``ReadError``); ``kind`` says which API, for the fix."""

    def __init__(self, kind: str, message: str) -> None:
        super().__init__(message)
        self.kind = kind


def account_id(member: str) -> str:
    """``serviceAccount:a@p.iam…`` or ``a@p.iam…`` → ``a``; the Pub/Sub agent → its name."""
    if member == PUBSUB_AGENT:
        return "pubsub-agent"
    return member.split(":", 1)[-1].split("@", 1)[0]


def email(member: str) -> str:
    return member.split(":", 1)[-1]


def get_path(data: JSON | None, *path: str) -> Any:
    value: Any = data
    for key in path:
        value = value.get(key) if isinstance(value, Mapping) else None
    return value


def dataset_policy(dataset: JSON) -> JSON:
    """A dataset's ``access`` entries as policy bindings (legacy roles to IAM roles).

    An entry names a service account as ``userByEmail`` (or ``iamMember``); a conditional
    entry keeps its ``condition``.
    """
    iam_role = {legacy: role for role, legacy in LEGACY_DATASET_ROLES.items()}
    bindings = []
    for entry in dataset.get("access") or []:
        email, other = entry.get("userByEmail"), entry.get("iamMember")
        if not email and not other:
            continue
        member = other or f"serviceAccount:{email}"
        if email and not email.endswith(".gserviceaccount.com"):
            member = f"user:{email}"
        role = str(entry.get("role"))
        bindings.append({"role": iam_role.get(role, role), "members": [member],
                         **({"condition": entry["condition"]} if entry.get("condition") else {})})
    return {"bindings": bindings}


class LiveProject:
    """The live resources of one environment, read through ``reader``, each at most once."""

    def __init__(self, env: EnvConfig, reader: CloudReader) -> None:
        self.env = env
        self.reader = reader
        self._cache: dict[tuple[str, str], JSON | Unreadable | None] = {}

    # resource names

    @property
    def project(self) -> str:
        return f"projects/{self.env.project_id}"

    @property
    def location(self) -> str:
        return f"{self.project}/locations/{self.env.region}"

    def service_name(self, cloud_name: str) -> str:
        return f"{self.location}/services/{cloud_name}"

    def function_name(self, cloud_name: str) -> str:
        return f"{self.location}/functions/{cloud_name}"

    def subscription_name(self, name: str) -> str:
        return f"{self.project}/subscriptions/{name}"

    def topic_name(self, name: str) -> str:
        return f"{self.project}/topics/{name}"

    # reads

    def read(self, kind: str, name: str) -> JSON | None:
        key = (kind, name)
        if key not in self._cache:
            r = self.reader
            readers: dict[str, Callable[[str], JSON | None]] = {
                "service": r.get_service, "iam": r.get_service_iam_policy,
                "function": r.get_function, "subscription": r.get_subscription,
                "topic_iam": r.get_topic_iam_policy,
                "subscription_iam": r.get_subscription_iam_policy,
                "service_account_iam": r.get_service_account_iam_policy,
                "dataset": r.get_dataset, "project": r.get_project,
                "project_iam": r.get_project_iam_policy, "bucket_iam": r.get_bucket_iam_policy,
            }
            try:
                self._cache[key] = readers[kind](name)
            except ReadError as err:
                self._cache[key] = Unreadable(kind, str(err))
        value = self._cache[key]
        if isinstance(value, Unreadable):
            raise value
        return value

    def service_of(self, target: Target) -> str:
        """Full name of the Cloud Run service behind ``target``; ``Unavailable`` if unknown."""
        if target.kind == "run.service":
            return self.service_name(target.name)
        function = self.read("function", self.function_name(target.name))
        if function is None:
            raise Unavailable(f"function {target.name} not found")
        service = get_path(function, "service_config", "service")
        if not service:
            raise Unavailable(f"function {target.name} has no Cloud Run service yet")
        return str(service)

    def live_member(self, member: str) -> str:
        """The member as the live policy lists it: the agent's needs the project number."""
        if member != PUBSUB_AGENT:
            return member
        project = self.read("project", self.project)
        number = str(get_path(project, "name") or "").removeprefix("projects/")
        if not number.isdigit():
            raise Unavailable(f"project {self.env.project_id} not found, so the Pub/Sub "
                               "agent's project number is unknown")
        return f"serviceAccount:service-{number}@gcp-sa-pubsub.iam.gserviceaccount.com"

    # fixes

    def apply_fix(self) -> str:
        return (f"the stack declares it: run `make plan ENV={self.env.name}` and "
                f"`make apply ENV={self.env.name}`")

    def read_fix(self, kind: str) -> str:
        role = {"service": "roles/run.viewer", "iam": "roles/run.viewer",
                "function": "roles/cloudfunctions.viewer",
                "subscription": "roles/pubsub.viewer", "topic_iam": "roles/pubsub.viewer",
                "subscription_iam": "roles/pubsub.viewer",
                "dataset": "roles/bigquery.metadataViewer", "project": "roles/browser",
                }.get(kind, "roles/iam.securityReviewer")
        return f"give the verifying identity {role} on {self.env.project_id}"

    def policy_of(self, target: Target) -> tuple[str, JSON | None]:
        """What ``target`` is called in messages, and its IAM policy (``None``: not found)."""
        project, name = self.env.project_id, target.name
        if target.kind in ("run.service", "function.service"):
            service = self.service_of(target)
            return f"Cloud Run service {service.rsplit('/', 1)[-1]}", self.read("iam", service)
        reads = {
            "pubsub.topic": ("topic_iam", self.topic_name(name)),
            "pubsub.subscription": ("subscription_iam", self.subscription_name(name)),
            "iam.serviceAccount": ("service_account_iam",
                                   f"{self.project}/serviceAccounts/{name}"),
            "project": ("project_iam", f"projects/{name}"),
            "storage.bucket": ("bucket_iam", f"projects/_/buckets/{name}"),
        }
        if target.kind == "bigquery.dataset":
            dataset = self.read("dataset", f"projects/{project}/datasets/{name}")
            return f"dataset {name}", None if dataset is None else dataset_policy(dataset)
        if target.kind not in reads:
            raise Unavailable(f"{target.kind} IAM is not read by infra.live.reader")
        kind, full = reads[target.kind]
        return f"{target.kind.split('.')[-1]} {name}", self.read(kind, full)
