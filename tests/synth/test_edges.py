"""Every edge of the synthesized stacks is complete: nothing can reach a target without the
identity, the audience, the dead-letter wiring and the invoker binding that make it work."""

from __future__ import annotations

import base64
import json

import pytest

from infra.model.envs import get_env
from infra.model.naming import Names
from infra.model.permissions import Grant, Target
from infra.model.pipeline import load
from infra.model.wiring import derive
from infra.stackjson.stack import StackJson, first
from infra.synth.constructs.base import index_of, logical_id
from infra.synth.stacks.pipeline_stack import check_grants
from tests.synth.tfassert import assert_at, at, iam_members_on, resource

PUBSUB_AGENT = ("serviceAccount:service-${data.google_project.project.number}"
                "@gcp-sa-pubsub.iam.gserviceaccount.com")


def push_subscriptions(stack: StackJson) -> list[str]:
    return [r.address for r in stack.of_type("google_pubsub_subscription")
            if r.body.get("push_config")]


def invoker_members(stack: StackJson, target_address: str) -> dict[str, str]:
    """member → role of every IAM member on ``target_address``."""
    return {body["member"]: body["role"] for _, body in iam_members_on(stack, target_address)}


@pytest.mark.parametrize("env", ["dev", "prod"])
def test_one_push_subscription_per_transition(stacks: dict[str, StackJson], env: str) -> None:
    names = Names(get_env(env))
    got = sorted(resource(stacks[env], a)["name"] for a in push_subscriptions(stacks[env]))
    assert got == sorted(names.subscription(t.subscription) for t in load().transitions)


@pytest.mark.parametrize("env", ["dev", "prod"])
def test_every_push_edge_is_complete(stacks: dict[str, StackJson], env: str) -> None:
    stack = stacks[env]
    for address in push_subscriptions(stack):
        sub = resource(stack, address)
        push = first(sub["push_config"])
        oidc = first(push.get("oidc_token"))
        sa = stack.ref_address(oidc.get("service_account_email"))
        assert sa and sa.startswith("google_service_account."), (
            f"{address}.push_config.oidc_token.service_account_email: expected a dedicated "
            f"identity, got {oidc.get('service_account_email')!r}")
        target = stack.refs(push["push_endpoint"])
        assert len(target) == 1 and target[0].startswith("google_cloud_run_v2_service."), (
            f"{address}.push_config.push_endpoint: {push['push_endpoint']!r}")
        assert_at(oidc, "audience", f"${{{target[0]}.uri}}")

        # Dead-letter topic, and a subscription on it, and the agent's grants.
        dlq = stack.ref_address(at(sub, "dead_letter_policy.dead_letter_topic"))
        assert dlq is not None, f"{address}.dead_letter_policy.dead_letter_topic: not a reference"
        dlq_subs = [r for r in stack.of_type("google_pubsub_subscription")
                    if stack.ref_address(r.body.get("topic")) == dlq]
        assert dlq_subs, f"{dlq}: dead-letter topic has no subscription"
        assert invoker_members(stack, dlq).get(PUBSUB_AGENT) == "roles/pubsub.publisher", (
            f"{dlq}: Pub/Sub agent needs roles/pubsub.publisher; got {invoker_members(stack, dlq)}")
        assert invoker_members(stack, address).get(PUBSUB_AGENT) == "roles/pubsub.subscriber", (
            f"{address}: Pub/Sub agent needs roles/pubsub.subscriber")
        assert invoker_members(stack, sa).get(PUBSUB_AGENT) == "roles/iam.serviceAccountTokenCreator"
        assert "retry_policy" in sub, f"{address}.retry_policy: missing"

        # Invoker on the target for exactly this identity, re-created with the target.
        member = f"serviceAccount:${{{sa}.email}}"
        on_target = iam_members_on(stack, target[0])
        mine = [(a, b) for a, b in on_target if b["member"] == member]
        assert [b["role"] for _, b in mine] == ["roles/run.invoker"], (
            f"{target[0]}: expected exactly roles/run.invoker for {member}, got {mine}")
        assert_at(mine[0][1], "lifecycle.replace_triggered_by", [f"{target[0]}.uid"])

        # The subscription waits for both grants it pushes with.
        token_creator = [a for a, b in iam_members_on(stack, sa) if b["member"] == PUBSUB_AGENT]
        assert set(sub["depends_on"]) >= {mine[0][0], *token_creator}, (
            f"{address}.depends_on: {sub['depends_on']}")


