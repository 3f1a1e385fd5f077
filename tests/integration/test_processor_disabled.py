"""(c) A processor disabled in the manifest and re-synthesized: the day still completes."""

from __future__ import annotations

import json
import time

import pytest

from infra.local.demo import run_demo
from infra.model.pipeline import load
from tests.integration.conftest import DISABLED_PROCESSOR
from tests.integration.support import Running, by_date, stack_json

pytestmark = pytest.mark.integration

GAME_DATE = "2031-03-10"


def test_the_resynthesized_orchestrator_no_longer_expects_the_processor(
        disabled: Running) -> None:
    functions = stack_json(disabled.stack)["resource"]["google_cloudfunctions2_function"]
    env = functions["phase3_to_phase4_orchestrator__function"]["service_config"][
        "environment_variables"]
    expected = json.loads(env["EXPECTED_PROCESSORS"])
    assert DISABLED_PROCESSOR not in expected
    assert expected == list(disabled.manifest.enabled_processors(3))


def test_the_day_completes_without_the_disabled_processor(disabled: Running) -> None:
    triggers = disabled.own_subscription("phase4-trigger", "disabled")
    lines: list[str] = []

    assert run_demo(disabled.workdir, GAME_DATE, timeout=30, say=lines.append) == 0, \
        "\n".join(lines)

    time.sleep(1.0)
    assert by_date(disabled.pubsub.drain(triggers)) == {GAME_DATE: 1}
    summary = disabled.document(f"phase3_completion/{GAME_DATE}")
    assert summary is not None
    expected = len(disabled.manifest.enabled_processors(3))
    assert expected == len(load().enabled_processors(3)) - 1
    assert summary["_completed_count"] == expected == summary["_expected_count"]
    assert DISABLED_PROCESSOR not in summary["_expected"]
    phase3 = [r for r in disabled.service_records("phase3-analytics-processors")
              if r.get("game_date") == GAME_DATE]
    published = {p["processor_name"] for r in phase3 for p in r["published"]}
    assert DISABLED_PROCESSOR not in published
    assert published == set(disabled.manifest.enabled_processors(3))
