"""Everything derived from the manifest changes when, and only when, the manifest does.

No test here pins today's pipeline (how many jobs, which processors, which schedule): the
expectations are derived from the manifest and its wiring, or are behaviour (what a change
changes), so a decision in ``infra/model/pipeline.py`` is one edit there and ``make docs``.

There is no whole-stack snapshot. A snapshot of the synthesized stacks pinned every manifest
decision (each job, processor and schedule), so every decision also needed a snapshot refresh
that reviewers rubber-stamped. What it guarded is asserted where a failure names the cause:
each construct's attributes in its inventory (``tests/synth/constructs/inventories/``, built
from test props, independent of the manifest); the edges, jobs and monitoring rendered from the
manifest (``test_edges.py``, ``test_monitoring.py``); the stack's invariants on both stacks in the
policy gate (``iam/rules``); what a processor, code or shared-package change changes, here; the
resource count of each type by the rule that creates it, here; and on a real change, the plan
summary and the drift review.
"""

from __future__ import annotations

import json
import re
import shutil
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from functions._shared import completion
from infra.model.apis import PIPELINE_APIS
from infra.model.envs import get_env
from infra.model.manifest import Manifest
from infra.model.pipeline import load
from infra.model.wiring import Wiring, derive
from infra.paths import FUNCTIONS_DIR
from infra.stackjson.stack import StackJson
from infra.synth.app import synthesize
from infra.synth.bundle import SHARED_PACKAGE, build_bundle, content_hash
from infra.synth.docs import main as docs_main
from infra.synth.stacks import pipeline_stack
from tests.synth.tfassert import at

ORCH = "resource.google_cloudfunctions2_function.phase3_to_phase4_orchestrator__function"
CANARY = "resource.google_cloudfunctions2_function.pipeline_canary__function"


def diff(a: Any, b: Any, path: str = "") -> list[str]:
    """Paths where two JSON documents differ ("//" metadata ignored)."""
    if isinstance(a, dict) and isinstance(b, dict):
        out: list[str] = []
        for key in sorted(set(a) | set(b)):
            if key == "//":
                continue
            sub = f"{path}.{key}" if path else key
            if key not in a or key not in b:
                out.append(sub)
            else:
                out.extend(diff(a[key], b[key], sub))
        return out
    return [] if a == b else [path]


def synth_one(tmp: Path, manifest: Any = None, functions_dir: Path = FUNCTIONS_DIR) -> dict[str, Any]:
    paths = synthesize(manifest or load(), ("prod",), outdir=tmp, bundle_dir=tmp / "bundles",
                       functions_dir=functions_dir)
    return json.loads(paths["pipeline-prod"].read_text())


def expected_set(stack: dict[str, Any]) -> list[str]:
    return json.loads(at(stack, f"{ORCH}.service_config.environment_variables.EXPECTED_PROCESSORS"))


def test_orchestrator_expects_exactly_the_enabled_phase3_processors(prod: StackJson) -> None:
    assert expected_set(prod.data) == list(load().enabled_processors(3))
    canary = json.loads(at(prod.data, f"{CANARY}.service_config.environment_variables.GATED_TRANSITIONS"))
    assert [t["expected"] for t in canary] == [list(load().enabled_processors(3))]
    assert canary[0]["stall_minutes"] == 30


def test_disabling_a_phase3_processor_changes_only_the_expected_sets(
        prod: StackJson, tmp_path: Path) -> None:
    *kept, disabled = load().enabled_processors(3)
    changed = synth_one(tmp_path, load().with_processor_enabled(disabled, False))
    assert expected_set(changed) == kept
    assert sorted(diff(prod.data, changed)) == [
        f"{ORCH}.service_config.environment_variables.EXPECTED_PROCESSORS",
        f"{CANARY}.service_config.environment_variables.GATED_TRANSITIONS",
    ]


def test_disabling_a_phase2_processor_changes_nothing_in_the_stack(
        prod: StackJson, tmp_path: Path) -> None:
    """No gate waits on Phase 2: its processors reach the stack nowhere."""
    assert not any(t.source == 2 for t in load().gated())
    changed = synth_one(tmp_path, load().with_processor_enabled(load().enabled_processors(2)[0],
                                                                False))
    assert diff(prod.data, changed) == []


