"""``python -m infra.live.preflight --env ENV [--inventory FILE | --live]``: what must exist
before the first ``make plan``, one line per missing thing.

A plan reads before it changes anything, so it cannot enable what its own reads need:

* every API of ``PIPELINE_APIS`` (the stack's ``google_project_service`` resources enable them
  on apply, too late for the plan's reads of imported resources) and Service Usage itself;
  the provider reads each ``google_project_service`` and ``data.google_project`` through
  Cloud Resource Manager, so ``cloudresourcemanager.googleapis.com`` disabled fails the whole
  plan;
* the Slack token's secret, with an enabled version: the alert channel's token is read by an
  ephemeral ``google_secret_manager_secret_version`` at plan time, and the secret is created
  by hand (its value never enters code, JSON or state), so it is checked, not declared.

Reads the recorded inventory (``make inventory``: Asset Inventory plus each API's Service
Usage state) or, with ``--live``, Service Usage and Secret Manager directly. Exit: 0 ready,
2 something is missing (one line each, with the command that fixes it), 1 unreadable input.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from infra.cli import Parser, UsageError, add_env_argument, fail, one_line
from infra.errors import InputError
from infra.live.adopt_inputs import Live, load_inventory
from infra.live.rest_config import authorized_session
from infra.model.adoption import inventory_path
from infra.model.apis import PIPELINE_APIS
from infra.model.envs import EnvConfig, get_env

TOOL = "preflight"
EXIT_READY, EXIT_UNREADABLE, EXIT_MISSING = 0, 1, 2
SERVICE_USAGE = "serviceusage.googleapis.com"
SECRET_TYPE = "secretmanager.googleapis.com/Secret"
VERSION_TYPE = "secretmanager.googleapis.com/SecretVersion"
API_TYPE = "serviceusage.googleapis.com/Service"


def required_apis() -> tuple[str, ...]:
    """The APIs a plan reads through: the pipeline's, and Service Usage."""
    return tuple(sorted({*PIPELINE_APIS, SERVICE_USAGE}))


@dataclass(frozen=True)
class State:
    """What is known of the project: API → state (``ENABLED``/``DISABLED``/absent), whether
    the secret exists, and its versions' states (``None``: versions not recorded)."""

    apis: Mapping[str, str]
    secret: bool
    versions: tuple[str, ...] | None


def from_inventory(lives: Sequence[Live], secret: str) -> State:
    apis = {x.short: (x.state or str(x.resource.get("state", "")) or "ENABLED").upper()
            for x in lives if x.asset_type == API_TYPE}
    has_secret = any(x.asset_type == SECRET_TYPE and x.short == secret for x in lives)
    versions = [(x.state or str(x.resource.get("state", ""))).upper() for x in lives
                if x.asset_type == VERSION_TYPE and f"/secrets/{secret}/versions/" in x.name]
    listed = any(x.asset_type == VERSION_TYPE for x in lives)
    return State(apis, has_secret, tuple(versions) if listed else None)


Getter = Callable[[str], Mapping[str, Any] | None]
"""GET a REST URL; the body, or ``None`` on 404."""


def live_state(env: EnvConfig, get: Getter) -> State:
    """Ask Service Usage and Secret Manager (metadata only: no secret payload is read)."""
    base = f"https://serviceusage.googleapis.com/v1/projects/{env.project_id}/services"
    apis = {}
    for api in required_apis():
        body = get(f"{base}/{api}")
        apis[api] = str((body or {}).get("state", "DISABLED")).upper()
    if apis.get("secretmanager.googleapis.com") != "ENABLED":
        return State(apis, False, None)
    secret = f"projects/{env.project_id}/secrets/{env.alert_channel_secret}"
    body = get(f"https://secretmanager.googleapis.com/v1/{secret}")
    if body is None:
        return State(apis, False, ())
    listing = get(f"https://secretmanager.googleapis.com/v1/{secret}/versions?filter=state:ENABLED")
    versions = [str(v.get("state", "")).upper() for v in (listing or {}).get("versions", [])]
    return State(apis, True, tuple(versions))


def problems(env: EnvConfig, state: State) -> list[str]:
    """One line per missing prerequisite, each naming the command that fixes it."""
    project = env.project_id
    out = []
    if not state.apis:
        out.append(f"no API states recorded for {project}: re-record with `make inventory "
                   f"ENV={env.name}` or check live with `python -m infra.live.preflight --env "
                   f"{env.name} --live`")
    for api in required_apis() if state.apis else ():
        status = state.apis.get(api, "DISABLED")
        if status != "ENABLED":
            out.append(f"{api} is {status} in {project}: run `gcloud services enable {api} "
                       f"--project={project}` before `make plan ENV={env.name}` (the plan "
                       "reads through it)")
    secret = env.alert_channel_secret
    if not state.secret:
        out.append(f"secret {secret} does not exist in {project}: create it with the Slack "
                   f"token (`printf %s \"$TOKEN\" | gcloud secrets create {secret} --data-file=- "
                   f"--project={project}`); the alert channel reads it at plan time")
    elif state.versions is not None and "ENABLED" not in state.versions:
        out.append(f"secret {secret} has no enabled version in {project}: add one (`gcloud "
                   f"secrets versions add {secret} --data-file=- --project={project}`)")
    return out


def default_get(url: str) -> Mapping[str, Any] | None:  # pragma: no cover - needs Google
    """GET ``url`` with Application Default Credentials; None on 404."""
    response = authorized_session().get(url, timeout=30)
    if response.status_code == 404:
        return None
    response.raise_for_status()
    body: Mapping[str, Any] = response.json()
    return body


def main(argv: Sequence[str] | None = None, get: Getter = default_get) -> int:
    parser = Parser(prog="python -m infra.live.preflight", description=__doc__.split("\n")[0],
                    epilog="Exit: 0 ready, 2 something missing, 1 unreadable input.")
    add_env_argument(parser, required=True)
    parser.add_argument("--inventory", type=Path,
                        help="recorded inventory; default infra/adoption/ENV.inventory.json")
    parser.add_argument("--live", action="store_true",
                        help="ask Service Usage and Secret Manager instead (credentials)")
    try:
        args = parser.parse_args(argv)
    except UsageError as err:
        return fail(TOOL, f"usage: {err}", EXIT_UNREADABLE)
    env = get_env(args.env)
    try:
        if args.live:
            state = live_state(env, get)
        else:
            lives = load_inventory(args.inventory or inventory_path(env.name), env.project_id)
            state = from_inventory([x for x in lives if not x.foreign], env.alert_channel_secret)
    except InputError as err:
        return fail(TOOL, str(err), EXIT_UNREADABLE)
    except Exception as err:
        return fail(TOOL, f"cannot read {env.project_id}: {one_line(err)}", EXIT_UNREADABLE)
    found = problems(env, state)
    for line in found:
        print(f"{TOOL}: {line}", file=sys.stderr)
    if not found:
        print(f"{TOOL}: {env.project_id} has every API the plan reads through and the secret "
              f"{env.alert_channel_secret}")
    return EXIT_MISSING if found else EXIT_READY


if __name__ == "__main__":
    sys.exit(main())
