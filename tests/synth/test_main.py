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


def test_summary_says_what_the_adoption_record_added(tmp_path: Path,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    from infra.model.adoption import Import, Kept, render_record
    from infra.model.pipeline import load
    from infra.synth import summary
    from infra.synth.app import synthesize

    project = "nba-props-platform"
    database = "google_firestore_database.firestore__database"
    imports = [Import("google_pubsub_topic.phase4_trigger__topic", "google_pubsub_topic",
                      f"projects/{project}/topics/nba-phase4-trigger", "x"),
               Import(database, "google_firestore_database",
                      f"projects/{project}/databases/(default)", "y")]
    kept = [Kept(database, "point_in_time_recovery_enablement", "POINT_IN_TIME_RECOVERY_ENABLED")]
    # Shown relative to the repository when the record is inside it, as make synth reads it.
    monkeypatch.setattr(summary, "REPO_ROOT", tmp_path)
    adoption = tmp_path / "infra" / "adoption"
    adoption.mkdir(parents=True)
    (adoption / "prod.json").write_text(render_record("prod", project, imports, kept))
    stacks = synthesize(load(), ("prod",), outdir=tmp_path / "out",
                        bundle_dir=tmp_path / "bundles", adoption_dir=adoption)
    text = summary.summarize(stacks, 1.0, adoption)
    header, adopted = text.splitlines()[2:4]
    assert header.startswith("pipeline-prod: ")
    assert adopted == "  adoption: 2 imports (infra/adoption/prod.json), 1 kept live value"
    assert summary.adoption_line("dev", adoption) is None, "no record: no line"
    assert summary.adoption_line("prod", None) is None, "synthesized without adoption"


def test_type_checks_are_off_only_inside_the_command(tmp_path: Path) -> None:
    """``main`` synthesizes without jsii's argument checks and restores them when it returns,
    so every later synthesis in the same process (the tests') checks a call of the wrong
    type again: Python's check refuses it (``TypeError``) before JavaScript would
    (``RuntimeError``)."""
    from cdktn import App, TerraformStack
    from cdktn_provider_google.pubsub_topic import PubsubTopic

    app = App(outdir=str(tmp_path / "out"))

    def wrong_type(stack_id: str) -> None:
        PubsubTopic(TerraformStack(app, stack_id), "t", name=123)  # type: ignore[arg-type]

    with app_main.jsii_debug_type_checks_off(), pytest.raises(RuntimeError, match="not a string"):
        wrong_type("unchecked")
    with pytest.raises(TypeError, match="name"):
        wrong_type("checked")
    assert app_main.main(["--env", "dev", "--quiet", "--outdir", str(tmp_path)]) == 0
    with pytest.raises(TypeError, match="name"):
        wrong_type("checked-after-main")