def test_code_change_in_one_function_changes_only_its_object(prod: StackJson, tmp_path: Path) -> None:
    functions = tmp_path / "functions"
    shutil.copytree(FUNCTIONS_DIR, functions, ignore=shutil.ignore_patterns("__pycache__"))
    with (functions / "phase3_to_phase4" / "main.py").open("a") as fh:
        fh.write("\n# a code change\n")
    changed = synth_one(tmp_path / "out", functions_dir=functions)
    bundle = "resource.google_storage_bucket_object.phase3_to_phase4_orchestrator__bundle"
    assert diff(prod.data, changed) == [f"{bundle}.name", f"{bundle}.source"]
    old, new = at(prod.data, f"{bundle}.name"), at(changed, f"{bundle}.name")
    assert re.fullmatch(r"functions/phase3_to_phase4-[0-9a-f]{16}\.zip", new) and old != new


def iam_members(stack: dict[str, Any]) -> dict[str, Any]:
    return {f"{t}.{n}": body for t, by in stack["resource"].items() if t.endswith("_iam_member")
            for n, body in by.items()}


def test_code_change_changes_no_iam_member(prod: StackJson, tmp_path: Path) -> None:
    """A new bundle hash updates the function in place: no grant is re-created or moved."""
    functions = tmp_path / "functions"
    shutil.copytree(FUNCTIONS_DIR, functions, ignore=shutil.ignore_patterns("__pycache__"))
    for source in ("phase3_to_phase4", "pipeline_canary"):
        with (functions / source / "main.py").open("a") as fh:
            fh.write("\n# a code change\n")
    changed = synth_one(tmp_path / "out", functions_dir=functions)
    before, after = iam_members(prod.data), iam_members(changed)
    assert sorted(after) == sorted(before)
    for address, body in before.items():
        assert after[address] == body, f"{address}: {diff(body, after[address])}"
        triggers = body.get("lifecycle", {}).get("replace_triggered_by", [])
        assert not any(t.startswith(("google_cloudfunctions2_function.",
                                     "google_storage_bucket_object.")) for t in triggers), (
            f"{address}: replace_triggered_by {triggers} fires on a code change")
    bundles = [a for a in diff(prod.data, changed) if "google_storage_bucket_object" not in a]
    assert bundles == []


def test_a_change_to_the_shared_package_changes_both_functions_objects(
        prod: StackJson, tmp_path: Path) -> None:
    functions = tmp_path / "functions"
    shutil.copytree(FUNCTIONS_DIR, functions, ignore=shutil.ignore_patterns("__pycache__"))
    with (functions / SHARED_PACKAGE / "completion.py").open("a") as fh:
        fh.write("\n# a shared code change\n")
    changed = synth_one(tmp_path / "out", functions_dir=functions)
    objects = [f"resource.google_storage_bucket_object.{fn}__bundle"
               for fn in ("phase3_to_phase4_orchestrator", "pipeline_canary")]
    assert diff(prod.data, changed) == [f"{o}.{a}" for o in sorted(objects) for a in ("name", "source")]


@pytest.mark.parametrize("fn", load().functions, ids=lambda fn: fn.source)
def test_every_bundle_ships_the_shared_package_beside_its_own(fn: Any, tmp_path: Path) -> None:
    files = build_bundle(fn.source, tmp_path, FUNCTIONS_DIR / fn.source).files
    shared = sorted(p.relative_to(FUNCTIONS_DIR.parent).as_posix()
                    for p in (FUNCTIONS_DIR / SHARED_PACKAGE).glob("*.py"))
    assert shared and set(shared) <= set(files), f"{fn.source}: {sorted(set(shared) - set(files))}"
    own = sorted(f"functions/{fn.source}/{p.name}" for p in (FUNCTIONS_DIR / fn.source).glob("*.py")
                 if p.name != "main.py")
    assert set(own) <= set(files) and "functions/__init__.py" in files
    assert {"main.py", "requirements.txt"} <= set(files)
    assert f"functions/{fn.source}/main.py" not in files


def test_stack_ttl_policies_cover_the_shared_completion_model(prod: StackJson) -> None:
    assert pipeline_stack.TTL_SUBCOLLECTIONS is completion.TTL_SUBCOLLECTIONS
    fields = list(prod.of_type("google_firestore_field"))
    assert set(completion.TTL_SUBCOLLECTIONS) <= {r.body["collection"] for r in fields}
    assert {r.body["field"] for r in fields} == {completion.EXPIRES_AT}


