"""Live verification: is the deployed environment wired the way the manifest says?

    python -m infra.verify --env prod

Run after ``make apply``. Reads, with the official clients, every Cloud Run service the
manifest declares (and the Cloud Run service behind every function) with its IAM policy,
every function, and every push subscription, then checks each edge of the pipeline:

* services and functions exist and are ready (``CONDITION_SUCCEEDED`` / ``ACTIVE``);
* a function's Pub/Sub trigger listens on the declared topic as its trigger identity;
* a push subscription is on the declared topic, pushes to ``<target uri><path>`` with an
  OIDC token for its own identity and the target as audience, and dead-letters to
  ``<subscription>-dlq`` after the declared number of attempts;
* every caller has ``roles/run.invoker`` on its target: push identities, function trigger
  identities, scheduler job identities, and services that call other services.

Expected values come from the manifest and the environment through ``infra.naming``. Prints
one line per check (``OK`` or ``FAIL`` with why and the fix) and a summary line.

Exit: 0 every check passed, 1 at least one failed, 2 could not verify (no usable
credentials, bad command line).
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal, Protocol, TextIO

from google.api_core.exceptions import GoogleAPIError, NotFound
from google.auth.exceptions import DefaultCredentialsError, RefreshError

from infra.cli import Parser, UsageError, one_line
from infra.model.envs import ENVS, EnvConfig, get_env
from infra.model.manifest import Manifest
from infra.model.naming import Names

if TYPE_CHECKING:
    from google.cloud.functions_v2 import FunctionServiceClient
    from google.cloud.pubsub_v1 import SubscriberClient
    from google.cloud.run_v2 import ServicesClient

JSON = Mapping[str, Any]

INVOKER_ROLE = "roles/run.invoker"
PUBLIC_MEMBERS = frozenset({"allUsers", "allAuthenticatedUsers"})
READY = "CONDITION_SUCCEEDED"
ACTIVE = "ACTIVE"

EXIT_OK = 0
EXIT_FAILED = 1
EXIT_CANNOT_VERIFY = 2


def dead_letter_topic_name(subscription: str) -> str:
    """The dead-letter topic of a push subscription (``PushEdgeProps``: ``<name>-dlq``)."""
    return f"{subscription}-dlq"


# --- reading the cloud -----------------------------------------------------------------------


class ReadError(Exception):
    """An API call failed for a reason other than not-found; the message is one line."""


class CloudReader(Protocol):
    """Reads resources by full resource name, as the v2 APIs return them (snake_case keys).

    Each method returns ``None`` when the resource does not exist and raises ``ReadError``
    for any other API failure. Credential errors (``google.auth.exceptions``) propagate.
    """

    def get_service(self, name: str) -> JSON | None:
        """Cloud Run v2 ``Service``: ``name``, ``uri``, ``urls``, ``terminal_condition``."""
        ...

    def get_service_iam_policy(self, name: str) -> JSON | None:
        """IAM ``Policy`` of a Cloud Run service: ``bindings: [{role, members, condition}]``."""
        ...

    def get_function(self, name: str) -> JSON | None:
        """Cloud Functions v2 ``Function``: ``state``, ``service_config``, ``event_trigger``."""
        ...

    def get_subscription(self, name: str) -> JSON | None:
        """Pub/Sub ``Subscription``: ``topic``, ``push_config``, ``dead_letter_policy``."""
        ...


class GoogleCloudReader:
    """``CloudReader`` over the official clients, each created on first use.

    Creating the reader needs no credentials; the first call does (Application Default
    Credentials: ``GOOGLE_APPLICATION_CREDENTIALS``, gcloud ADC, or the metadata server).
    """

    def __init__(self) -> None:
        self._run: ServicesClient | None = None
        self._functions: FunctionServiceClient | None = None
        self._pubsub: SubscriberClient | None = None

    @property
    def run(self) -> ServicesClient:
        if self._run is None:
            from google.cloud import run_v2

            self._run = run_v2.ServicesClient()
        return self._run

    @property
    def functions(self) -> FunctionServiceClient:
        if self._functions is None:
            from google.cloud import functions_v2

            self._functions = functions_v2.FunctionServiceClient()
        return self._functions

    @property
    def pubsub(self) -> SubscriberClient:
        if self._pubsub is None:
            from google.cloud import pubsub_v1

            self._pubsub = pubsub_v1.SubscriberClient()
        return self._pubsub

    @staticmethod
    def _call(what: str, call: Callable[[], JSON]) -> JSON | None:
        try:
            return call()
        except NotFound:
            return None
        except GoogleAPIError as err:
            raise ReadError(f"reading {what}: {one_line(err)}") from err

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


def proto_to_dict(message: Any) -> JSON:
    """A response message as JSON with the API's field names (proto-plus or raw protobuf).

    Same as the REST API's JSON but with snake_case field names: enums by name, fields at
    their default value (empty, zero, false) omitted.
    """
    from google.protobuf import json_format

    raw = type(message).pb(message) if hasattr(type(message), "pb") else message
    result: JSON = json_format.MessageToDict(raw, preserving_proto_field_name=True)
    return result


# --- what the manifest expects ---------------------------------------------------------------


@dataclass(frozen=True)
class Target:
    """Something callers need ``roles/run.invoker`` on: a Cloud Run service or a function.

    For a function the IAM policy lives on its Cloud Run service, found in the function's
    ``service_config.service``.
    """

    kind: Literal["service", "function"]
    key: str
    cloud_name: str


@dataclass(frozen=True)
class InvokerEdge:
    """``account`` must hold ``roles/run.invoker`` on ``target``; ``caller`` says why."""

    caller: str
    account: str
    target: Target


@dataclass(frozen=True)
class PushExpectation:
    """A push subscription as the stack declares it (names are short cloud names)."""

    subscription: str
    topic: str
    target: Target
    path: str
    account: str
    dead_letter_topic: str
    max_delivery_attempts: int


@dataclass(frozen=True)
class TriggerExpectation:
    """A function's Pub/Sub trigger: ``topic`` (short name) delivered as ``account``."""

    function: Target
    topic: str
    account: str


