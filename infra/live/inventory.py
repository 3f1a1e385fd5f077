"""``python -m infra.live.inventory --env ENV`` (``make inventory``): record the live project.

Writes ``infra/adoption/<env>.inventory.json``, the resources of the env's project as Cloud
Asset Inventory's ``searchAllResources`` returns them (the JSON of ``gcloud asset
search-all-resources --scope=projects/<project> --format=json``), and
``infra/adoption/<env>.triggers.json``, its Cloud Build triggers (``gcloud builds triggers list
--format=json``, global, the env's region and every other region the project uses). Only
documented stable fields are kept: ``additionalAttributes`` is documented as unstable and
dropped; ``versionedResources`` (each resource in its API version's schema) is requested so
adoption can compare schedules, targets and push endpoints.

Two further reads make the file what adoption and the preflight need (``infra.live.rest_config``):

* every listed resource of a type the stack declares (``rest_config.MIRRORS``) is read from the
  REST API its Terraform resource mirrors and recorded in its ``versionedResources`` as
  ``{"version": <that API's version>, "resource": <body>}`` (replacing the Asset Inventory
  representation of the same version, keeping the others), credentials masked
  (``rest_config.masked``, applied to every recorded representation); progress on stderr every
  ``PROGRESS_EVERY`` resources; a resource deleted since the search (404) is kept as listed,
  one line on stderr;
* every API of ``PIPELINE_APIS`` gets its Service Usage state, an entry of type
  ``serviceusage.googleapis.com/Service`` with ``state`` ``ENABLED`` or ``DISABLED`` (the search
  lists no disabled API), so a preflight can say which API to enable before the first plan.

Exit: 0 written, 2 could not read (credentials, permission, API), nothing written; the line names
what could not be read and the role that reads it (``READ_ROLES``: never a primitive role).
"""

from __future__ import annotations

import json
import re
import sys
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TextIO

import google.auth
from google.api_core.exceptions import GoogleAPIError, InvalidArgument, NotFound
from google.auth.exceptions import DefaultCredentialsError, RefreshError

from infra.cli import Parser, UsageError, add_env_argument, fail, one_line
from infra.live import rest_config
from infra.live.rest_config import RestError, UnexpectedName
from infra.model.adoption import ADOPTION_DIR, inventory_path, triggers_path
from infra.model.apis import PIPELINE_APIS
from infra.model.envs import EnvConfig, get_env

EXIT_CANNOT_READ = 2
TOOL = "inventory"
# ResourceSearchResult fields documented as stable, plus the versioned representations.
READ_MASK = ("name", "asset_type", "project", "display_name", "description", "location",
             "labels", "state", "create_time", "update_time", "parent_full_resource_name",
             "parent_asset_type", "versioned_resources")
DROPPED = ("additionalAttributes",)
# The JSON gcloud prints (``--format=json``): camelCase field names, enums by name. The
# proto-plus default is snake_case and integer enums, which adoption would not read.
AS_GCLOUD = {"preserving_proto_field_name": False, "use_integers_for_enums": False}
# What the search needs: Cloud Asset search and Cloud Build trigger list.
# @see https://cloud.google.com/asset-inventory/docs/access-control#required_permissions
# @see https://cloud.google.com/build/docs/iam-roles-permissions#predefined_roles
SEARCH_ROLES = ("roles/cloudasset.viewer", "roles/cloudbuild.builds.viewer")
# What recording needs: the search, each mirrored API's viewer role (rest_config.MIRRORS) and
# Service Usage's for the API states. Per-API viewer roles only: primitive roles are banned.
# @see https://cloud.google.com/service-usage/docs/access-control#predefined_roles
READ_ROLES = (*SEARCH_ROLES, *rest_config.CONFIG_ROLES, rest_config.SERVICE_USAGE_ROLE)
PROGRESS_EVERY = 10

JSON = dict[str, Any]


def search_resources(project: str) -> list[JSON]:
    """Every resource of ``project`` (official client; needs credentials on first call)."""
    # The client libraries are imported on use: they take half a second to import, and only
    # a run that reads the project needs them.
    from google.cloud import asset_v1

    # Fail on missing credentials here, in one line, before any client retries.
    google.auth.default()
    client = asset_v1.AssetServiceClient()
    pager = client.search_all_resources(request={
        "scope": f"projects/{project}", "read_mask": {"paths": list(READ_MASK)},
    })
    return [clean(asset_v1.ResourceSearchResult.to_dict(r, **AS_GCLOUD)) for r in pager]


