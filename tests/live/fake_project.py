"""A healthy live project, generated from a synthesized stack: what ``infra.verify`` reads.

``FakeProject.from_stack(stack, env)`` answers the ``CloudReader`` calls the way
``GoogleCloudReader`` answers them for the project a clean ``terraform apply`` of ``stack``
leaves behind: every Cloud Run service ready at its ``run.app`` URL, every gen2 function
``ACTIVE`` with the Cloud Run service Google creates under its name, every subscription as
declared (push endpoint and audience resolved to the target's URL), and every IAM policy
holding exactly the stack's ``*_iam_member`` resources, next to what a real project holds
without the stack (the owners, the default compute account's editor role, the Pub/Sub service
agent's role, a dataset's special groups, a bucket's legacy roles), which verify must ignore.

Only the stack is read, never the manifest or ``infra.model.wiring``: verify derives what it
expects from the wiring, so a healthy verdict on this project proves the stack declares
everything the wiring requires. Adding a job, a service or a processor changes the stack and
therefore this project; nothing here is written by hand per resource.

Answers are stored by the full resource name the reader is asked for, so a verifier asking for
the wrong project, region or name gets ``None`` (not found), as from the API. The shapes are
the reader's (``proto_to_dict`` of the client messages: snake_case, enums by name, int64 as
strings, defaults left out; a dataset and a project as REST JSON); ``tests/live/test_verify.py``
parses every answer into the real message class with unknown fields rejected.

A test breaks the project on a copy: ``project.copy()``, then ``edit``/``put``/``drop`` one
answer by folder and short name (the last segment of its resource name).
"""

from __future__ import annotations

import base64
import copy
import zlib
from collections import Counter, defaultdict
from collections.abc import Callable, Iterator, Mapping
from typing import Any

from infra.model.envs import EnvConfig
from infra.stackjson.stack import REF_RE, StackJson

JSON = dict[str, Any]

PROJECT_NUMBER = "733310264829"
"""The live project's number (arbitrary; the Pub/Sub agent's email contains it)."""
URL_HASH = "q7vtx2lbqa-wl"
"""The hash in a Cloud Run service's legacy ``a.run.app`` URL (arbitrary)."""
TIMESTAMP = "2026-11-20T07:42:31.118876Z"

FOLDERS = ("services", "service_iam", "functions", "subscriptions", "topic_iam",
           "subscription_iam", "service_account_iam", "project_iam", "bucket_iam", "datasets",
           "projects")
"""One per ``CloudReader`` read (``get_service`` → ``services``, ``get_topic_iam_policy`` →
``topic_iam``, ...), as the recorded sets were laid out."""

# Legacy names a dataset's ``access`` returns for the basic BigQuery roles (REST
# Dataset.access "will return only the legacy format").
LEGACY_DATASET_ROLES = {"roles/bigquery.dataOwner": "OWNER",
                        "roles/bigquery.dataEditor": "WRITER",
                        "roles/bigquery.dataViewer": "READER"}
FUNCTION_INGRESS = {"ALLOW_ALL": "INGRESS_TRAFFIC_ALL",
                    "ALLOW_INTERNAL_ONLY": "INGRESS_TRAFFIC_INTERNAL_ONLY",
                    "ALLOW_INTERNAL_AND_GCLB": "INGRESS_TRAFFIC_INTERNAL_LOAD_BALANCER"}