@dataclass(frozen=True)
class Expected:
    services: tuple[Target, ...]
    functions: tuple[Target, ...]
    triggers: tuple[TriggerExpectation, ...]
    subscriptions: tuple[PushExpectation, ...]
    invokers: tuple[InvokerEdge, ...]


def expected(manifest: Manifest, env: EnvConfig) -> Expected:
    """Everything the deployed ``env`` must show, derived from ``manifest`` via ``Names``."""
    names = Names(env)
    services = {s.key: Target("service", s.key, names.service(s)) for s in manifest.services}
    functions = {f.key: Target("function", f.key, names.function(f))
                 for f in manifest.functions}
    triggers: list[TriggerExpectation] = []
    subscriptions: list[PushExpectation] = []
    invokers: list[InvokerEdge] = []

    for t in manifest.transitions:
        source_topic = t.topic if t.kind == "direct" else t.trigger_topic
        assert source_topic is not None  # the manifest validates gated transitions
        sub = names.subscription(t.subscription)
        account = names.email(names.push_account(t))
        target = services[t.target_service]
        subscriptions.append(PushExpectation(
            subscription=sub, topic=names.topic(source_topic), target=target, path=t.path,
            account=account, dead_letter_topic=dead_letter_topic_name(sub),
            max_delivery_attempts=t.max_delivery_attempts,
        ))
        invokers.append(InvokerEdge(f"push subscription {sub}", account, target))
    for fn in manifest.functions:
        if fn.trigger_topic is None:
            continue
        account = names.email(names.trigger_account(fn))
        triggers.append(TriggerExpectation(functions[fn.key], names.topic(fn.trigger_topic),
                                           account))
        invokers.append(InvokerEdge(f"Pub/Sub trigger of {names.function(fn)}", account,
                                    functions[fn.key]))
    for job in manifest.jobs:
        target = services.get(job.target) or functions[job.target]
        invokers.append(InvokerEdge(f"scheduler job {names.job(job)}",
                                    names.email(names.job_account(job)), target))
    for svc in manifest.services:
        for callee in svc.invokes:
            invokers.append(InvokerEdge(f"service {names.service(svc)}",
                                        names.email(names.service_account(svc)),
                                        services[callee]))
    return Expected(tuple(services.values()), tuple(functions.values()), tuple(triggers),
                    tuple(subscriptions), tuple(invokers))


