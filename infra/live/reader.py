"""Reading the live project: the resources and IAM policies ``infra.live.verify`` checks.

``CloudReader`` is what the checks need; ``GoogleCloudReader`` implements it with the
official clients (Cloud Run, Cloud Functions, Pub/Sub, BigQuery) and, for the IAM policies
none of those clients reads (service accounts, the project, a bucket), the documented REST
``getIamPolicy`` methods through google-auth's ``AuthorizedSession``. Every IAM policy is
returned in one shape, a ``google.iam.v1.Policy`` as ``proto_to_dict`` writes it.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from functools import cached_property
from typing import Any, Protocol

import requests
from google.api_core.exceptions import GoogleAPIError, NotFound
from google.auth.transport.requests import AuthorizedSession
from google.cloud import bigquery, functions_v2, run_v2

# grpc-google-iam-v1 ships .pyi stubs for its messages but no py.typed marker.
from google.iam.v1 import policy_pb2  # type: ignore[import-untyped]
from google.protobuf import json_format
from google.pubsub_v1 import PublisherClient, SubscriberClient

from infra.cli import one_line
from infra.live.rest_config import authorized_session

JSON = Mapping[str, Any]

# REST methods for the policies no installed client reads; each answers a Policy as JSON.
# @see https://cloud.google.com/iam/docs/reference/rest/v1/projects.serviceAccounts/getIamPolicy
# @see https://cloud.google.com/resource-manager/reference/rest/v3/projects/getIamPolicy
# @see https://cloud.google.com/storage/docs/json_api/v1/buckets/getIamPolicy
IAM_API = "https://iam.googleapis.com/v1"
CRM_API = "https://cloudresourcemanager.googleapis.com/v3"
STORAGE_API = "https://storage.googleapis.com/storage/v1"


class ReadError(Exception):
    """An API call failed for a reason other than not-found; the message is one line."""


class CloudReader(Protocol):
    """Reads resources by full resource name, as the APIs return them.

    Each method returns ``None`` when the resource does not exist and raises ``ReadError``
    for any other API failure. Credential errors (``google.auth.exceptions``) propagate.
    IAM policies are ``google.iam.v1.Policy``: ``bindings: [{role, members, condition}]``.
    """

    def get_service(self, name: str) -> JSON | None:
        """Cloud Run v2 ``Service``: ``name``, ``uri``, ``urls``, ``terminal_condition``."""
        ...

    def get_service_iam_policy(self, name: str) -> JSON | None:
        """IAM policy of a Cloud Run service (``projects/P/locations/R/services/S``)."""
        ...

    def get_function(self, name: str) -> JSON | None:
        """Cloud Functions v2 ``Function``: ``state``, ``service_config``, ``event_trigger``."""
        ...

    def get_subscription(self, name: str) -> JSON | None:
        """Pub/Sub ``Subscription``: ``topic``, ``push_config``, ``dead_letter_policy``."""
        ...

    def get_topic_iam_policy(self, name: str) -> JSON | None:
        """IAM policy of a topic (``projects/P/topics/T``)."""
        ...

    def get_subscription_iam_policy(self, name: str) -> JSON | None:
        """IAM policy of a subscription (``projects/P/subscriptions/S``)."""
        ...

    def get_service_account_iam_policy(self, name: str) -> JSON | None:
        """IAM policy of a service account (``projects/P/serviceAccounts/EMAIL``)."""
        ...

    def get_dataset(self, name: str) -> JSON | None:
        """BigQuery ``Dataset`` as REST JSON (``projects/P/datasets/D``): ``access`` entries."""
        ...

    def get_project(self, name: str) -> JSON | None:
        """Resource Manager v3 ``Project`` (``projects/P``): ``name`` is ``projects/NUMBER``."""
        ...

    def get_project_iam_policy(self, name: str) -> JSON | None:
        """IAM policy of the project (``projects/P``)."""
        ...

    def get_bucket_iam_policy(self, name: str) -> JSON | None:
        """IAM policy of a bucket (``projects/_/buckets/B``)."""
        ...


def proto_to_dict(message: Any) -> JSON:
    """A response message as JSON with the API's field names (proto-plus or raw protobuf).

    Same as the REST API's JSON but with snake_case field names: enums by name, fields at
    their default value (empty, zero, false) omitted.
    """
    raw = type(message).pb(message) if hasattr(type(message), "pb") else message
    result: JSON = json_format.MessageToDict(raw, preserving_proto_field_name=True)
    return result


def policy_from_json(data: JSON) -> JSON:
    """A REST ``Policy`` (any extra fields, e.g. a bucket's ``kind``, dropped) as a Policy."""
    return proto_to_dict(json_format.ParseDict(dict(data), policy_pb2.Policy(),
                                               ignore_unknown_fields=True))


def _last(name: str) -> str:
    return name.rsplit("/", 1)[-1]


class GoogleCloudReader:
    """``CloudReader`` over the official clients, each created on first use.

    Creating the reader needs no credentials; the first call does (Application Default
    Credentials: ``GOOGLE_APPLICATION_CREDENTIALS``, gcloud ADC, or the metadata server). The
    REST reads share ``infra.live.rest_config.authorized_session``; Pub/Sub is read through
    its generated clients (``google.pubsub_v1``), which are typed.
    """

    def __init__(self) -> None:
        self._bigquery: bigquery.Client | None = None

    @cached_property
    def run(self) -> run_v2.ServicesClient:
        return run_v2.ServicesClient()

    @cached_property
    def functions(self) -> functions_v2.FunctionServiceClient:
        return functions_v2.FunctionServiceClient()

    @cached_property
    def pubsub(self) -> SubscriberClient:
        return SubscriberClient()

    @cached_property
    def publisher(self) -> PublisherClient:
        return PublisherClient()

    def bigquery(self, project: str) -> bigquery.Client:
        """The BigQuery client, created for the project of the first dataset read."""
        if self._bigquery is None:
            self._bigquery = bigquery.Client(project=project)
        return self._bigquery

    @cached_property
    def session(self) -> AuthorizedSession:
        return authorized_session()

    @staticmethod
    def _call(what: str, call: Callable[[], JSON]) -> JSON | None:
        try:
            return call()
        except NotFound:
            return None
        except GoogleAPIError as err:
            raise ReadError(f"reading {what}: {one_line(err)}") from err

    def _rest(self, what: str, method: str, url: str,
              body: JSON | None = None) -> JSON | None:
        """One REST call (``body`` for a POST, default ``{}``): ``None`` on 404, ``ReadError``
        on any other failure."""
        try:
            response = (self.session.post(url, json=body if body is not None else {})
                        if method == "POST" else self.session.get(url))
        except requests.RequestException as err:
            raise ReadError(f"reading {what}: {one_line(err)}") from err
        if response.status_code == 404:
            return None
        if not response.ok:
            try:
                message = response.json().get("error", {}).get("message", response.reason)
            except ValueError:
                message = response.reason
            raise ReadError(f"reading {what}: {response.status_code} {one_line(message)}")
        data: JSON = response.json()
        return data

    def _rest_policy(self, what: str, method: str, url: str) -> JSON | None:
        """An IAM policy, asked for in version 3: a policy holding conditional bindings (the
        build identity's source-bucket grant) is refused, or returned without its
        conditions, at a lower version
        (https://cloud.google.com/iam/docs/policies#specifying-version-get)."""
        if method == "POST":
            data = self._rest(what, method, url, {"options": {"requestedPolicyVersion": 3}})
        else:
            sep = "&" if "?" in url else "?"
            data = self._rest(what, method, f"{url}{sep}optionsRequestedPolicyVersion=3")
        return None if data is None else policy_from_json(data)

    def get_service(self, name: str) -> JSON | None:
        return self._call(name, lambda: proto_to_dict(self.run.get_service(name=name)))

    def get_service_iam_policy(self, name: str) -> JSON | None:
        return self._call(f"IAM policy of {name}", lambda: proto_to_dict(
            self.run.get_iam_policy(request={"resource": name})))

    def get_function(self, name: str) -> JSON | None:
        return self._call(name, lambda: proto_to_dict(self.functions.get_function(name=name)))

    def get_subscription(self, name: str) -> JSON | None:
        return self._call(name, lambda: proto_to_dict(
            self.pubsub.get_subscription(subscription=name)))

    def get_topic_iam_policy(self, name: str) -> JSON | None:
        return self._call(f"IAM policy of {name}", lambda: proto_to_dict(
            self.publisher.get_iam_policy(request={"resource": name})))

    def get_subscription_iam_policy(self, name: str) -> JSON | None:
        return self._call(f"IAM policy of {name}", lambda: proto_to_dict(
            self.pubsub.get_iam_policy(request={"resource": name})))

    def get_dataset(self, name: str) -> JSON | None:
        # projects/P/datasets/D → the client's "P.D"
        project, dataset = name.split("/")[1], _last(name)
        return self._call(name, lambda: self.bigquery(project).get_dataset(
            f"{project}.{dataset}").to_api_repr())

    def get_service_account_iam_policy(self, name: str) -> JSON | None:
        return self._rest_policy(f"IAM policy of {name}", "POST",
                                 f"{IAM_API}/{name}:getIamPolicy")

    def get_project(self, name: str) -> JSON | None:
        return self._rest(name, "GET", f"{CRM_API}/{name}")

    def get_project_iam_policy(self, name: str) -> JSON | None:
        return self._rest_policy(f"IAM policy of {name}", "POST",
                                 f"{CRM_API}/{name}:getIamPolicy")

    def get_bucket_iam_policy(self, name: str) -> JSON | None:
        return self._rest_policy(f"IAM policy of {name}", "GET",
                                 f"{STORAGE_API}/b/{_last(name)}/iam")