def test_bundles_are_deterministic_and_skip_caches_and_tests(tmp_path: Path) -> None:
    src = tmp_path / "fn"
    (src / "__pycache__").mkdir(parents=True)
    (src / "tests").mkdir()
    (src / "main.py").write_text("def handler(request):\n    return 'ok'\n")
    (src / "requirements.txt").write_text("functions-framework==3.10.2\n")
    first = build_bundle("fn", tmp_path / "a", src)
    (src / "__pycache__" / "main.cpython-311.pyc").write_bytes(b"junk")
    (src / "tests" / "test_main.py").write_text("def test(): pass\n")
    (src / "test_local.py").write_text("def test(): pass\n")
    second = build_bundle("fn", tmp_path / "b", src)
    assert first.sha256 == second.sha256 == content_hash(src)
    assert first.path.read_bytes() == second.path.read_bytes()
    assert second.files == ("main.py", "requirements.txt")
    (src / "requirements.txt").write_text("functions-framework==3.10.1\n")
    assert build_bundle("fn", tmp_path / "c", src).object_name != first.object_name


def test_bundles_keep_repository_paths_and_add_the_shared_package(tmp_path: Path) -> None:
    src = tmp_path / "fn"
    (src / "__pycache__").mkdir(parents=True)
    (src / "main.py").write_text("from functions.fn.logic import handler\n")
    (src / "logic.py").write_text("def handler(request):\n    return 'ok'\n")
    (src / "requirements.txt").write_text("functions-framework==3.10.2\n")
    (tmp_path / "__init__.py").write_text("")
    (tmp_path / SHARED_PACKAGE / "tests").mkdir(parents=True)
    (tmp_path / SHARED_PACKAGE / "model.py").write_text("X = 1\n")
    (tmp_path / SHARED_PACKAGE / "tests" / "test_model.py").write_text("def test(): pass\n")
    (tmp_path / SHARED_PACKAGE / "__pycache__").mkdir()
    (tmp_path / SHARED_PACKAGE / "__pycache__" / "model.cpython-311.pyc").write_bytes(b"junk")
    first = build_bundle("fn", tmp_path / "a", src)
    assert first.files == ("functions/__init__.py", "functions/_shared/model.py",
                           "functions/fn/logic.py", "main.py", "requirements.txt")
    assert build_bundle("fn", tmp_path / "b", src).path.read_bytes() == first.path.read_bytes()
    (tmp_path / SHARED_PACKAGE / "model.py").write_text("X = 2\n")
    assert build_bundle("fn", tmp_path / "c", src).sha256 != first.sha256


def test_bundle_without_main_names_the_folder(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match=r"function 'ghost': .*/ghost/main.py not found"):
        build_bundle("ghost", tmp_path, tmp_path / "ghost")


def expected_counts(manifest: Manifest, wiring: Wiring) -> dict[str, int]:
    """How many resources of each type the stack declares, by the rule that creates them."""
    on = Counter(g.target.kind for g in wiring.grants)
    canaries = sum(1 for fn in manifest.functions if fn.role == "canary")
    ttl_collections = ({t.completion_collection for t in manifest.gated()
                        if t.completion_collection} | set(completion.TTL_SUBCOLLECTIONS)
                       | ({completion.ANNOUNCEMENTS} if wiring.announcements else set()))
    return {
        "google_bigquery_dataset": len(manifest.datasets),
        "google_bigquery_table": len(manifest.tables),
        "google_cloud_run_v2_service": len(manifest.services),
        "google_cloud_scheduler_job": len(manifest.jobs),
        # each function: the function and its bundle object
        "google_cloudfunctions2_function": len(manifest.functions),
        "google_storage_bucket_object": len(manifest.functions),
        # the data buckets and the function-source bucket
        "google_storage_bucket": len(manifest.buckets) + 1,
        # the manifest's topics and one dead-letter topic per push edge
        "google_pubsub_topic": len(wiring.topics),
        # per push edge its subscription and its dead-letter subscription; the canary's own
        # pull subscription per gated transition
        "google_pubsub_subscription": 2 * len(wiring.edges) + len(wiring.announcements),
        # every identity the wiring names (the Pub/Sub agent is Google's)
        "google_service_account": len(wiring.identities) - 1,
        # one IAM member per grant of the wiring, by what it is granted on
        "google_bigquery_dataset_iam_member": on["bigquery.dataset"],
        "google_cloud_run_v2_service_iam_member": on["run.service"] + on["function.service"],
        "google_project_iam_member": on["project"],
        "google_pubsub_subscription_iam_member": on["pubsub.subscription"],
        "google_pubsub_topic_iam_member": on["pubsub.topic"],
        "google_service_account_iam_member": on["iam.serviceAccount"],
        "google_storage_bucket_iam_member": on["storage.bucket"],
        "google_firestore_database": 1,
        "google_firestore_field": len(ttl_collections),
        "google_project_service": len(PIPELINE_APIS),
        # the manifest's ERROR-log policies; per push edge a backlog and a dead-letter policy;
        # per Pub/Sub trigger a backlog policy; per scheduler job a failure policy; per canary
        # a heartbeat (on its log-based metric)
        "google_monitoring_alert_policy": len(manifest.alerts) + 2 * len(wiring.edges)
        + len(wiring.triggers) + len(manifest.jobs) + canaries,
        "google_logging_metric": canaries,
        "google_monitoring_dashboard": 1,
        "google_monitoring_notification_channel": 1,
        # one propagation wait per identity something acts as
        # (infra.synth.constructs.propagation)
        "time_sleep": len(set(wiring.slots.values())),
    }