# --- checking ----------------------------------------------------------------------------------


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


class _Unavailable(Exception):
    """A resource a check depends on is missing; the message says which."""


class _Unreadable(Exception):
    """A read failed (``ReadError``); ``kind`` says which API, for the fix."""

    def __init__(self, kind: str, message: str) -> None:
        super().__init__(message)
        self.kind = kind


def _account_id(email: str) -> str:
    return email.split("@", 1)[0]


def _get(data: JSON | None, *path: str) -> Any:
    value: Any = data
    for key in path:
        value = value.get(key) if isinstance(value, Mapping) else None
    return value


class Verifier:
    """Checks one environment through ``reader``; each resource is read at most once."""

    def __init__(self, manifest: Manifest, env: EnvConfig, reader: CloudReader) -> None:
        self.manifest = manifest
        self.env = env
        self.reader = reader
        self.expected = expected(manifest, env)
        self._cache: dict[tuple[str, str], JSON | _Unreadable | None] = {}

    # resource names

    @property
    def _location(self) -> str:
        return f"projects/{self.env.project_id}/locations/{self.env.region}"

    def service_name(self, cloud_name: str) -> str:
        return f"{self._location}/services/{cloud_name}"

    def function_name(self, cloud_name: str) -> str:
        return f"{self._location}/functions/{cloud_name}"

    def subscription_name(self, name: str) -> str:
        return f"projects/{self.env.project_id}/subscriptions/{name}"

    def topic_name(self, name: str) -> str:
        return f"projects/{self.env.project_id}/topics/{name}"

    # reads

    def _read(self, kind: str, name: str) -> JSON | None:
        key = (kind, name)
        if key not in self._cache:
            readers: dict[str, Callable[[str], JSON | None]] = {
                "service": self.reader.get_service,
                "iam": self.reader.get_service_iam_policy,
                "function": self.reader.get_function,
                "subscription": self.reader.get_subscription,
            }
            try:
                self._cache[key] = readers[kind](name)
            except ReadError as err:
                self._cache[key] = _Unreadable(kind, str(err))
        value = self._cache[key]
        if isinstance(value, _Unreadable):
            raise value
        return value

    def _service_of(self, target: Target) -> str:
        """Full name of the Cloud Run service behind ``target``; ``_Unavailable`` if unknown."""
        if target.kind == "service":
            return self.service_name(target.cloud_name)
        function = self._read("function", self.function_name(target.cloud_name))
        if function is None:
            raise _Unavailable(f"function {target.cloud_name} not found")
        service = _get(function, "service_config", "service")
        if not service:
            raise _Unavailable(f"function {target.cloud_name} has no Cloud Run service yet")
        return str(service)

    # fixes

    def _apply_fix(self) -> str:
        return (f"the stack declares it: run `make plan ENV={self.env.name}` and "
                f"`make apply ENV={self.env.name}`")

    def _read_fix(self, kind: str) -> str:
        role = {"service": "roles/run.viewer", "iam": "roles/run.viewer",
                "function": "roles/cloudfunctions.viewer",
                "subscription": "roles/pubsub.viewer"}[kind]
        return f"give the verifying identity {role} on {self.env.project_id}"

    # checks

    def checks(self) -> Iterator[Check]:
        """Every check, in order: services, functions, triggers, subscriptions, invokers."""
        for target in self.expected.services:
            yield self._guard("service", target.cloud_name, lambda t=target: self._service(t))
        for target in self.expected.functions:
            yield self._guard("function", target.cloud_name, lambda t=target: self._function(t))
        for trig in self.expected.triggers:
            yield self._guard("trigger", trig.function.cloud_name,
                              lambda t=trig: self._trigger(t))
        for push in self.expected.subscriptions:
            yield self._guard("subscription", push.subscription,
                              lambda p=push: self._subscription(p))
        for edge in self.expected.invokers:
            subject = f"{_account_id(edge.account)} → {edge.target.cloud_name}"
            yield self._guard("invoker", subject, lambda e=edge: self._invoker(e))

    def _guard(self, kind: str, subject: str, check: Callable[[], Check]) -> Check:
        try:
            return check()
        except _Unreadable as err:
            return Check(False, kind, subject, f"could not read: {err}", self._read_fix(err.kind))
        except _Unavailable as err:
            return Check(False, kind, subject, f"cannot check: {err}", self._apply_fix())

    def _ready(self, service: JSON) -> str | None:
        """Why ``service`` is not ready, or ``None`` when it is."""
        state = _get(service, "terminal_condition", "state")
        if state == READY:
            return None
        message = _get(service, "terminal_condition", "message") or "no message"
        return f"not ready ({state or 'no terminal condition'}: {message})"

    def _public(self, service_name: str) -> str | None:
        """Why the service is public (any role for allUsers/allAuthenticatedUsers), or None."""
        policy = self._read("iam", service_name) or {}
        found = sorted({f"{b.get('role')} for {m}" for b in policy.get("bindings") or []
                        for m in b.get("members") or [] if m in PUBLIC_MEMBERS})
        return f"public: {', '.join(found)}" if found else None

    def _public_fix(self, short: str) -> str:
        return (f"remove the public binding (`gcloud run services remove-iam-policy-binding "
                f"{short} --project {self.env.project_id} --region {self.env.region} "
                f"--member allUsers --role roles/run.invoker`); pipeline services are private")

    def _service(self, target: Target) -> Check:
        service = self._read("service", self.service_name(target.cloud_name))
        if service is None:
            return Check(False, "service", target.cloud_name,
                         f"not found in {self._location}", self._apply_fix())
        problem = self._ready(service)
        if problem:
            return Check(False, "service", target.cloud_name, problem,
                         f"read the revision logs (`gcloud run services logs read "
                         f"{target.cloud_name} --project {self.env.project_id} --region "
                         f"{self.env.region}`); the container must listen on $PORT")
        public = self._public(self.service_name(target.cloud_name))
        if public:
            return Check(False, "service", target.cloud_name, public,
                         self._public_fix(target.cloud_name))
        return Check(True, "service", target.cloud_name, f"ready at {service.get('uri', '?')}")

    def _function(self, target: Target) -> Check:
        function = self._read("function", self.function_name(target.cloud_name))
        if function is None:
            return Check(False, "function", target.cloud_name,
                         f"not found in {self._location}", self._apply_fix())
        state = function.get("state")
        if state != ACTIVE:
            messages = [m.get("message", "") for m in function.get("state_messages") or []
                        if isinstance(m, Mapping)]
            why = f": {messages[0]}" if messages and messages[0] else ""
            return Check(False, "function", target.cloud_name, f"state {state}{why}",
                         f"`gcloud functions describe {target.cloud_name} --gen2 --region "
                         f"{self.env.region} --project {self.env.project_id}` and the build "
                         "logs; prove the code starts with `make check-functions`, then "
                         "plan and apply")
        service_name = self._service_of(target)
        service = self._read("service", service_name)
        short = service_name.rsplit("/", 1)[-1]
        if service is None:
            return Check(False, "function", target.cloud_name,
                         f"ACTIVE but its Cloud Run service {short} is not found",
                         self._apply_fix())
        problem = self._ready(service)
        if problem:
            return Check(False, "function", target.cloud_name,
                         f"ACTIVE but its Cloud Run service {short} is {problem}",
                         f"read the logs of {short}; redeploy with `make apply ENV="
                         f"{self.env.name}` once the code starts (`make check-functions`)")
        public = self._public(service_name)
        if public:
            return Check(False, "function", target.cloud_name, f"service {short} is {public}",
                         self._public_fix(short))
        return Check(True, "function", target.cloud_name, f"ACTIVE, service {short} ready")

    def _trigger(self, trig: TriggerExpectation) -> Check:
        name = trig.function.cloud_name
        function = self._read("function", self.function_name(name))
        if function is None:
            raise _Unavailable(f"function {name} not found")
        trigger = function.get("event_trigger")
        if not isinstance(trigger, Mapping) or not trigger:
            return Check(False, "trigger", name, "the function has no event trigger",
                         self._apply_fix())
        problems: list[str] = []
        want_topic = self.topic_name(trig.topic)
        if trigger.get("pubsub_topic") != want_topic:
            problems.append(f"topic is {trigger.get('pubsub_topic') or 'unset'}, "
                            f"expected {want_topic}")
        if trigger.get("service_account_email") != trig.account:
            problems.append(f"trigger identity is {trigger.get('service_account_email') or 'unset'}"
                            f", expected {trig.account}")
        if problems:
            return Check(False, "trigger", name, "; ".join(problems), self._apply_fix())
        return Check(True, "trigger", name,
                     f"{trig.topic} delivered as {_account_id(trig.account)}")

    def _subscription(self, push: PushExpectation) -> Check:
        sub = self._read("subscription", self.subscription_name(push.subscription))
        if sub is None:
            return Check(False, "subscription", push.subscription,
                         f"not found in project {self.env.project_id}", self._apply_fix())
        problems: list[str] = []
        want_topic = self.topic_name(push.topic)
        if sub.get("topic") != want_topic:
            problems.append(f"topic is {sub.get('topic')}, expected {want_topic}")

        endpoint = _get(sub, "push_config", "push_endpoint")
        audience = _get(sub, "push_config", "oidc_token", "audience")
        oidc_account = _get(sub, "push_config", "oidc_token", "service_account_email")
        service = self._read("service", self._service_of(push.target))
        if service is None:
            problems.append(f"target service {push.target.cloud_name} not found")
        else:
            uris = [u for u in [service.get("uri"), *(service.get("urls") or [])] if u]
            wanted = [f"{u}{push.path}" for u in uris]
            if endpoint not in wanted:
                problems.append(f"push endpoint is {endpoint or 'unset (pull)'}, expected "
                                f"{wanted[0] if wanted else push.target.cloud_name + push.path}")
            if audience not in uris:
                problems.append(f"OIDC audience is {audience or 'unset'}, expected "
                                f"{uris[0] if uris else push.target.cloud_name}")
        if oidc_account != push.account:
            problems.append(f"OIDC identity is {oidc_account or 'unset'}, expected "
                            f"{push.account}")
        want_dlq = self.topic_name(push.dead_letter_topic)
        dlq = _get(sub, "dead_letter_policy", "dead_letter_topic")
        if dlq != want_dlq:
            problems.append(f"dead-letter topic is {dlq or 'unset'}, expected {want_dlq}")
        attempts = _get(sub, "dead_letter_policy", "max_delivery_attempts")
        if dlq and attempts != push.max_delivery_attempts:
            problems.append(f"max delivery attempts is {attempts}, expected "
                            f"{push.max_delivery_attempts}")
        if problems:
            return Check(False, "subscription", push.subscription, "; ".join(problems),
                         f"{self._apply_fix()} (`make drift ENV={self.env.name}` shows what "
                         "changed)")
        return Check(True, "subscription", push.subscription,
                     f"{push.topic} → {endpoint} as {_account_id(push.account)}, "
                     f"dead letters to {push.dead_letter_topic} after "
                     f"{push.max_delivery_attempts} attempts")

    def _invoker(self, edge: InvokerEdge) -> Check:
        subject = f"{_account_id(edge.account)} → {edge.target.cloud_name}"
        service_name = self._service_of(edge.target)
        policy = self._read("iam", service_name)
        short = service_name.rsplit("/", 1)[-1]
        if policy is None:
            raise _Unavailable(f"Cloud Run service {short} not found")
        member = f"serviceAccount:{edge.account}"
        conditional = False
        for binding in policy.get("bindings") or []:
            if binding.get("role") != INVOKER_ROLE or member not in (binding.get("members")
                                                                     or []):
                continue
            if binding.get("condition"):
                conditional = True
                continue
            return Check(True, "invoker", subject, f"{INVOKER_ROLE} granted ({edge.caller})")
        where = " only under an IAM condition" if conditional else " missing"
        return Check(False, "invoker", subject,
                     f"{INVOKER_ROLE} for {member}{where} on {short}; {edge.caller} cannot "
                     "deliver",
                     f"{self._apply_fix()} (emergency: `gcloud run services "
                     f"add-iam-policy-binding {short} --project {self.env.project_id} "
                     f"--region {self.env.region} --member {member} --role {INVOKER_ROLE}`)")

    def run(self, out: TextIO) -> int:
        """Print every check and a summary; return the exit code.

        The header is printed with the first check, so an error before any check (no
        credentials) leaves stdout empty.
        """
        e = self.expected
        header = (f"verify {self.env.name}: project {self.env.project_id}, region "
                  f"{self.env.region}: {len(e.services)} services, {len(e.functions)} "
                  f"functions, {len(e.subscriptions)} push subscriptions, {len(e.invokers)} "
                  "invoker edges")
        failed = passed = 0
        for check in self.checks():
            if header:
                print(header, file=out, flush=True)
                header = ""
            print(check.line(), file=out, flush=True)
            if check.ok:
                passed += 1
            else:
                failed += 1
        verdict = "all OK" if not failed else f"{failed} FAIL"
        print(f"verify {self.env.name}: {passed + failed} checks, {passed} OK, {verdict}",
              file=out, flush=True)
        return EXIT_FAILED if failed else EXIT_OK