REGION_RE = re.compile(r"^[a-z]+-[a-z]+[0-9]+$")


def trigger_locations(env: EnvConfig, resources: Iterable[Mapping[str, Any]]) -> tuple[str, ...]:
    """Where to list build triggers: ``global``, the env's region, then every other region the
    project has resources in (a regional trigger lives where its builds run, and the API lists
    one location at a time, so a trigger in a region nothing else uses can still be missed)."""
    seen = {str(r.get("location", "")) for r in resources}
    others = sorted(loc for loc in seen if REGION_RE.match(loc) and loc != env.region)
    return ("global", env.region, *others)


def list_triggers(project: str, locations: Sequence[str]) -> list[JSON]:
    """Cloud Build triggers of ``project`` in each of ``locations``: the first two (``global``
    and the env's region) must be readable; a further region Cloud Build does not serve
    (InvalidArgument, NotFound) is skipped, one line on stderr."""
    from google.cloud.devtools import cloudbuild_v1  # imported on use, as asset_v1 above

    client = cloudbuild_v1.CloudBuildClient()
    out: list[JSON] = []
    for i, loc in enumerate(locations):
        try:
            pager = client.list_build_triggers(request={
                "project_id": project, "parent": f"projects/{project}/locations/{loc}",
            })
            out += [clean(cloudbuild_v1.BuildTrigger.to_dict(t, **AS_GCLOUD)) for t in pager]
        except (InvalidArgument, NotFound) as err:
            if i < 2:
                raise
            print(f"{TOOL}: no build triggers read in {loc} ({one_line(err)})", file=sys.stderr)
    return out


@dataclass(frozen=True)
class InventoryReader:
    """How the live inventory is read: the official clients unless other readers are given
    (tests pass recorded ones). Credential errors propagate; ``read`` turns any other API
    failure into ``CannotRead``."""

    search: Callable[[str], list[JSON]] = search_resources
    """The project's resources; default Cloud Asset ``search_all_resources``."""
    triggers: Callable[[str, Sequence[str]], list[JSON]] = list_triggers
    """The project's build triggers per location; default Cloud Build ``list_build_triggers``."""
    rest: Callable[[str], JSON] | None = None
    """GET of a REST URL (``rest_config.get_json``: the JSON object, ``RestError`` with the
    HTTP status); ``None``: ``record`` reads no configuration and no API state."""
    apis: Sequence[str] | None = None
    """The APIs whose state ``record`` reads; default ``PIPELINE_APIS``."""

    def read(self, env: EnvConfig) -> tuple[list[JSON], list[JSON]]:
        """(resources, build triggers) of ``env`` (triggers: see ``trigger_locations``)."""
        try:
            resources = self.search(env.project_id)
            return resources, self.triggers(env.project_id, trigger_locations(env, resources))
        except GoogleAPIError as err:
            raise CannotRead(f"reading the inventory of project {env.project_id}: "
                             f"{one_line(err)}; the reading identity needs "
                             f"{' and '.join(SEARCH_ROLES)} on {env.project_id}") from err

    def record(self, env: EnvConfig, stream: TextIO | None = None) -> tuple[list[JSON], list[JSON]]:
        """What ``make inventory`` writes: ``read``, every representation masked, then (with a
        ``rest`` reader) the mirrored configurations and the API states; progress and notes on
        ``stream`` (default stderr). ``CannotRead`` (one line) when a read fails."""
        out = stream or sys.stderr
        resources, found = self.read(env)
        resources = [masked_entry(r) for r in resources]
        if self.rest is not None:
            resources = with_configs(resources, self.rest, env.project_id, out)
            apis = self.apis if self.apis is not None else pipeline_apis()
            resources = with_api_states(resources, self.rest, env.project_id, apis)
        return resources, found


def pipeline_apis() -> tuple[str, ...]:
    """``PIPELINE_APIS`` (``infra.model.apis``)."""
    return tuple(PIPELINE_APIS)