@pytest.mark.parametrize("env", ["dev", "prod"])
def test_resource_counts_follow_the_manifest(stacks: dict[str, StackJson], env: str) -> None:
    """Adding a job adds its job, identity, invoker, wait and failure policy; nothing is
    counted by hand."""
    counts = Counter(r.type for r in stacks[env].resources.values()
                     if not r.type.startswith(("data.", "ephemeral.")))
    wiring = derive(load(), get_env(env))
    assert dict(sorted(counts.items())) == dict(sorted(expected_counts(load(), wiring).items()))


def test_removed_orchestrator_and_topic_exist_nowhere(stacks: dict[str, StackJson]) -> None:
    for env, stack in stacks.items():
        text = json.dumps(stack.data)
        for removed in ("phase2-to-phase3-orchestrator", "nba-phase3-trigger", "phase2_to_phase3"):
            assert removed not in text, f"pipeline-{env} contains {removed}"


def test_data_stores_are_protected(prod: StackJson) -> None:
    for rtype in ("google_bigquery_dataset", "google_bigquery_table", "google_firestore_database"):
        for r in prod.of_type(rtype):
            assert at(r.body, "lifecycle.prevent_destroy") is True, f"{r.address}: no prevent_destroy"
    tables = {r.body["table_id"]: r.body for r in prod.of_type("google_bigquery_table")}
    assert set(tables) == {"phase_completions", "phase_execution_log", "scraper_execution_log",
                           "processor_run_history"}
    assert at(tables["phase_completions"], "time_partitioning.field") == "game_date"
    ttl = {r.body["collection"] for r in prod.of_type("google_firestore_field")}
    assert "phase3_completion" in ttl


def test_alert_token_comes_from_secret_manager(prod: StackJson) -> None:
    channel = next(prod.of_type("google_monitoring_notification_channel"))
    token = at(channel.body, "sensitive_labels.auth_token_wo")
    assert token.startswith("${ephemeral.google_secret_manager_secret_version.")
    assert "auth_token" not in channel.body["sensitive_labels"]
    policies = list(prod.of_type("google_monitoring_alert_policy"))
    errors = [p for p in policies if p.name.startswith("alerts__errors_")]
    filters = " ".join(at(p.body, "conditions[0].condition_matched_log.filter") for p in errors)
    assert "phase3-to-phase4-orchestrator" in filters and "nba-phase3-analytics-processors" in filters
    assert {at(p.body, "alert_strategy.auto_close") for p in policies} == {"3600s"}
    channel_ref = f"${{{channel.address}.name}}"
    assert all(p.body["notification_channels"] == [channel_ref] for p in policies)


def test_readme_tables_and_diagram_match_the_manifest() -> None:
    assert docs_main(["README.md"]) == 0


def test_stale_readme_is_detected(tmp_path: Path) -> None:
    readme = tmp_path / "README.md"
    text = Path("README.md").read_text().replace("nba-phase3-analytics-sub", "nba-old-sub", 1)
    readme.write_text(text)
    assert docs_main([str(readme)]) == 1


def test_a_services_declared_env_is_rendered_beside_the_stacks_own(tmp_path: Path,
                                                                    monkeypatch) -> None:
    from dataclasses import replace

    from infra.model.envs import get_env
    from infra.synth import app

    extra = replace(get_env("prod"), service_env={"phase1-scrapers": {"BDL_ENABLED": "false"}})
    monkeypatch.setattr(app, "get_env", lambda name: extra)
    paths = app.synthesize(load(), ("prod",), outdir=tmp_path, bundle_dir=tmp_path / "bundles")
    stack = json.loads(paths["pipeline-prod"].read_text())
    svc = stack["resource"]["google_cloud_run_v2_service"]["phase1_scrapers__service"]
    env = {e["name"]: e["value"] for e in svc["template"]["containers"][0]["env"]}
    assert env["BDL_ENABLED"] == "false" and env["SPORT"] == "nba"
