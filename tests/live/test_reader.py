"""``GoogleCloudReader`` at its boundaries: real message classes in, JSON out, errors mapped.

No network: each client (and the REST session) is replaced by a fake answering with the
healthy project's answers (``tests/live/fake_project.py``, generated from the synthesized prod
stack) as the real client's message classes.
"""

import copy
import json

import pytest
from google.api_core.exceptions import NotFound, PermissionDenied
from google.cloud import bigquery, functions_v2, pubsub_v1, run_v2
from google.iam.v1 import policy_pb2
from google.protobuf import json_format

from infra.live.reader import GoogleCloudReader, ReadError, policy_from_json
from infra.model.envs import get_env
from tests.live.fake_project import PROJECT_NUMBER, FakeProject

PROD = get_env("prod")
HEALTHY: list[FakeProject] = []


@pytest.fixture(autouse=True)
def healthy(healthy_prod: FakeProject):
    """What ``recorded`` answers from: the session's healthy prod project."""
    HEALTHY[:] = [healthy_prod]


def recorded(folder: str, short: str) -> dict:
    """The healthy project's answer for ``short`` (the last segment of its name)."""
    return copy.deepcopy(HEALTHY[0].get(folder, short))


def policy(folder: str, short: str) -> policy_pb2.Policy:
    return json_format.ParseDict(recorded(folder, short), policy_pb2.Policy())



class FakeRunClient:
    def __init__(self):
        self.requests = []

    def get_service(self, name):
        self.requests.append(("get_service", name))
        data = recorded("services", name.rsplit("/", 1)[-1])
        return run_v2.Service.from_json(json.dumps(data))

    def get_iam_policy(self, request):
        self.requests.append(("get_iam_policy", request["resource"]))
        if request["resource"].endswith("/gone"):
            raise NotFound("Service gone not found")
        if request["resource"].endswith("/secret"):
            raise PermissionDenied("Permission 'run.services.getIamPolicy' denied on resource")
        short = request["resource"].rsplit("/", 1)[-1]
        return json_format.ParseDict(recorded("service_iam", short), policy_pb2.Policy())


def test_google_reader_converts_real_messages():
    reader = GoogleCloudReader()
    fake = FakeRunClient()
    reader.run = fake
    name = f"projects/{PROD.project_id}/locations/{PROD.region}/services/prediction-worker"
    assert reader.get_service(name) == recorded("services", "prediction-worker")
    assert reader.get_service_iam_policy(name) == recorded("service_iam", "prediction-worker")
    assert fake.requests == [("get_service", name), ("get_iam_policy", name)]


def test_google_reader_maps_not_found_and_api_errors():
    reader = GoogleCloudReader()
    reader.run = FakeRunClient()
    assert reader.get_service_iam_policy("projects/p/locations/r/services/gone") is None
    with pytest.raises(ReadError, match=r"^reading IAM policy of projects/p/locations/r/"
                                        r"services/secret: 403 Permission"):
        reader.get_service_iam_policy("projects/p/locations/r/services/secret")


def test_google_reader_converts_functions_and_subscriptions():
    fn_data = recorded("functions", "pipeline-canary")
    sub_data = recorded("subscriptions", "nba-phase2-raw-sub")

    class Functions:
        def get_function(self, name):
            assert name == fn_data["name"]
            return functions_v2.Function.from_json(json.dumps(fn_data))

    class Subscriber:
        def get_subscription(self, subscription):
            assert subscription == sub_data["name"]
            return pubsub_v1.types.Subscription.from_json(json.dumps(sub_data))

    reader = GoogleCloudReader()
    reader.functions = Functions()
    reader.pubsub = Subscriber()
    assert reader.get_function(fn_data["name"]) == fn_data
    assert reader.get_subscription(sub_data["name"]) == sub_data



class FakeIamClient:
    """A Pub/Sub publisher or subscriber client: ``get_iam_policy`` by resource."""

    def __init__(self, folder):
        self.folder = folder

    def get_iam_policy(self, request):
        if request["resource"].endswith("/gone"):
            raise NotFound("Resource not found")
        return policy(self.folder, request["resource"].rsplit("/", 1)[-1])


def test_google_reader_reads_topic_and_subscription_policies():
    reader = GoogleCloudReader()
    reader.publisher = FakeIamClient("topic_iam")
    reader.pubsub = FakeIamClient("subscription_iam")
    topic = f"projects/{PROD.project_id}/topics/nba-phase4-trigger"
    sub = f"projects/{PROD.project_id}/subscriptions/nba-phase2-raw-sub-dlq-sub"
    assert reader.get_topic_iam_policy(topic) == recorded("topic_iam", "nba-phase4-trigger")
    assert reader.get_subscription_iam_policy(sub) == recorded(
        "subscription_iam", "nba-phase2-raw-sub-dlq-sub")
    assert reader.get_topic_iam_policy(f"projects/{PROD.project_id}/topics/gone") is None


