"""The drift review's CLI run in-process (`python -m infra.drift`), for the tests in this folder."""

from pathlib import Path
from typing import Any

import pytest

from infra.terraform import drift
from tests.terraform.drift.support import (
    TODAY,
)
from tests.terraform.support import Run


@pytest.fixture
def run(capsys, fixtures_dir, no_ignores):
    """Run the CLI in-process on a fixture name or a path; return code, stdout, stderr."""

    def run_drift(plan: str | Path, *, ignore: Path | None = None, today: str = TODAY) -> Run:
        path = plan if isinstance(plan, Path) else fixtures_dir / plan
        argv = [str(path), "--ignore", str(ignore or no_ignores), "--today", today]
        code = drift.main(argv)
        out, err = capsys.readouterr()
        return Run(code, out, err)

    return run_drift


@pytest.fixture
def run_doc(run, write_json):
    """Run the CLI on a plan document built in the test."""

    def run_document(document: dict[str, Any], **kwargs: Any) -> Run:
        return run(write_json(document), **kwargs)

    return run_document
