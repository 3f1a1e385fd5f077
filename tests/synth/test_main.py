"""The app entry: a summary on success, one line naming the problem on a bad manifest."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest

from infra.model.pipeline import PIPELINE
from infra.synth import main as app_main


def test_bad_manifest_is_one_line_and_exit_1(monkeypatch: pytest.MonkeyPatch, tmp_path: Path,
                                             capsys: pytest.CaptureFixture[str]) -> None:
    bad = replace(PIPELINE, completion_ttl_days=0)
    monkeypatch.setattr(app_main, "load", bad.validate)
    assert app_main.main(["--outdir", str(tmp_path)]) == 1
    out = capsys.readouterr()
    assert out.err.strip().splitlines() == [
        "synth failed: completion_ttl_days: invalid value 0; at least 1"]
    assert not (tmp_path / "stacks").exists()


def test_summary_lists_counts_and_edges(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert app_main.main(["--env", "dev", "--outdir", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert "synthesized 1 stack(s)" in out
    assert "google_cloud_run_v2_service_iam_member" in out
    assert ("push     nba-phase2-raw-complete (nba-phase3-analytics-sub) -> "
            "nba-phase3-analytics-processors/process  as "
            "nba-push-phase2-to-phase3@nba-props-platform-dev.iam.gserviceaccount.com") in out
