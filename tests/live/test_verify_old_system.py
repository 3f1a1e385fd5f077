"""``make verify`` on the old system: removed-but-live resources and second deploy paths,
read from recorded inventories and trigger lists (``recorded/adoption/``), with the rest of
the project the healthy one generated from the stack (``tests/live/fake_project.py``)."""

import sys
from pathlib import Path

import pytest
from google.api_core.exceptions import PermissionDenied

from infra.live import verify
from infra.live.adopt_inputs import load_inventory, load_triggers, parse_inventory
from infra.live.adopt_report import plan_adoption
from infra.live.inventory import InventoryReader
from infra.live.verify import Verifier
from infra.model.envs import get_env
from infra.model.pipeline import load
from tests.live.inventories import ADOPTION, CLEAN, recorded_inventory

PROD = get_env("prod")
OLD_SYSTEM = ("removed", "deploy-path", "release-path")


def old_system_lines(project, inventory: InventoryReader, capsys) -> tuple[int, list[str]]:
    code = Verifier(load(), PROD, project, inventory).run(sys.stdout)
    lines = capsys.readouterr().out.splitlines()
    return code, [line for line in lines if line[:5].strip() in ("OK", "FAIL")
                  and line.split()[1] in OLD_SYSTEM]


def test_the_seeds_live_system_fails_on_what_survives_the_cut_over(project, capsys):
    code, lines = old_system_lines(project, recorded_inventory("seeds"), capsys)
    assert code == 1
    failed = "\n".join(line for line in lines if line.startswith("FAIL"))
    for name in ("Function phase2-to-phase3-orchestrator (us-west2)",
                 "Topic nba-phase3-trigger (global)",
                 "BuildTrigger deploy-phase2-to-phase3-orchestrator (global)"):
        assert f"FAIL removed      {name}:" in failed
    assert ("FAIL deploy-path  BuildTrigger auto-deploy-orchestrator-p3p4 (us-west2): deploys "
            "function phase3-to-phase4-orchestrator") in failed
    assert "fix: gcloud pubsub topics delete nba-phase3-trigger --project=nba-props-platform" \
        in failed
    assert not [line for line in lines if line.startswith("OK") and line.split()[1] in
                ("removed", "deploy-path")]


def test_verify_words_each_finding_as_the_adoption_report_does(project, prod, capsys):
    """One source: the FAIL lines are the adoption findings' own why and fix."""
    lives = load_inventory(ADOPTION / "seeds.inventory.json", PROD.project_id)
    a = plan_adoption(prod, load(), PROD, lives, load_triggers(ADOPTION / "seeds.triggers.json"))
    _, lines = old_system_lines(project, recorded_inventory("seeds"), capsys)
    failed = [line for line in lines if line.startswith("FAIL")]
    findings = [*a.removed, *a.second_deploy]
    assert len(failed) == len(findings)
    for line, f in zip(failed, findings, strict=True):
        assert line.endswith(f"{f.name} ({f.location}): {f.why}; fix: {f.fix}")


def test_a_clean_project_passes_the_old_system_checks(project, capsys):
    code, lines = old_system_lines(project, CLEAN, capsys)
    assert code == 0
    assert [line.split()[:2] for line in lines] == [
        ["OK", "removed"], ["OK", "deploy-path"], ["OK", "release-path"]]
    resources, triggers = CLEAN.read(PROD)
    live = [x for x in parse_inventory(resources, Path("clean"), PROD.project_id)
            if not x.foreign]
    assert f"{len(live)} live resources and {len(triggers)} build triggers read" in lines[0]


def test_regional_triggers_are_read_in_the_envs_region(project, capsys):
    asked: list[tuple[str, ...]] = []
    seeds = recorded_inventory("seeds")

    def triggers(project_id, locations):
        asked.append(tuple(locations))
        return seeds.triggers(project_id, locations)

    _, lines = old_system_lines(project, InventoryReader(seeds.search, triggers), capsys)
    assert asked == [("global", "us-west2")]
    assert any("auto-deploy-orchestrator-p3p4 (us-west2)" in line for line in lines)


@pytest.mark.parametrize("which", ["search", "triggers"])
def test_an_unreadable_inventory_exits_2_in_one_line_and_never_says_ok(project, which, capsys):
    def denied(*args):
        raise PermissionDenied("caller does not have permission cloudasset.assets."
                               "searchAllResources")

    reader = (InventoryReader(denied, CLEAN.triggers) if which == "search"
              else InventoryReader(CLEAN.search, denied))
    code = verify.main(["--env", "prod"], reader=project, inventory=reader)
    captured = capsys.readouterr()
    assert code == 2
    [err] = captured.err.splitlines()
    assert err.startswith("verify: could not verify the old system: reading the inventory of "
                          "project nba-props-platform: 403 caller does not have permission")
    assert "roles/cloudasset.viewer and roles/cloudbuild.builds.viewer" in err
    last = captured.out.splitlines()[-1]
    assert last.endswith("0 FAIL, the old system not checked") and "all OK" not in last
    assert not any(line.split()[1:2] == ["removed"] for line in captured.out.splitlines()
                   if line.startswith("OK"))


def test_a_malformed_api_answer_cannot_be_verified(project, capsys):
    reader = InventoryReader(lambda p: [{"name": "x"}], CLEAN.triggers)
    code = verify.main(["--env", "prod"], reader=project, inventory=reader)
    [err] = capsys.readouterr().err.splitlines()
    assert code == 2 and err == ("verify: could not verify the old system: <Cloud Asset "
                                 "inventory of nba-props-platform>: [0].name: expected a full "
                                 "resource name //<service>.googleapis.com/..., found 'x'")