def test_google_reader_reads_a_dataset_as_rest_json():
    data = recorded("datasets", "nba_raw")

    class Client:
        def get_dataset(self, ref):
            if ref != "nba-props-platform.nba_raw":
                raise NotFound(f"Dataset {ref} not found")
            return bigquery.Dataset.from_api_repr(data)

    reader = GoogleCloudReader()
    reader._bigquery = Client()
    assert reader.get_dataset("projects/nba-props-platform/datasets/nba_raw") == data
    assert reader.get_dataset("projects/nba-props-platform/datasets/nba_gone") is None


class FakeResponse:
    def __init__(self, status, body):
        self.status_code, self._body = status, body
        self.ok = status < 400
        self.reason = {404: "Not Found", 403: "Forbidden"}.get(status, "OK")

    def json(self):
        if self._body is None:
            raise ValueError("no JSON")
        return self._body


class FakeSession:
    """``AuthorizedSession``: answers the documented REST URLs from the recorded files."""

    def __init__(self):
        self.requests = []

    def get(self, url):
        return self.request("GET", url)

    def post(self, url, json=None):
        return self.request("POST", url, json)

    def request(self, method, url, json=None):
        self.requests.append((method, url, json))
        url, _, query = url.partition("?")
        # Every policy is asked for in version 3 (conditional bindings).
        assert (json or {}).get("options") == {"requestedPolicyVersion": 3} or \
            query == "optionsRequestedPolicyVersion=3" or not (
                url.endswith((":getIamPolicy", "/iam"))), (method, url, json, query)
        sa = "https://iam.googleapis.com/v1/projects/nba-props-platform/serviceAccounts/"
        crm = "https://cloudresourcemanager.googleapis.com/v3/projects/"
        bucket = "https://storage.googleapis.com/storage/v1/b/"
        if url.startswith(sa) and url.endswith(":getIamPolicy") and method == "POST":
            return FakeResponse(200, recorded("service_account_iam", url[len(sa):-13]))
        if url == f"{crm}nba-props-platform:getIamPolicy" and method == "POST":
            return FakeResponse(200, recorded("project_iam", "nba-props-platform"))
        if url == f"{crm}nba-props-platform" and method == "GET":
            return FakeResponse(200, recorded("projects", "nba-props-platform"))
        if url.startswith(bucket) and url.endswith("/iam") and method == "GET":
            name = url[len(bucket):-4]
            if name == "secret":
                return FakeResponse(403, {"error": {"message": "no storage.buckets."
                                                               "getIamPolicy\naccess"}})
            body = recorded("bucket_iam", name)
            # The JSON API adds kind and resourceId, which a Policy does not have.
            return FakeResponse(200, {"kind": "storage#policy",
                                      "resourceId": f"projects/_/buckets/{name}", **body})
        return FakeResponse(404, None)


def test_google_reader_reads_the_policies_no_client_reads_over_rest():
    reader = GoogleCloudReader()
    reader.session = FakeSession()
    email = "nba-push-phase2-to-phase3@nba-props-platform.iam.gserviceaccount.com"
    assert reader.get_service_account_iam_policy(
        f"projects/nba-props-platform/serviceAccounts/{email}") == recorded(
        "service_account_iam", email)
    assert reader.get_project("projects/nba-props-platform")["name"] == \
        f"projects/{PROJECT_NUMBER}"
    assert reader.get_project_iam_policy("projects/nba-props-platform") == recorded(
        "project_iam", "nba-props-platform")
    bucket = "nba-props-platform-function-sources"
    assert reader.get_bucket_iam_policy(f"projects/_/buckets/{bucket}") == recorded(
        "bucket_iam", bucket)
    assert reader.get_project("projects/nba-gone") is None


def test_google_reader_rest_errors_are_one_line():
    reader = GoogleCloudReader()
    reader.session = FakeSession()
    with pytest.raises(ReadError, match=r"^reading IAM policy of projects/_/buckets/secret: "
                                        r"403 no storage.buckets.getIamPolicy$"):
        reader.get_bucket_iam_policy("projects/_/buckets/secret")


def test_policy_from_json_keeps_only_the_policy():
    assert policy_from_json({"kind": "storage#policy", "version": 1, "etag": "CAE=",
                             "bindings": [{"role": "r", "members": ["user:a@b"]}]}) == {
        "version": 1, "etag": "CAE=", "bindings": [{"role": "r", "members": ["user:a@b"]}]}