def test_function_trigger_identity_has_invoker_on_the_function_service(prod: StackJson) -> None:
    fn_address = "google_cloudfunctions2_function.phase3_to_phase4_orchestrator__function"
    fn = resource(prod, fn_address)
    trig = first(fn["event_trigger"])
    assert_at(trig, "event_type", "google.cloud.pubsub.topic.v1.messagePublished")
    assert_at(trig, "pubsub_topic", "${google_pubsub_topic.phase3_analytics_complete__topic.id}")
    sa = prod.ref_address(trig["service_account_email"])
    invokers = [b for _, b in iam_members_on(prod, fn_address)
                if b["role"] == "roles/run.invoker"]
    assert [b["member"] for b in invokers] == [f"serviceAccount:${{{sa}.email}}"]
    assert_at(invokers[0], "name", f"${{{fn_address}.service_config[0].service}}")
    # The name changes only when the function is replaced (and forces a new member): no
    # replace_triggered_by, which would re-create the grant on every code change.
    assert "lifecycle" not in invokers[0]
    token_creator = [a for a, b in iam_members_on(prod, sa) if b["member"] == PUBSUB_AGENT]
    assert len(token_creator) == 1 and token_creator[0] in fn["depends_on"]


def test_orchestrator_shape_and_publish_rights(prod: StackJson) -> None:
    fn = resource(prod, "google_cloudfunctions2_function.phase3_to_phase4_orchestrator__function")
    assert_at(fn, "name", "phase3-to-phase4-orchestrator")
    assert_at(fn, "build_config.entry_point", "handle_phase3_completion")
    assert_at(fn, "build_config.runtime", "python312")
    assert_at(fn, "service_config.timeout_seconds", 540)
    assert_at(fn, "service_config.available_memory", "512M")
    runtime = prod.ref_address(at(fn, "service_config.service_account_email"))
    member = f"serviceAccount:${{{runtime}.email}}"
    publish = [r.body["topic"] for r in prod.of_type("google_pubsub_topic_iam_member")
               if r.body["member"] == member]
    assert publish == ["${google_pubsub_topic.phase4_trigger__topic.name}"]


@pytest.mark.parametrize("job", load().jobs, ids=lambda j: j.key)
def test_every_scheduler_job_calls_its_target_as_declared(prod: StackJson, job) -> None:
    """Each job of the manifest, rendered: its cron and zone, its target's URL and route, its
    body, and an identity of its own holding invoker on the target."""
    body = resource(prod, f"google_cloud_scheduler_job.{logical_id(f'{job.key}-job', 'job')}")
    assert_at(body, "schedule", job.schedule)
    assert_at(body, "time_zone", job.time_zone)
    http = first(body["http_target"])
    assert http["http_method"] == job.http_method
    target = (f"google_cloud_run_v2_service.{logical_id(job.target, 'service')}"
              if job.target in {s.key for s in load().services}
              else f"google_cloudfunctions2_function.{logical_id(job.target, 'function')}")
    uri = "uri" if target.startswith("google_cloud_run") else "service_config[0].uri"
    # the root route is the bare URL
    assert http["uri"] == f"${{{target}.{uri}}}{job.path.rstrip('/')}"
    if job.body is None:
        assert "body" not in http
    else:
        assert json.loads(base64.b64decode(http["body"])) == json.loads(job.body)
    sa = prod.ref_address(first(http["oidc_token"])["service_account_email"])
    assert sa == f"google_service_account.{logical_id(f'{job.key}-job', 'identity')}"
    assert invoker_members(prod, target).get(f"serviceAccount:${{{sa}.email}}") == \
        "roles/run.invoker"