def masked_entry(entry: Mapping[str, Any]) -> JSON:
    """``entry`` with each ``versionedResources[].resource`` masked (``rest_config.masked``)."""
    versioned = entry.get("versionedResources")
    if not isinstance(versioned, list):
        return dict(entry)
    asset_type = str(entry.get("assetType", ""))
    return {**entry, "versionedResources": [
        {**v, "resource": rest_config.masked(asset_type, v["resource"])}
        if isinstance(v, Mapping) and isinstance(v.get("resource"), Mapping) else v
        for v in versioned]}


def with_version(entry: Mapping[str, Any], version: str, resource: JSON) -> JSON:
    """``entry`` whose ``versionedResources`` hold ``resource`` as ``version``, in place of
    a representation of the same version; the others kept, in their order."""
    versioned = entry.get("versionedResources")
    others = [v for v in (versioned if isinstance(versioned, list) else [])
              if not (isinstance(v, Mapping) and v.get("version") == version)]
    return {**entry, "versionedResources": [*others, {"version": version, "resource": resource}]}


def with_configs(resources: Sequence[JSON], get: Callable[[str], JSON], project: str,
                 stream: TextIO) -> list[JSON]:
    """``resources``, each of a mirrored type with its configuration read by ``get``
    (``rest_config.config_url``), masked. A 404 (deleted since the search) or a name the API
    cannot read keeps the entry as listed, one line on ``stream``; any other failure is
    ``CannotRead`` naming the resource and the role that reads it."""
    out = list(resources)
    todo: list[tuple[int, str]] = []
    for i, entry in enumerate(resources):
        try:
            url = rest_config.config_url(str(entry.get("assetType", "")), str(entry.get("name")))
        except UnexpectedName as err:
            print(f"{TOOL}: {err}; recorded without its configuration", file=stream)
            continue
        if url is not None:
            todo.append((i, url))
    for n, (i, url) in enumerate(todo, 1):
        entry = resources[i]
        name, asset_type = str(entry["name"]), str(entry["assetType"])
        mirror = rest_config.MIRRORS[asset_type]
        try:
            body = get(url)
        except RestError as err:
            if err.status != 404:
                raise CannotRead(f"reading the configuration of {name} (GET {url}): "
                                 f"{one_line(err)}; the reading identity needs {mirror.role} "
                                 f"on {project}") from err
            print(f"{TOOL}: {name} no longer exists (404 on GET {url}); recorded without its "
                  "configuration", file=stream)
        else:
            out[i] = with_version(entry, mirror.version, rest_config.masked(asset_type, body))
        if n % PROGRESS_EVERY == 0 or n == len(todo):
            print(f"{TOOL}: read {n}/{len(todo)} configurations", file=stream)
    return out


PROJECT_SEGMENT_RE = re.compile(r"^//serviceusage\.googleapis\.com/projects/([^/]+)/services/")


def with_api_states(resources: Sequence[JSON], get: Callable[[str], JSON], project: str,
                    apis: Iterable[str]) -> list[JSON]:
    """``resources`` with one ``serviceusage.googleapis.com/Service`` entry per API of ``apis``
    holding its Service Usage state: in place of the search's entry for it (its other fields
    kept), or added (a disabled API is not listed). ``CannotRead`` when a state cannot be read."""
    out = list(resources)
    for api in apis:
        url = rest_config.service_url(project, api)
        try:
            body = rest_config.service_state(get(url))
        except RestError as err:
            raise CannotRead(f"reading the state of API {api} in project {project} (GET {url}): "
                             f"{one_line(err)}; the reading identity needs "
                             f"{rest_config.SERVICE_USAGE_ROLE} on {project}") from err
        relative = body.get("name", "")
        if not re.fullmatch(rf"projects/[^/]+/services/{re.escape(api)}", relative):
            relative = f"projects/{project}/services/{api}"
        state = body.get("state") or "STATE_UNSPECIFIED"
        resource = {"name": relative, "state": state}
        number = relative.split("/")[1]
        same = [i for i, e in enumerate(out)
                if _is_service(e, api, {project, number} | _project_numbers(out, project))]
        entry = {**(out[same[0]] if same else {}),
                 "name": f"//serviceusage.googleapis.com/{relative}",
                 "assetType": rest_config.SERVICE_USAGE_TYPE, "state": state,
                 "versionedResources": [{"version": rest_config.SERVICE_USAGE_VERSION,
                                         "resource": resource}]}
        if number.isdigit():
            entry.setdefault("project", f"projects/{number}")
        out = [e for i, e in enumerate(out) if i not in same] + [entry]
    return out