class FakeProject:
    """A ``CloudReader`` over generated answers; ``calls`` counts each (folder, name) read."""

    def __init__(self, env: EnvConfig, answers: dict[str, dict[str, JSON]]) -> None:
        self.env = env
        self.answers = answers
        self.calls: Counter[tuple[str, str]] = Counter()

    @classmethod
    def from_stack(cls, stack: StackJson, env: EnvConfig) -> FakeProject:
        return cls(env, _Generator(stack, env).answers())

    def copy(self) -> FakeProject:
        """An independent copy (its own answers and call counts), to break one thing."""
        return FakeProject(self.env, copy.deepcopy(self.answers))

    # --- reading and changing answers by short name ---------------------------------------

    def _key(self, folder: str, short: str) -> str:
        found = [name for name in self.answers[folder] if name.rsplit("/", 1)[-1] == short]
        if len(found) != 1:
            raise KeyError(f"{folder}/{short}: {found if found else 'not in the project'}; "
                           f"known: {sorted(n.rsplit('/', 1)[-1] for n in self.answers[folder])}")
        return found[0]

    def get(self, folder: str, short: str) -> JSON:
        return self.answers[folder][self._key(folder, short)]

    def put(self, folder: str, short: str, data: JSON) -> None:
        """Replace an answer (the resource keeps its full name)."""
        self.answers[folder][self._key(folder, short)] = data

    def edit(self, folder: str, short: str, change: Callable[[JSON], object]) -> None:
        change(self.get(folder, short))

    def drop(self, folder: str, short: str) -> None:
        """The resource (or policy) no longer exists: its read answers ``None``."""
        del self.answers[folder][self._key(folder, short)]

    def messages(self) -> Iterator[tuple[str, str, JSON]]:
        """Every stored answer as (folder, full name, answer)."""
        for folder in FOLDERS:
            for name, data in sorted(self.answers[folder].items()):
                yield folder, name, data

    # --- CloudReader ----------------------------------------------------------------------

    def _read(self, folder: str, name: str) -> JSON | None:
        self.calls[(folder, name)] += 1
        return copy.deepcopy(self.answers[folder].get(name))

    def get_service(self, name: str) -> JSON | None:
        return self._read("services", name)

    def get_service_iam_policy(self, name: str) -> JSON | None:
        # A service's policy exists as long as the service does.
        policy = self._read("service_iam", name)
        return policy if name in self.answers["services"] else None

    def get_function(self, name: str) -> JSON | None:
        return self._read("functions", name)

    def get_subscription(self, name: str) -> JSON | None:
        return self._read("subscriptions", name)

    def get_topic_iam_policy(self, name: str) -> JSON | None:
        return self._read("topic_iam", name)

    def get_subscription_iam_policy(self, name: str) -> JSON | None:
        return self._read("subscription_iam", name)

    def get_service_account_iam_policy(self, name: str) -> JSON | None:
        return self._read("service_account_iam", name)

    def get_dataset(self, name: str) -> JSON | None:
        return self._read("datasets", name)

    def get_project(self, name: str) -> JSON | None:
        return self._read("projects", name)

    def get_project_iam_policy(self, name: str) -> JSON | None:
        return self._read("project_iam", name)

    def get_bucket_iam_policy(self, name: str) -> JSON | None:
        return self._read("bucket_iam", name)