def test_the_same_day_jobs_backfill_the_upcoming_player_context(prod: StackJson) -> None:
    """The seeds' backup triggers: Phase 3's date-range route in backfill mode, for today
    and for tomorrow."""
    starts = {}
    for job in load().jobs:
        if job.key.startswith("same-day-phase3"):
            body = json.loads(job.body or "{}")
            assert (job.target, job.path) == ("phase3-analytics-processors", "/process-date-range")
            assert body["processors"] == ["UpcomingPlayerGameContextProcessor"]
            assert body["backfill_mode"] is True
            starts[job.key] = body["start_date"]
    assert {"TODAY", "TOMORROW"} <= set(starts.values())


@pytest.mark.parametrize("env", ["dev", "prod"])
def test_iam_is_additive_and_replaced_with_its_target(stacks: dict[str, StackJson], env: str) -> None:
    """Every member is re-created when its target is replaced, and only then."""
    from infra.model.provider.lifecycle import REPLACED_ONLY

    stack = stacks[env]
    authoritative = [r.address for r in stack.resources.values()
                     if r.type.endswith(("_iam_binding", "_iam_policy"))]
    assert authoritative == []
    members = [r for r in stack.resources.values()
               if r.type.endswith("_iam_member") and r.type != "google_project_iam_member"]
    assert len(members) > 20
    for r in members:
        targets = [a for a in stack.refs({k: v for k, v in r.body.items() if k != "member"})
                   if not a.startswith("data.")]
        assert targets, f"{r.address}: target is not a resource of the stack"
        if targets[0].startswith("google_cloudfunctions2_function."):
            assert_at(r.body, "name", f"${{{targets[0]}.service_config[0].service}}")
            assert "lifecycle" not in r.body, f"{r.address}: {r.body['lifecycle']}"
            continue
        attribute = REPLACED_ONLY[targets[0].split(".")[0]].attribute
        assert_at(r.body, "lifecycle.replace_triggered_by", [f"{targets[0]}.{attribute}"])


@pytest.mark.parametrize("env", ["dev", "prod"])
def test_no_public_default_or_primitive_identities(stacks: dict[str, StackJson], env: str) -> None:
    text = json.dumps(stacks[env].data)
    for bad in ("allUsers", "allAuthenticatedUsers", "-compute@developer.gserviceaccount.com",
                '"roles/owner"', '"roles/editor"', '"roles/viewer"'):
        assert bad not in text, f"pipeline-{env}: contains {bad}"


def test_services_are_internal_with_their_own_identity(prod: StackJson) -> None:
    """Internal only, except a service another service calls (its callers have no VPC egress:
    Cloud Run counts their calls as external)."""
    services = list(prod.of_type("google_cloud_run_v2_service"))
    assert len(services) == len(load().services)
    called = {load().service(k).cloud_name for s in load().services for k in s.invokes}
    assert called == {"prediction-worker"}
    identities = set()
    for svc in services:
        expected = "INGRESS_TRAFFIC_ALL" if svc.body["name"] in called else (
            "INGRESS_TRAFFIC_INTERNAL_ONLY")
        assert_at(svc.body, "ingress", expected)
        identities.add(at(svc.body, "template.service_account"))
    assert len(identities) == len(services), "services share an identity"


@pytest.mark.parametrize("env", ["dev", "prod"])
def test_every_resource_waits_for_its_apis(stacks: dict[str, StackJson], env: str) -> None:
    from infra.synth.constructs.apis import apis_for

    stack = stacks[env]
    checked = 0
    for res in stack.resources.values():
        rtype = res.type.removeprefix("data.")
        needed = {f"google_project_service.apis__{a}" for a in apis_for(rtype)}
        if needed:
            checked += 1
            got = set(res.body.get("depends_on", []))
            assert needed <= got, f"{res.address}.depends_on: missing {sorted(needed - got)}"
    assert checked > 40