# --- CLI -------------------------------------------------------------------------------------



def build_parser() -> argparse.ArgumentParser:
    parser = Parser(prog="python -m infra.verify",
                     description="Check the deployed pipeline's IAM and wiring against the "
                                 "manifest.",
                     epilog="Exit: 0 all OK, 1 a check failed, 2 could not verify.")
    parser.add_argument("--env", required=True, choices=sorted(ENVS))
    return parser


def main(argv: Sequence[str] | None = None, reader: CloudReader | None = None) -> int:
    """Verify one environment; ``reader`` defaults to the official clients."""
    try:
        args = build_parser().parse_args(argv)
    except UsageError as err:
        print(f"verify: usage: {err}", file=sys.stderr)
        return EXIT_CANNOT_VERIFY
    from infra.model.pipeline import load

    env = get_env(args.env)
    verifier = Verifier(load(), env, reader or GoogleCloudReader())
    try:
        return verifier.run(sys.stdout)
    except (DefaultCredentialsError, RefreshError) as err:
        print(f"verify: no usable Google credentials ({one_line(err)}); run `gcloud auth "
              "application-default login` or set GOOGLE_APPLICATION_CREDENTIALS (CI: "
              "google-github-actions/auth with Workload Identity Federation)", file=sys.stderr)
        return EXIT_CANNOT_VERIFY


if __name__ == "__main__":
    sys.exit(main())