class _Generator:
    """Reads the stack once and builds every answer."""

    def __init__(self, stack: StackJson, env: EnvConfig) -> None:
        self.stack = stack
        self.env = env
        self.project = env.project_id
        self.location = f"projects/{env.project_id}/locations/{env.region}"
        self.etags = 0

    # names and references

    def body(self, address: str) -> Mapping[str, Any]:
        res = self.stack.resources.get(address)
        if res is None:
            raise KeyError(f"the stack references {address}, which it does not declare")
        return res.body

    def email(self, body: Mapping[str, Any]) -> str:
        return f"{body['account_id']}@{body.get('project', self.project)}.iam.gserviceaccount.com"

    def uri(self, service: str) -> str:
        return f"https://{service}-{PROJECT_NUMBER}.{self.env.region}.run.app"

    def attribute(self, address: str, attr: str) -> str:
        """What Terraform would substitute for ``${address.attr}`` after the apply."""
        rtype = address.split(".", 1)[0]
        if address == "data.google_project.project" and attr == "number":
            return PROJECT_NUMBER
        body = self.body(address)
        project = body.get("project", self.project)
        values: dict[tuple[str, str], Callable[[], str]] = {
            ("google_service_account", "email"): lambda: self.email(body),
            ("google_service_account", "member"): lambda: f"serviceAccount:{self.email(body)}",
            ("google_service_account", "name"):
                lambda: f"projects/{project}/serviceAccounts/{self.email(body)}",
            ("google_service_account", "id"):
                lambda: f"projects/{project}/serviceAccounts/{self.email(body)}",
            ("google_pubsub_topic", "name"): lambda: body["name"],
            ("google_pubsub_topic", "id"): lambda: f"projects/{project}/topics/{body['name']}",
            ("google_pubsub_subscription", "name"): lambda: body["name"],
            ("google_pubsub_subscription", "id"):
                lambda: f"projects/{project}/subscriptions/{body['name']}",
            ("google_cloud_run_v2_service", "name"): lambda: body["name"],
            ("google_cloud_run_v2_service", "uri"): lambda: self.uri(body["name"]),
            ("google_cloudfunctions2_function", "service_config[0].service"):
                lambda: body["name"],
            ("google_cloudfunctions2_function", "service_config[0].uri"):
                lambda: self.uri(body["name"]),
            ("google_cloudfunctions2_function", "url"): lambda: self.uri(body["name"]),
            ("google_bigquery_dataset", "dataset_id"): lambda: body["dataset_id"],
            ("google_storage_bucket", "name"): lambda: body["name"],
        }
        value = values.get((rtype, attr))
        if value is None:
            raise KeyError(f"the fake project cannot resolve ${{{address}.{attr}}}; teach "
                           "tests/live/fake_project.py what the API returns for it")
        return value()

    def resolve(self, value: object) -> str:
        """``value`` with every reference replaced by what the live project holds."""
        text = str(value)
        return REF_RE.sub(lambda m: self.attribute(m.group(1), m.group(2).lstrip(".")), text)

    def etag(self) -> str:
        """A policy's etag: base64 of 8 bytes, distinct per answer."""
        self.etags += 1
        return base64.b64encode(b"\x07\x06" + self.etags.to_bytes(6, "big")).decode()

    def policy(self, bindings: Mapping[tuple[str, str, str], set[str]]) -> JSON:
        """A ``google.iam.v1.Policy`` as the reader returns it: bindings by role."""
        out: JSON = {"version": 1, "etag": self.etag()}
        listed = []
        for (role, title, expression), members in sorted(bindings.items()):
            binding: JSON = {"role": role, "members": sorted(members)}
            if expression:
                binding["condition"] = {"title": title, "expression": expression}
                # Reading a policy with a conditional binding needs requested version 3 (the
                # IAM GetPolicyOptions documentation); answered as that read returns it.
                out["version"] = 3
            listed.append(binding)
        if listed:
            out["bindings"] = listed
        return out

    # the answers

    def answers(self) -> dict[str, dict[str, JSON]]:
        out: dict[str, dict[str, JSON]] = {folder: {} for folder in FOLDERS}
        services, functions = self.services(), self.functions()
        out["services"] = {**services, **{self.service_name(f["name"].rsplit("/", 1)[-1]):
                                          self.function_service(f) for f in functions.values()}}
        out["functions"] = functions
        out["subscriptions"] = self.subscriptions()
        members = self.members()
        for folder, names in (("service_iam", out["services"]),
                              ("topic_iam", self.names("google_pubsub_topic", "id")),
                              ("subscription_iam", out["subscriptions"]),
                              ("service_account_iam", self.names("google_service_account", "id")),
                              ("bucket_iam", self.buckets())):
            out[folder] = {name: self.policy(self.with_defaults(folder, members[folder][name]))
                           for name in names}
        project = f"projects/{self.project}"
        out["projects"] = {project: {
            "name": f"projects/{PROJECT_NUMBER}", "parent": "organizations/1048213562011",
            "projectId": self.project, "state": "ACTIVE", "displayName": self.project,
            "createTime": "2024-09-02T18:20:11.400Z", "etag": 'W/"4c1f0e2b9a7d3e55"'}}
        out["project_iam"] = {project: self.policy(self.with_defaults(
            "project_iam", members["project_iam"][project]))}
        out["datasets"] = self.datasets(members["datasets"])
        unknown = {folder: sorted(set(members[folder]) - set(out[folder]))
                   for folder in FOLDERS if set(members[folder]) - set(out[folder])}
        assert not unknown, f"IAM members on resources the stack does not declare: {unknown}"
        return out

    def service_name(self, name: str) -> str:
        return f"{self.location}/services/{name}"

    def names(self, rtype: str, attr: str) -> list[str]:
        return [self.attribute(r.address, attr) for r in self.stack.of_type(rtype)]

    def buckets(self) -> list[str]:
        return [f"projects/_/buckets/{r.body['name']}"
                for r in self.stack.of_type("google_storage_bucket")]

    def service(self, name: str, ingress: str, labels: Mapping[str, str], n: int) -> JSON:
        uri = self.uri(name)
        revision = f"{self.service_name(name)}/revisions/{name}-{n:05d}-dox"
        data: JSON = {
            "name": self.service_name(name),
            "uid": f"5b1c0c7e-9d1a-4f0e-8c{n:02d}-3f6f0d8e2a{n:02d}",
            "generation": str(n),
            "create_time": "2026-10-02T18:11:40.118233Z",
            "update_time": TIMESTAMP,
            "ingress": ingress,
            "launch_stage": "GA",
            "urls": [uri, f"https://{name}-{URL_HASH}.a.run.app"],
            "terminal_condition": {"type_": "Ready", "state": "CONDITION_SUCCEEDED",
                                   "last_transition_time": TIMESTAMP},
            "conditions": [{"type_": "RoutesReady", "state": "CONDITION_SUCCEEDED",
                            "last_transition_time": TIMESTAMP},
                           {"type_": "ConfigurationsReady", "state": "CONDITION_SUCCEEDED",
                            "last_transition_time": TIMESTAMP}],
            "latest_ready_revision": revision,
            "latest_created_revision": revision,
            "uri": uri,
            "etag": f'"{self.etag()}"',
        }
        if labels:
            data["labels"] = dict(labels)
        return data

    def services(self) -> dict[str, JSON]:
        out = {}
        for n, res in enumerate(self.stack.of_type("google_cloud_run_v2_service"), start=1):
            body = res.body
            name = body["name"]
            out[self.service_name(name)] = self.service(
                name, body.get("ingress", "INGRESS_TRAFFIC_ALL"),
                {**(body.get("labels") or {}), "managed-by": "cdktn"}, n)
        return out

    def function_service(self, function: JSON) -> JSON:
        """The Cloud Run service Google deploys under a gen2 function (named like it)."""
        short = function["name"].rsplit("/", 1)[-1]
        n = 50 + sorted(self.function_names()).index(short)
        ingress = FUNCTION_INGRESS[function["service_config"].get("ingress_settings",
                                                                  "ALLOW_ALL")]
        return self.service(short, ingress, {"goog-managed-by": "cloudfunctions"}, n)

    def function_names(self) -> list[str]:
        return [r.body["name"] for r in self.stack.of_type("google_cloudfunctions2_function")]

    def functions(self) -> dict[str, JSON]:
        out = {}
        for res in self.stack.of_type("google_cloudfunctions2_function"):
            body = res.body
            name = body["name"]
            build, config = body.get("build_config") or {}, body.get("service_config") or {}
            uri = self.uri(name)
            service_config: JSON = {
                "service": self.service_name(name),
                "timeout_seconds": config.get("timeout_seconds", 60),
                "max_instance_count": config.get("max_instance_count", 100),
                "ingress_settings": config.get("ingress_settings", "ALLOW_ALL"),
                "uri": uri,
                "service_account_email": self.resolve(config["service_account_email"]),
                "available_memory": config.get("available_memory", "256M"),
                "all_traffic_on_latest_revision": True,
                "revision": f"{name}-00007-dox",
            }
            variables = config.get("environment_variables")
            if variables:
                service_config["environment_variables"] = {
                    k: self.resolve(v) for k, v in variables.items()}
            data: JSON = {
                "name": f"{self.location}/functions/{name}",
                "build_config": {
                    "build": f"projects/{PROJECT_NUMBER}/locations/{self.env.region}/builds/"
                             f"7f1d2c3b-0a9e-4b8c-9d7e-{zlib.crc32(name.encode()):012d}",
                    "runtime": build["runtime"],
                    "entry_point": build["entry_point"],
                    "service_account": self.resolve(build["service_account"]),
                },
                "service_config": service_config,
                "state": "ACTIVE",
                "update_time": "2026-11-20T07:40:02.913844342Z",
                "labels": {**(body.get("labels") or {}), "managed-by": "cdktn"},
                "environment": "GEN_2",
                "url": uri,
            }
            if body.get("description"):
                data["description"] = body["description"]
            trigger = body.get("event_trigger")
            if trigger:
                data["event_trigger"] = {
                    "trigger": f"{self.location}/triggers/{name}-871424",
                    "trigger_region": trigger.get("trigger_region", self.env.region),
                    "event_type": trigger["event_type"],
                    "pubsub_topic": self.resolve(trigger["pubsub_topic"]),
                    "service_account_email": self.resolve(trigger["service_account_email"]),
                    "retry_policy": trigger.get("retry_policy", "RETRY_POLICY_DO_NOT_RETRY"),
                }
            out[data["name"]] = data
        return out

    def subscriptions(self) -> dict[str, JSON]:
        out = {}
        for res in self.stack.of_type("google_pubsub_subscription"):
            body = res.body
            name = f"projects/{body.get('project', self.project)}/subscriptions/{body['name']}"
            data: JSON = {"name": name, "topic": self.resolve(body["topic"])}
            push = body.get("push_config")
            if push:
                data["push_config"] = {"push_endpoint": self.resolve(push["push_endpoint"]),
                                       "attributes": {"x-goog-version": "v1"}}
                oidc = push.get("oidc_token")
                if oidc:
                    data["push_config"]["oidc_token"] = {
                        "service_account_email": self.resolve(oidc["service_account_email"]),
                        "audience": self.resolve(oidc["audience"])}
            data["ack_deadline_seconds"] = body.get("ack_deadline_seconds", 10)
            data["message_retention_duration"] = body.get("message_retention_duration",
                                                          "604800s")
            if (body.get("expiration_policy") or {}).get("ttl") == "":
                data["expiration_policy"] = {}  # never expires
            dead_letter = body.get("dead_letter_policy")
            if dead_letter:
                data["dead_letter_policy"] = {
                    "dead_letter_topic": self.resolve(dead_letter["dead_letter_topic"]),
                    "max_delivery_attempts": dead_letter.get("max_delivery_attempts", 5)}
            retry = body.get("retry_policy")
            if retry:
                data["retry_policy"] = {k: retry[k] for k in ("minimum_backoff",
                                                              "maximum_backoff") if k in retry}
            data["state"] = "ACTIVE"
            out[name] = data
        return out

    def members(self) -> dict[str, dict[str, dict[tuple[str, str, str], set[str]]]]:
        """folder → resource name → (role, condition title, expression) → members."""
        out: dict[str, dict[str, dict[tuple[str, str, str], set[str]]]] = {
            folder: defaultdict(lambda: defaultdict(set)) for folder in FOLDERS}
        # type → (folder, how the member names its resource)
        kinds: dict[str, tuple[str, Callable[[Mapping[str, Any]], str]]] = {
            "google_cloud_run_v2_service_iam_member": (
                "service_iam", lambda b: self.service_name(self.resolve(b["name"]))),
            "google_pubsub_topic_iam_member": (
                "topic_iam", lambda b: f"projects/{b.get('project', self.project)}/topics/"
                                       f"{self.resolve(b['topic'])}"),
            "google_pubsub_subscription_iam_member": (
                "subscription_iam", lambda b: f"projects/{b.get('project', self.project)}/"
                                              f"subscriptions/{self.resolve(b['subscription'])}"),
            "google_service_account_iam_member": (
                "service_account_iam", lambda b: self.resolve(b["service_account_id"])),
            "google_project_iam_member": ("project_iam", lambda b: f"projects/{b['project']}"),
            "google_storage_bucket_iam_member": (
                "bucket_iam", lambda b: f"projects/_/buckets/{self.resolve(b['bucket'])}"),
            "google_bigquery_dataset_iam_member": (
                "datasets", lambda b: f"projects/{b.get('project', self.project)}/datasets/"
                                      f"{self.resolve(b['dataset_id'])}"),
        }
        for res in self.stack.resources.values():
            if res.type.endswith("_iam_member") and res.type not in kinds:
                raise KeyError(f"{res.address}: the fake project does not serve "
                               f"{res.type}; teach tests/live/fake_project.py to")
            if res.type not in kinds:
                continue
            folder, target = kinds[res.type]
            condition = res.body.get("condition") or {}
            key = (res.body["role"], condition.get("title", ""), condition.get("expression", ""))
            out[folder][target(res.body)][key].add(self.resolve(res.body["member"]))
        return out

    def with_defaults(self, folder: str, bindings: Mapping[tuple[str, str, str], set[str]],
                      ) -> dict[tuple[str, str, str], set[str]]:
        """The stack's bindings and what a live project holds without the stack."""
        out = {key: set(members) for key, members in bindings.items()}

        def add(role: str, *members: str) -> None:
            out.setdefault((role, "", ""), set()).update(members)

        if folder == "project_iam":
            add("roles/owner", "group:nba-platform-admins@example.com")
            add("roles/editor",
                f"serviceAccount:{PROJECT_NUMBER}-compute@developer.gserviceaccount.com")
            add("roles/pubsub.serviceAgent",
                f"serviceAccount:service-{PROJECT_NUMBER}@gcp-sa-pubsub.iam.gserviceaccount.com")
        elif folder == "bucket_iam":
            add("roles/storage.legacyBucketOwner", f"projectEditor:{self.project}",
                f"projectOwner:{self.project}")
            add("roles/storage.legacyBucketReader", f"projectViewer:{self.project}")
        return out

    def datasets(self, members: Mapping[str, Mapping[tuple[str, str, str], set[str]]],
                 ) -> dict[str, JSON]:
        """REST ``Dataset``s: the basic roles in their legacy names, accounts by email."""
        out = {}
        for res in self.stack.of_type("google_bigquery_dataset"):
            body = res.body
            project, dataset = body.get("project", self.project), body["dataset_id"]
            name = f"projects/{project}/datasets/{dataset}"
            access: list[JSON] = [{"role": "OWNER", "specialGroup": "projectOwners"},
                                  {"role": "READER", "specialGroup": "projectReaders"},
                                  {"role": "WRITER", "specialGroup": "projectWriters"}]
            for (role, _, _), granted in sorted(members.get(name, {}).items()):
                for member in sorted(granted):
                    kind, _, email = member.partition(":")
                    entry: JSON = {"role": LEGACY_DATASET_ROLES.get(role, role)}
                    if kind == "serviceAccount":
                        entry["userByEmail"] = email
                    else:
                        entry["iamMember"] = member
                    access.append(entry)
            data: JSON = {
                "kind": "bigquery#dataset",
                "etag": self.etag(),
                "id": f"{project}:{dataset}",
                "selfLink": f"https://bigquery.googleapis.com/bigquery/v2/projects/{project}/"
                            f"datasets/{dataset}",
                "datasetReference": {"datasetId": dataset, "projectId": project},
                "access": access,
                "creationTime": "1763600402913",
                "lastModifiedTime": "1763600402913",
                "location": body.get("location", "US"),
                "type": "DEFAULT",
            }
            if body.get("description"):
                data["description"] = body["description"]
            out[name] = data
        return out
