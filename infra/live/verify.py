"""Live verification: is the deployed environment wired the way the manifest says?

    python -m infra.verify --env prod

Run after ``make apply``. Reads (``infra.live.verify_reads``: each resource once, through
``infra.live.reader``) every Cloud Run service the manifest declares (and the Cloud Run
service behind every function), every function, every push subscription and the IAM policy
of everything the wiring grants on, then checks:

* services and functions exist, are ready (``CONDITION_SUCCEEDED`` / ``ACTIVE``) and are not
  public;
* a function's Pub/Sub trigger listens on the declared topic as its trigger identity;
* a push subscription is on the declared topic, pushes to ``<target uri><path>`` with an
  OIDC token for its own identity and the target as audience, and dead-letters to its own
  dead-letter topic after the declared number of attempts;
* every grant of the wiring is held, unconditionally: invoker on services and function
  services, publisher on topics, subscriber on subscriptions, the Pub/Sub agent's token
  creator on push and trigger identities, dataEditor on datasets, the project roles
  (Firestore, function builds) and the build identity's read on the source bucket;
* nothing of the old system survives the cut-over: no resource the manifest lists under
  ``removed`` is live, and no Cloud Build trigger deploys a function this repo owns (a second
  deploy path resets its IAM). Read from the project's inventory and build triggers
  (``infra.live.old_system``), judged by the adoption report's own findings.

Expectations come from ``infra.model.wiring``, the one derivation of the manifest's wiring.
Prints one line per check (``OK`` or ``FAIL`` with why and the fix) and a summary line.

Exit: 0 every check passed, 1 at least one failed, 2 could not verify (no usable
credentials, the inventory or build triggers unreadable, bad command line).
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Iterator, Mapping, Sequence
from functools import partial
from typing import TextIO

from google.auth.exceptions import DefaultCredentialsError, RefreshError

from infra.cli import Parser, UsageError, add_env_argument, one_line
from infra.live.adopt_findings import Finding
from infra.live.inventory import CannotRead, InventoryReader
from infra.live.old_system import read_old_system
from infra.live.reader import JSON, CloudReader, GoogleCloudReader, ReadError
from infra.live.verify_reads import (
    Check,
    LiveProject,
    Unavailable,
    Unreadable,
    account_id,
    email,
    get_path,
)
from infra.model.envs import EnvConfig, get_env
from infra.model.manifest import Manifest
from infra.model.permissions import (
    DATA_EDITOR,
    DATASTORE_USER,
    DATASTORE_VIEWER,
    INVOKER,
    PUBLISHER,
    SUBSCRIBER,
    TOKEN_CREATOR,
    Grant,
    Target,
)
from infra.model.pipeline import load
from infra.model.wiring import PushEdge, Trigger, derive

__all__ = ["CloudReader", "GoogleCloudReader", "ReadError", "Verifier", "main"]

PUBLIC_MEMBERS = frozenset({"allUsers", "allAuthenticatedUsers"})
READY = "CONDITION_SUCCEEDED"
ACTIVE = "ACTIVE"

# The check kind printed for each role (what a reader scans the output for).
ROLE_KINDS = {INVOKER: "invoker", PUBLISHER: "publisher", SUBSCRIBER: "subscriber",
              TOKEN_CREATOR: "token", DATA_EDITOR: "data-editor", DATASTORE_USER: "datastore",
              DATASTORE_VIEWER: "datastore"}

EXIT_OK = 0
EXIT_FAILED = 1
EXIT_CANNOT_VERIFY = 2


# --- checking ----------------------------------------------------------------------------------


class Verifier(LiveProject):
    """Checks one environment through ``reader``; each resource is read at most once."""

    def __init__(self, manifest: Manifest, env: EnvConfig, reader: CloudReader,
                 inventory: InventoryReader) -> None:
        super().__init__(env, reader)
        self.manifest = manifest
        self.inventory = inventory
        self.wiring = derive(manifest, env)

    # checks

    def checks(self) -> Iterator[Check]:
        """Every check, in order: services, functions, triggers, subscriptions, grants, the
        old system. ``CannotRead`` when the inventory or the build triggers cannot be read."""
        w = self.wiring
        for name in w.services:
            yield self._guard("service", name, partial(self._service, name))
        for name in w.functions:
            yield self._guard("function", name, partial(self._function, name))
        for trig in w.triggers:
            yield self._guard("trigger", trig.function, partial(self._trigger, trig))
        for edge in w.edges:
            yield self._guard("subscription", edge.subscription,
                              partial(self._subscription, edge))
        for grant in w.grants:
            kind = ROLE_KINDS.get(grant.role, "iam")
            subject = f"{account_id(grant.member)} → {grant.target.name}"
            yield self._guard(kind, subject, partial(self._grant, grant, kind, subject))
        yield from self._old_system()

    def _old_system(self) -> Iterator[Check]:
        old = read_old_system(self.manifest, self.env, self.inventory)

        def failed(kind: str, f: Finding) -> Check:
            return Check(False, kind, f"{f.kind.split('/')[-1]} {f.name} ({f.location})",
                         f.why, f.fix)

        read = f"{old.resources} live resources and {old.triggers} build triggers read"
        yield from (failed("removed", f) for f in old.removed)
        if not old.removed:
            yield Check(True, "removed", "old system",
                        f"nothing listed in removed is live ({read})")
        yield from (failed("deploy-path", f) for f in old.second_deploy)
        if not old.second_deploy:
            functions = ", ".join(f.key for f in self.manifest.functions)
            yield Check(True, "deploy-path", "functions",
                        f"no Cloud Build trigger deploys {functions} ({read})")
        for f in old.release_paths:
            yield Check(True, "release-path", f"BuildTrigger {f.name} ({f.location})", f.why)

    def _guard(self, kind: str, subject: str, check: Callable[[], Check]) -> Check:
        try:
            return check()
        except Unreadable as err:
            return Check(False, kind, subject, f"could not read: {err}", self.read_fix(err.kind))
        except Unavailable as err:
            return Check(False, kind, subject, f"cannot check: {err}", self.apply_fix())

    def _ready(self, service: JSON) -> str | None:
        """Why ``service`` is not ready, or ``None`` when it is."""
        state = get_path(service, "terminal_condition", "state")
        if state == READY:
            return None
        message = get_path(service, "terminal_condition", "message") or "no message"
        return f"not ready ({state or 'no terminal condition'}: {message})"

    def _public(self, service_name: str) -> str | None:
        """Why the service is public (any role for allUsers/allAuthenticatedUsers), or None."""
        policy = self.read("iam", service_name) or {}
        found = sorted({f"{b.get('role')} for {m}" for b in policy.get("bindings") or []
                        for m in b.get("members") or [] if m in PUBLIC_MEMBERS})
        return f"public: {', '.join(found)}" if found else None

    def _public_fix(self, short: str) -> str:
        return (f"remove the public binding (`gcloud run services remove-iam-policy-binding "
                f"{short} --project {self.env.project_id} --region {self.env.region} "
                f"--member allUsers --role roles/run.invoker`); pipeline services are private")

    def _service(self, name: str) -> Check:
        service = self.read("service", self.service_name(name))
        if service is None:
            return Check(False, "service", name, f"not found in {self.location}",
                         self.apply_fix())
        problem = self._ready(service)
        if problem:
            return Check(False, "service", name, problem,
                         f"read the revision logs (`gcloud run services logs read {name} "
                         f"--project {self.env.project_id} --region {self.env.region}`); the "
                         "container must listen on $PORT")
        public = self._public(self.service_name(name))
        if public:
            return Check(False, "service", name, public, self._public_fix(name))
        return Check(True, "service", name, f"ready at {service.get('uri', '?')}")

    def _function(self, name: str) -> Check:
        function = self.read("function", self.function_name(name))
        if function is None:
            return Check(False, "function", name, f"not found in {self.location}",
                         self.apply_fix())
        state = function.get("state")
        if state != ACTIVE:
            messages = [m.get("message", "") for m in function.get("state_messages") or []
                        if isinstance(m, Mapping)]
            why = f": {messages[0]}" if messages and messages[0] else ""
            return Check(False, "function", name, f"state {state}{why}",
                         f"`gcloud functions describe {name} --gen2 --region "
                         f"{self.env.region} --project {self.env.project_id}` and the build "
                         "logs; prove the code starts with `make check-functions`, then "
                         "plan and apply")
        service_name = self.service_of(Target("function.service", name))
        service = self.read("service", service_name)
        short = service_name.rsplit("/", 1)[-1]
        if service is None:
            return Check(False, "function", name,
                         f"ACTIVE but its Cloud Run service {short} is not found",
                         self.apply_fix())
        problem = self._ready(service)
        if problem:
            return Check(False, "function", name,
                         f"ACTIVE but its Cloud Run service {short} is {problem}",
                         f"read the logs of {short}; redeploy with `make apply ENV="
                         f"{self.env.name}` once the code starts (`make check-functions`)")
        public = self._public(service_name)
        if public:
            return Check(False, "function", name, f"service {short} is {public}",
                         self._public_fix(short))
        return Check(True, "function", name, f"ACTIVE, service {short} ready")

    def _trigger(self, trig: Trigger) -> Check:
        name = trig.function
        function = self.read("function", self.function_name(name))
        if function is None:
            raise Unavailable(f"function {name} not found")
        trigger = function.get("event_trigger")
        if not isinstance(trigger, Mapping) or not trigger:
            return Check(False, "trigger", name, "the function has no event trigger",
                         self.apply_fix())
        problems: list[str] = []
        want_topic = self.topic_name(trig.topic)
        if trigger.get("pubsub_topic") != want_topic:
            problems.append(f"topic is {trigger.get('pubsub_topic') or 'unset'}, "
                            f"expected {want_topic}")
        account = email(trig.member)
        if trigger.get("service_account_email") != account:
            problems.append(f"trigger identity is {trigger.get('service_account_email') or 'unset'}"
                            f", expected {account}")
        if problems:
            return Check(False, "trigger", name, "; ".join(problems), self.apply_fix())
        return Check(True, "trigger", name, f"{trig.topic} delivered as {trig.account_id}")

    def _subscription(self, edge: PushEdge) -> Check:
        sub = self.read("subscription", self.subscription_name(edge.subscription))
        if sub is None:
            return Check(False, "subscription", edge.subscription,
                         f"not found in project {self.env.project_id}", self.apply_fix())
        problems: list[str] = []
        want_topic = self.topic_name(edge.topic)
        if sub.get("topic") != want_topic:
            problems.append(f"topic is {sub.get('topic')}, expected {want_topic}")

        endpoint = get_path(sub, "push_config", "push_endpoint")
        audience = get_path(sub, "push_config", "oidc_token", "audience")
        oidc_account = get_path(sub, "push_config", "oidc_token", "service_account_email")
        service = self.read("service", self.service_of(edge.target))
        if service is None:
            problems.append(f"target service {edge.target.name} not found")
        else:
            uris = [u for u in [service.get("uri"), *(service.get("urls") or [])] if u]
            wanted = [f"{u}{edge.path}" for u in uris]
            if endpoint not in wanted:
                problems.append(f"push endpoint is {endpoint or 'unset (pull)'}, expected "
                                f"{wanted[0] if wanted else edge.target.name + edge.path}")
            if audience not in uris:
                problems.append(f"OIDC audience is {audience or 'unset'}, expected "
                                f"{uris[0] if uris else edge.target.name}")
        account = email(edge.member)
        if oidc_account != account:
            problems.append(f"OIDC identity is {oidc_account or 'unset'}, expected {account}")
        want_dlq = self.topic_name(edge.dead_letter_topic)
        dlq = get_path(sub, "dead_letter_policy", "dead_letter_topic")
        if dlq != want_dlq:
            problems.append(f"dead-letter topic is {dlq or 'unset'}, expected {want_dlq}")
        attempts = get_path(sub, "dead_letter_policy", "max_delivery_attempts")
        if dlq and attempts != edge.max_delivery_attempts:
            problems.append(f"max delivery attempts is {attempts}, expected "
                            f"{edge.max_delivery_attempts}")
        if problems:
            return Check(False, "subscription", edge.subscription, "; ".join(problems),
                         f"{self.apply_fix()} (`make drift ENV={self.env.name}` shows what "
                         "changed)")
        return Check(True, "subscription", edge.subscription,
                     f"{edge.topic} → {endpoint} as {edge.account_id}, dead letters to "
                     f"{edge.dead_letter_topic} after {edge.max_delivery_attempts} attempts")

    # grants

    def _grant(self, grant: Grant, kind: str, subject: str) -> Check:
        what, policy = self.policy_of(grant.target)
        if policy is None:
            raise Unavailable(f"{what} not found")
        member = self.live_member(grant.member)
        conditional = False
        for binding in policy.get("bindings") or []:
            if binding.get("role") != grant.role or member not in (binding.get("members") or []):
                continue
            expression = (binding.get("condition") or {}).get("expression", "")
            if expression != grant.condition:
                conditional = True
                continue
            return Check(True, kind, subject, f"{grant.role} granted ({grant.why})")
        where = " missing"
        if conditional:
            where = (f" not under its condition ({grant.condition})" if grant.condition
                     else " only under an IAM condition")
        return Check(False, kind, subject,
                     f"{grant.role} for {member}{where} on {what}; needed: {grant.why}",
                     f"{self.apply_fix()}{self._emergency(grant, member)}")

    def _emergency(self, grant: Grant, member: str) -> str:
        """The one-off gcloud command restoring ``grant`` until the next apply, if any."""
        p, name, t = self.env.project_id, grant.target.name, grant.target
        tail = f"--project {p} --member {member} --role {grant.role}"
        if t.kind in ("run.service", "function.service"):
            command = (f"gcloud run services add-iam-policy-binding {name} --project {p} "
                       f"--region {self.env.region} --member {member} --role {grant.role}")
        elif t.kind == "pubsub.topic":
            command = f"gcloud pubsub topics add-iam-policy-binding {name} {tail}"
        elif t.kind == "pubsub.subscription":
            command = f"gcloud pubsub subscriptions add-iam-policy-binding {name} {tail}"
        elif t.kind == "iam.serviceAccount":
            command = f"gcloud iam service-accounts add-iam-policy-binding {name} {tail}"
        elif t.kind == "project":
            command = (f"gcloud projects add-iam-policy-binding {name} --member {member} "
                       f"--role {grant.role}")
        elif t.kind == "storage.bucket":
            command = (f"gcloud storage buckets add-iam-policy-binding gs://{name} "
                       f"--member {member} --role {grant.role}")
        else:
            return ""
        return f" (emergency: `{command}`)"

    def run(self, out: TextIO) -> int:
        """Print every check and a summary; return the exit code.

        The header is printed with the first check, so an error before any check (no
        credentials) leaves stdout empty.
        """
        w = self.wiring
        header = (f"verify {self.env.name}: project {self.env.project_id}, region "
                  f"{self.env.region}: {len(w.services)} services, {len(w.functions)} "
                  f"functions, {len(w.edges)} push subscriptions, {len(w.grants)} grants, "
                  "the old system")
        failed = passed = 0
        try:
            for check in self.checks():
                if header:
                    print(header, file=out, flush=True)
                    header = ""
                print(check.line(), file=out, flush=True)
                if check.ok:
                    passed += 1
                else:
                    failed += 1
        except CannotRead as err:
            # Never "all OK" for what was not read: the summary says so, exit 2.
            print(f"verify {self.env.name}: {passed + failed} checks, {passed} OK, "
                  f"{failed} FAIL, the old system not checked", file=out, flush=True)
            print(f"verify: could not verify the old system: {err}", file=sys.stderr)
            return EXIT_CANNOT_VERIFY
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
    add_env_argument(parser, required=True)
    return parser


def main(argv: Sequence[str] | None = None, reader: CloudReader | None = None,
         inventory: InventoryReader | None = None) -> int:
    """Verify one environment; ``reader`` and ``inventory`` default to the official clients."""
    try:
        args = build_parser().parse_args(argv)
    except UsageError as err:
        print(f"verify: usage: {err}", file=sys.stderr)
        return EXIT_CANNOT_VERIFY
    env = get_env(args.env)
    verifier = Verifier(load(), env, reader or GoogleCloudReader(),
                        inventory or InventoryReader())
    try:
        return verifier.run(sys.stdout)
    except (DefaultCredentialsError, RefreshError) as err:
        print(f"verify: no usable Google credentials ({one_line(err)}); run `gcloud auth "
              "application-default login` or set GOOGLE_APPLICATION_CREDENTIALS (CI: "
              "google-github-actions/auth with Workload Identity Federation)", file=sys.stderr)
        return EXIT_CANNOT_VERIFY


if __name__ == "__main__":
    sys.exit(main())