def test_a_resource_needing_an_unlisted_api_is_refused() -> None:
    from cdktn import App, TerraformStack
    from cdktn_provider_google.pubsub_topic import PubsubTopic

    from infra.synth.constructs.apis import ProjectApis

    stack = TerraformStack(App(), "apis-under-test")
    apis = ProjectApis(stack, "apis", "proj-123456", apis=("run.googleapis.com",))
    PubsubTopic(stack, "t", name="t")
    with pytest.raises(KeyError, match=r"google_pubsub_topic needs the APIs \['pubsub'\]"):
        apis.order_before(stack)


def _member_count(stack: StackJson) -> int:
    return sum(1 for r in stack.resources.values() if r.type.endswith("_iam_member"))


@pytest.mark.parametrize("env", ["dev", "prod"])
def test_the_stack_makes_exactly_the_wirings_grants(stacks: dict[str, StackJson], env: str) -> None:
    """One IAM member per wiring grant: the stack grants nothing the wiring does not decide."""
    assert _member_count(stacks[env]) == len(derive(load(), get_env(env)).grants)


def test_grants_that_differ_from_the_wiring_refuse_to_synthesize() -> None:
    w = derive(load(), get_env("prod"))
    extra = Grant("serviceAccount:x@p.iam.gserviceaccount.com", "roles/pubsub.publisher",
                  Target("pubsub.topic", "nba-phase4-trigger"))
    check_grants(w, list(w.grants))
    with pytest.raises(ValueError, match=r"^pipeline-prod: the constructs granted x@p "
                                         r"roles/pubsub.publisher on pubsub.topic "
                                         r"nba-phase4-trigger beyond the wiring and left out "
                                         r"nothing; grant through infra.model.wiring$"):
        check_grants(w, [*w.grants, extra])
    with pytest.raises(ValueError, match=r"left out nba-fn-canary@nba-props-platform "
                                         r"roles/pubsub.subscriber on pubsub.subscription "
                                         r"nba-phase2-raw-sub-dlq-sub;"):
        check_grants(w, [g for g in w.grants if g.target.name != "nba-phase2-raw-sub-dlq-sub"])


def test_a_grant_no_construct_owns_is_refused(tmp_path) -> None:
    from cdktn import App

    from infra.synth.stacks.pipeline_stack import PipelineStack

    stack = PipelineStack(App(outdir=str(tmp_path)), load(), get_env("dev"), tmp_path / "b")
    odd = Grant(stack.wiring.grants_by("stack")[0].member, "roles/pubsub.viewer",
                Target("pubsub.topic", "nba-phase4-trigger"), "no reason")
    with pytest.raises(ValueError, match=r"^stack pipeline-dev: no construct grants "
                                         r".* roles/pubsub.viewer on pubsub.topic "
                                         r"nba-phase4-trigger \(no reason\)$"):
        stack._grant(odd, stack._granters())
    with pytest.raises(ValueError, match=r"grants to serviceAccount:nobody@x, which no"):
        stack._grant(Grant("serviceAccount:nobody@x", "roles/run.invoker",
                           Target("run.service", "prediction-worker")), stack._granters())
    # Each (target, role) has one owner: a second construct claiming a topic's publisher
    # grant is refused, not silently preferred.
    topic = stack.topics["phase4-trigger"]
    assert stack._granters()[topic.target, "roles/pubsub.publisher"] == topic.grant_publish
    other = next(c for c in index_of(stack).constructs if c is not topic and c.granters())
    other.granters = topic.granters
    with pytest.raises(ValueError, match=r"^stack pipeline-dev: two constructs grant "
                                         r"roles/pubsub.publisher on pubsub.topic "
                                         r"nba-phase4-trigger$"):
        stack._granters()