def _is_service(entry: Mapping[str, Any], api: str, projects: set[str]) -> bool:
    """``entry`` is the state of ``api`` in the project (named by id or number)."""
    name = str(entry.get("name", ""))
    m = PROJECT_SEGMENT_RE.match(name)
    return (entry.get("assetType") == rest_config.SERVICE_USAGE_TYPE and m is not None
            and m.group(1) in projects and name.endswith(f"/services/{api}"))


def _project_numbers(resources: Iterable[Mapping[str, Any]], project: str) -> set[str]:
    """The project's number, from the ``project`` of the entries named under its id."""
    return {str(e["project"]).removeprefix("projects/") for e in resources
            if isinstance(e.get("project"), str) and f"/projects/{project}/" in str(e.get("name"))}


class CannotRead(Exception):
    """The inventory or the trigger list could not be read; the message is one line."""


def clean(entry: Mapping[str, Any]) -> JSON:
    """A search result without unstable or empty fields (what gcloud prints, minus those)."""
    return {k: v for k, v in entry.items() if k not in DROPPED and v not in ("", [], {}, None)}


def write(env: EnvConfig, resources: Iterable[JSON], triggers: Iterable[JSON],
          adoption_dir: Path = ADOPTION_DIR) -> tuple[Path, Path]:
    """Write both files (sorted, so re-recording an unchanged project changes nothing)."""
    adoption_dir.mkdir(parents=True, exist_ok=True)
    inv, trg = inventory_path(env.name, adoption_dir), triggers_path(env.name, adoption_dir)
    inv.write_text(json.dumps(sorted(resources, key=lambda r: str(r.get("name"))), indent=1,
                              ensure_ascii=False) + "\n")
    trg.write_text(json.dumps(sorted(triggers, key=lambda t: str(t.get("resourceName") or
                                                                    t.get("name"))),
                              indent=1, ensure_ascii=False) + "\n")
    return inv, trg


def main(argv: Sequence[str] | None = None,
         search: Callable[[str], list[JSON]] = search_resources,
         triggers: Callable[[str, Sequence[str]], list[JSON]] = list_triggers,
         adoption_dir: Path = ADOPTION_DIR,
         rest: Callable[[str], JSON] | None = None,
         apis: Sequence[str] | None = None) -> int:
    """Record ``--env``'s project; ``search`` and ``triggers`` default to the official clients.

    ``rest`` reads the configurations and API states (``InventoryReader.rest``); by default
    ``rest_config.get_json`` when ``search`` is the official client, none when a recorded
    ``search`` is given (a replay reads nothing live). ``apis`` default ``PIPELINE_APIS``."""
    parser = Parser(prog="python -m infra.live.inventory", description=__doc__.split("\n")[0],
                    epilog="Exit: 0 written, 2 could not read the project.")
    add_env_argument(parser, required=True)
    try:
        args = parser.parse_args(argv)
    except UsageError as err:
        return fail(TOOL, f"usage: {err}", EXIT_CANNOT_READ)
    env = get_env(args.env)
    if rest is None and search is search_resources:
        rest = rest_config.get_json
    try:
        resources, found = InventoryReader(search, triggers, rest, apis).record(env)
    except (DefaultCredentialsError, RefreshError) as err:
        return fail(TOOL, f"no usable Google credentials ({one_line(err)}); run `gcloud auth "
                          "application-default login` or set GOOGLE_APPLICATION_CREDENTIALS",
                    EXIT_CANNOT_READ)
    except CannotRead as err:
        return fail(TOOL, str(err), EXIT_CANNOT_READ)
    inv, trg = write(env, resources, found, adoption_dir)
    disabled = sorted(str(r["name"]).rsplit("/", 1)[-1] for r in resources
                      if r.get("assetType") == rest_config.SERVICE_USAGE_TYPE
                      and r.get("state") == "DISABLED")
    print(f"inventory: {len(resources)} resources → {inv}; {len(found)} build triggers → {trg}"
          + (f"; APIs not enabled: {', '.join(disabled)}" if disabled else ""))
    return 0


if __name__ == "__main__":
    sys.exit(main())
