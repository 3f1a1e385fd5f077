"""``python -m infra.live.preflight``: what the first plan reads through must exist before it,
one line per missing thing, from the recorded inventory or the live APIs."""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pytest

from infra.live.preflight import main, required_apis
from infra.model.envs import get_env

PROD = get_env("prod")
NUMBER = "756957797294"
SECRET = PROD.alert_channel_secret


def api(name: str, state: str = "ENABLED") -> dict[str, Any]:
    return {"name": f"//serviceusage.googleapis.com/projects/{NUMBER}/services/{name}",
            "assetType": "serviceusage.googleapis.com/Service", "state": state,
            "project": f"projects/{NUMBER}"}


def secret(versions: tuple[str, ...] = ("ENABLED",)) -> list[dict[str, Any]]:
    base = f"//secretmanager.googleapis.com/projects/{NUMBER}/secrets/{SECRET}"
    out = [{"name": base, "assetType": "secretmanager.googleapis.com/Secret",
            "project": f"projects/{NUMBER}"}]
    out += [{"name": f"{base}/versions/{i + 1}", "assetType":
             "secretmanager.googleapis.com/SecretVersion", "state": s,
             "project": f"projects/{NUMBER}"} for i, s in enumerate(versions)]
    return out


def ready() -> list[dict[str, Any]]:
    return [api(a) for a in required_apis()] + secret()


def run(tmp_path: Path, inventory: list[dict[str, Any]], capsys: pytest.CaptureFixture[str],
        ) -> tuple[int, list[str]]:
    path = tmp_path / "prod.inventory.json"
    path.write_text(json.dumps(inventory))
    code = main(["--env", "prod", "--inventory", str(path)])
    return code, capsys.readouterr().err.splitlines()


def test_a_ready_project_passes(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, err = run(tmp_path, ready(), capsys)
    assert (code, err) == (0, [])


def test_resource_manager_disabled_is_one_line_with_the_fix(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    inv = [e for e in ready() if not e["name"].endswith("/cloudresourcemanager.googleapis.com")]
    inv.append(api("cloudresourcemanager.googleapis.com", "DISABLED"))
    code, err = run(tmp_path, inv, capsys)
    assert code == 2
    assert err == [f"preflight: cloudresourcemanager.googleapis.com is DISABLED in "
                   f"{PROD.project_id}: run `gcloud services enable "
                   f"cloudresourcemanager.googleapis.com --project={PROD.project_id}` before "
                   "`make plan ENV=prod` (the plan reads through it)"]


def test_an_api_the_inventory_does_not_list_is_disabled(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    inv = [e for e in ready() if not e["name"].endswith("/secretmanager.googleapis.com")]
    code, err = run(tmp_path, inv, capsys)
    assert code == 2
    assert [line.split(" is ")[0] for line in err] == [
        "preflight: secretmanager.googleapis.com"]


@pytest.mark.parametrize(("inventory", "expected"), [
    ([api(a) for a in required_apis()], f"secret {SECRET} does not exist"),
    ([api(a) for a in required_apis()] + secret(("DISABLED", "DESTROYED")),
     f"secret {SECRET} has no enabled version"),
    (secret(), "no API states recorded"),
])
def test_the_secret_and_the_api_states_are_checked(
        tmp_path: Path, capsys: pytest.CaptureFixture[str], inventory: list[dict[str, Any]],
        expected: str) -> None:
    code, err = run(tmp_path, inventory, capsys)
    assert code == 2
    assert len(err) == 1 and expected in err[0]


def test_an_unreadable_inventory_is_exit_1(tmp_path: Path,
                                           capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "x.json"
    path.write_text("{")
    assert main(["--env", "prod", "--inventory", str(path)]) == 1
    [line] = capsys.readouterr().err.splitlines()
    assert line == f"preflight: {path}: not JSON (line 1 column 2: Expecting property name " \
                   "enclosed in double quotes)"


def test_live_mode_asks_service_usage_and_secret_manager(
        capsys: pytest.CaptureFixture[str]) -> None:
    asked: list[str] = []

    def get(url: str) -> Mapping[str, Any] | None:
        asked.append(url)
        if "serviceusage" in url:
            return {"state": "DISABLED" if url.endswith("/iam.googleapis.com") else "ENABLED"}
        if url.endswith(f"/secrets/{SECRET}"):
            return {"name": SECRET}
        return {"versions": [{"state": "ENABLED"}]}

    assert main(["--env", "prod", "--live"], get=get) == 2
    [line] = capsys.readouterr().err.splitlines()
    assert line.startswith("preflight: iam.googleapis.com is DISABLED")
    assert not any(":access" in u or "/versions/" in u for u in asked), "never a payload"
