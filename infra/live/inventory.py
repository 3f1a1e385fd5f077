"""``python -m infra.live.inventory --env ENV`` (``make inventory``): record the live project.

Writes ``infra/adoption/<env>.inventory.json``, the resources of the env's project as Cloud
Asset Inventory's ``searchAllResources`` returns them (the JSON of ``gcloud asset
search-all-resources --scope=projects/<project> --format=json``), and
``infra/adoption/<env>.triggers.json``, its Cloud Build triggers (``gcloud builds triggers list
--format=json``, global, the env's region and every other region the project uses). Only
documented stable fields are kept: ``additionalAttributes`` is documented as unstable and
dropped; ``versionedResources`` (each resource in its API version's schema) is requested so
adoption can compare schedules, targets and push endpoints. Exit: 0 written, 2 could not read
(credentials, API), nothing written.
"""

from __future__ import annotations

import json
import re
import sys
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from infra.cli import Parser, UsageError, add_env_argument, fail, one_line
from infra.live.adopt_record import ADOPTION_DIR, inventory_path, triggers_path
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
# What reading needs: Cloud Asset search and Cloud Build trigger list.
# @see https://cloud.google.com/asset-inventory/docs/access-control#required_permissions
# @see https://cloud.google.com/build/docs/iam-roles-permissions#predefined_roles
READ_ROLES = ("roles/cloudasset.viewer", "roles/cloudbuild.builds.viewer")

JSON = dict[str, Any]


def search_resources(project: str) -> list[JSON]:
    """Every resource of ``project`` (official client; needs credentials on first call)."""
    import google.auth
    from google.cloud import asset_v1
    from google.protobuf import field_mask_pb2

    # Fail on missing credentials here, in one line, before any client retries.
    google.auth.default()
    client = asset_v1.AssetServiceClient()
    pager = client.search_all_resources(request={
        "scope": f"projects/{project}",
        "read_mask": field_mask_pb2.FieldMask(paths=list(READ_MASK)),
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
    from google.api_core.exceptions import InvalidArgument, NotFound
    from google.cloud.devtools import cloudbuild_v1

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

    def read(self, env: EnvConfig) -> tuple[list[JSON], list[JSON]]:
        """(resources, build triggers) of ``env`` (triggers: see ``trigger_locations``)."""
        from google.api_core.exceptions import GoogleAPIError

        try:
            resources = self.search(env.project_id)
            return resources, self.triggers(env.project_id, trigger_locations(env, resources))
        except GoogleAPIError as err:
            raise CannotRead(f"reading the inventory of project {env.project_id}: "
                             f"{one_line(err)}; the reading identity needs "
                             f"{' and '.join(READ_ROLES)} on {env.project_id}") from err


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
         adoption_dir: Path = ADOPTION_DIR) -> int:
    """Record ``--env``'s project; ``search`` and ``triggers`` default to the official clients."""
    parser = Parser(prog="python -m infra.live.inventory", description=__doc__.split("\n")[0],
                    epilog="Exit: 0 written, 2 could not read the project.")
    add_env_argument(parser, required=True)
    try:
        args = parser.parse_args(argv)
    except UsageError as err:
        return fail(TOOL, f"usage: {err}", EXIT_CANNOT_READ)
    env = get_env(args.env)
    from google.auth.exceptions import DefaultCredentialsError, RefreshError

    try:
        resources, found = InventoryReader(search, triggers).read(env)
    except (DefaultCredentialsError, RefreshError) as err:
        return fail(TOOL, f"no usable Google credentials ({one_line(err)}); run `gcloud auth "
                          "application-default login` or set GOOGLE_APPLICATION_CREDENTIALS",
                    EXIT_CANNOT_READ)
    except CannotRead as err:
        return fail(TOOL, str(err), EXIT_CANNOT_READ)
    inv, trg = write(env, resources, found, adoption_dir)
    print(f"inventory: {len(resources)} resources → {inv}; {len(found)} build triggers → {trg}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
