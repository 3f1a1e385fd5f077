"""``iam.rules.config_drift``: each rule failing, with its id and address, on a minimal mutation."""

from __future__ import annotations

import json

from tests.iam.rules.support import (
    CANARY_ADDR,
    ORCH,
    ORCH_ADDR,
    Stack,
    canary_env,
    case,
    mutation_tests,
    orch_env,
    res,
)


@case("DRIFT-001", ORCH_ADDR)
def expects_disabled_processor(s: Stack) -> None:
    env = orch_env(s)
    env["EXPECTED_PROCESSORS"] = json.dumps(
        [*json.loads(env["EXPECTED_PROCESSORS"]), "p2_bdl_box_scores"])


@case("DRIFT-001", CANARY_ADDR)
def canary_expects_fewer(s: Stack) -> None:
    env = canary_env(s)
    gated = json.loads(env["GATED_TRANSITIONS"])
    gated[0]["expected"] = gated[0]["expected"][:-1]
    env["GATED_TRANSITIONS"] = json.dumps(gated)


test_mutation_is_caught = mutation_tests(__name__)


def test_drift_message_names_the_disabled_processor(prod, check):
    from infra.model.pipeline import load

    expects_disabled_processor(prod)
    (hit,) = [v for v in check(prod) if v.rule == "DRIFT-001"]
    assert "p2_bdl_box_scores is a phase 2 processor, disabled: BDL scrapers are off" in hit.message
    enabled = len(load().enabled_processors(3))
    assert f"lists {enabled + 1} processors but the manifest enables {enabled}" in hit.message


def test_source_phase_cannot_redirect_the_expected_set(prod, check):
    env = orch_env(prod)
    env["SOURCE_PHASE"] = "phase_2_raw"
    env["EXPECTED_PROCESSORS"] = json.dumps(["p2_bdl_box_scores"])
    messages = [v.message for v in check(prod) if v.rule == "DRIFT-001"]
    assert any("SOURCE_PHASE 'phase_2_raw' but the manifest gates phase_3_analytics" in m
               for m in messages)
    assert any("missing ['player_game_summary'" in m for m in messages)


def test_phase2_gate_expecting_the_disabled_processor(prod, check):
    # The seed-198 incident: a Phase 2 gate that still expects the disabled BDL processor.
    from infra.model.pipeline import load

    fn = res(prod, "google_cloudfunctions2_function", ORCH)
    fn["name"] = "phase2-gate"
    env = orch_env(prod)
    env["SOURCE_PHASE"] = "phase_2_raw"
    env["EXPECTED_PROCESSORS"] = json.dumps([*load().enabled_processors(2), "p2_bdl_box_scores"])
    messages = [v.message for v in check(prod, None) if v.rule == "DRIFT-001"]
    enabled = list(load().enabled_processors(2))
    assert messages == [
        f"EXPECTED_PROCESSORS lists {len(enabled) + 1} processors but the manifest enables "
        f"{len(enabled)} in phase 2 {enabled}: p2_bdl_box_scores is disabled (BDL "
        "scrapers are off), so it never completes and the gate waits forever; it is generated "
        "by infra.function_config from the manifest, never edited by hand"]
