"""``functions._shared.logs``: one JSON line per entry; ``log`` honours ``LOG_LEVEL``."""

from __future__ import annotations

import os

from functions._shared.logs import emit, log
from tests.functions.support import log_lines


def test_log_drops_entries_below_log_level_and_emit_never_does(capsys):
    os.environ["LOG_LEVEL"] = "warning"
    log("INFO", "dropped")
    log("ERROR", "kept", game_date="2026-02-04")
    emit("INFO", "always")
    assert log_lines(capsys.readouterr().out) == [
        {"severity": "ERROR", "message": "kept", "game_date": "2026-02-04"},
        {"severity": "INFO", "message": "always"},
    ]


def test_default_level_is_info(capsys):
    log("DEBUG", "dropped")
    log("INFO", "kept")
    assert [e["message"] for e in log_lines(capsys.readouterr().out)] == ["kept"]
