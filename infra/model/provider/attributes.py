"""Provider facts for every attribute the stacks set, and for the attributes an omission resets.

``attributes.yaml`` (next to this module) holds one row per Terraform type and attribute path: whether
a change replaces the resource, whether the provider computes it, what Terraform plans when the stack
omits it, where the live value sits in the REST resource and how it converts. Adoption reads
``resettable`` to compare a live resource with what the first apply would write back.

Provenance: every row's ``source`` cites ``file#Lnn[-Lmm]`` in the stored provider source,
GoogleCloudPlatform/magic-modules (``mmv1/products/<product>/<Resource>.yaml``: ``immutable``,
``default_from_api``, ``default_value``, ``url_param_only``, ``virtual_fields``, ``custom_flatten``; or a
handwritten schema under ``mmv1/third_party/terraform/``: ``ForceNew``, ``Computed``, ``Default``) or the
generated hashicorp/terraform-provider-google (``google/services/<svc>/*.go``). That source is the main
branch of 2026-08-21 (unreleased 7.46.0; newest tag v7.45.0), while the stacks pin provider 8.7.0: the
attribute names and their Optional/Computed/Required flags were checked against the 8.7.0 schema the
cdktn-provider-google 21.1.0 bindings are generated from, but ForceNew, defaults and read behaviour come
from the older source and may have changed in 8.x.

Paths are leaf paths with list items written ``[]`` (``template.containers[].env[].name``); a single
nested block is a plain segment; a map attribute (``labels``) is one row whose keys are not paths.

Rows: every path a google resource, data source (``data.google_project``) or ephemeral resource
(``ephemeral.google_secret_manager_secret_version``) of the stacks sets; and, for the types adoption
imports, every Optional attribute the stacks leave out, at the shallowest level (a whole omitted block
is one row, e.g. ``lifecycle_rule``), whatever its ``omitted`` turns out to be. Other providers'
resources (``time_sleep`` of hashicorp/time) have no rows.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from types import MappingProxyType

import yaml

from infra.errors import InputError

FACTS_FILE = Path(__file__).with_name("attributes.yaml")

OMITTED = frozenset({"required", "keeps-live", "reset", "default", "terraform-only"})
"""``required``: the stack must set it; ``keeps-live``: omission keeps the live value (computed, or
never read back); ``reset``: omission plans it back to empty; ``default``: omission plans the schema
default; ``terraform-only``: never sent to the API."""
CONVERT = frozenset({"same", "int", "bool", "seconds", "map", "custom"})
"""How the REST value becomes the Terraform value: ``int`` for int64 JSON strings, ``seconds`` for a
duration string held as a number, ``map`` for a map attribute, ``custom`` for anything else."""
FORCE_NEW_PARTIAL = "partial"
"""``force_new`` value of a row where only some changes replace (a CustomizeDiff, a nested ForceNew)."""

ROW_FIELDS = ("force_new", "computed", "omitted", "default", "api", "convert", "source")
TYPE_FIELDS = ("api_version", "attributes")
META_KEYS = frozenset({"depends_on", "lifecycle", "provider", "count", "for_each", "//", "import",
                       "connection", "provisioner"})
"""Keys of a synthesized resource body that are Terraform meta-arguments, not attributes."""

_SOURCE = re.compile(r"^\S+#L\d+(-L\d+)?: \S.*$", re.S)
_API_VERSION = re.compile(r"^v\d+((alpha|beta)\d*)?$")
_INDEX = re.compile(r"\[[^\]]*\]")


@dataclass(frozen=True)
class AttributeFact:
    """One row of ``attributes.yaml``."""

    type: str
    """The Terraform type (``google_pubsub_subscription``; ``data.``/``ephemeral.`` prefixed)."""
    path: str
    """The normalized leaf path (``template.containers[].env[].name``, see ``normalize_path``)."""
    force_new: bool | str
    """Whether a change replaces the resource; ``FORCE_NEW_PARTIAL`` when only some changes do."""
    computed: bool
    """Optional and computed: the provider fills it from the API when the stack omits it."""
    omitted: str
    """What Terraform plans when the stack leaves it out, one of ``OMITTED``."""
    default: object
    """The value planned when omitted (``reset``: the empty value, ``default``: the schema's)."""
    api: str | None
    """Where the live value sits in the REST resource (camelCase, ``access[].role``); ``None``
    when it has none."""
    convert: str
    """How the REST value becomes the Terraform value, one of ``CONVERT``."""
    source: str
    """``file#Lnn[-Lmm]: note`` in the stored provider source, the row's provenance."""


def normalize_path(path: str) -> str:
    """``template.containers.0.env.3.name`` or ``template.containers[0].env[3].name`` ->
    ``template.containers[].env[].name``; flatmap counts (``env.#``, ``labels.%``) name the collection."""
    out: list[str] = []
    for raw in path.split("."):
        seg = _INDEX.sub("[]", raw)
        if seg in ("#", "%"):
            continue
        if (seg.isdigit() or seg == "*") and out:
            out[-1] += "[]"
        else:
            out.append(seg)
    return ".".join(out)


def bare(path: str) -> str:
    """The path without list markers: a single block may be written as an object or a list of one."""
    return path.replace("[]", "")


def _fail(source: Path, where: str, field: str, problem: str) -> InputError:
    return InputError(source, problem, field=f"{where}: field {field!r}")


def _fact(source: Path, rtype: str, path: str, row: object) -> AttributeFact:
    where = f"{rtype} {path}"
    if not isinstance(row, Mapping):
        raise _fail(source, where, "<row>", "expected a mapping of " + ", ".join(ROW_FIELDS))
    for field in row:
        if field not in ROW_FIELDS:
            raise _fail(source, where, str(field), "unknown field; expected one of " + ", ".join(ROW_FIELDS))
    for field in ROW_FIELDS:
        if field not in row:
            raise _fail(source, where, field, "missing")
    if normalize_path(path) != path:
        raise _fail(source, where, "<path>", f"not a normalized path (expected {normalize_path(path)!r})")
    force_new, computed, omitted = row["force_new"], row["computed"], row["omitted"]
    api, convert, src = row["api"], row["convert"], row["source"]
    if not isinstance(force_new, bool) and force_new != FORCE_NEW_PARTIAL:
        raise _fail(source, where, "force_new", f"{force_new!r} is not true, false or {FORCE_NEW_PARTIAL!r}")
    if not isinstance(computed, bool):
        raise _fail(source, where, "computed", f"{computed!r} is not a boolean")
    if omitted not in OMITTED:
        raise _fail(source, where, "omitted", f"{omitted!r} is not one of {sorted(OMITTED)}")
    if api is not None and (not isinstance(api, str) or not api):
        raise _fail(source, where, "api", f"{api!r} is not a REST field path or null")
    if omitted == "terraform-only" and api is not None:
        raise _fail(source, where, "api", "a terraform-only attribute has no REST field (null)")
    if convert not in CONVERT:
        raise _fail(source, where, "convert", f"{convert!r} is not one of {sorted(CONVERT)}")
    if not isinstance(src, str) or not _SOURCE.match(src):
        raise _fail(source, where, "source", f"{src!r} is not 'file#Lnn[-Lmm]: note'")
    return AttributeFact(rtype, path, force_new, computed, str(omitted), row["default"],
                         api, str(convert), src)


def load(source: Path = FACTS_FILE) -> tuple[Mapping[str, Mapping[str, AttributeFact]], Mapping[str, str]]:
    """Read and validate a facts file: (type -> path -> fact, type -> api_version).

    Raises ``InputError`` naming the type, the path and the field of the first bad entry.
    """
    data = yaml.safe_load(source.read_text())
    if not isinstance(data, Mapping):
        raise InputError(source, "expected a mapping of Terraform types")
    facts: dict[str, Mapping[str, AttributeFact]] = {}
    versions: dict[str, str] = {}
    for rtype, body in data.items():
        if not isinstance(body, Mapping):
            raise _fail(source, str(rtype), "<type>", "expected a mapping of " + ", ".join(TYPE_FIELDS))
        for field in body:
            if field not in TYPE_FIELDS:
                raise _fail(source, str(rtype), str(field),
                            "unknown field; expected " + ", ".join(TYPE_FIELDS))
        version, attributes = body.get("api_version"), body.get("attributes")
        if not isinstance(version, str) or not _API_VERSION.match(version):
            raise _fail(source, str(rtype), "api_version", f"{version!r} is not an API version like v1")
        if not isinstance(attributes, Mapping) or not attributes:
            raise _fail(source, str(rtype), "attributes", "expected a non-empty mapping of paths")
        facts[str(rtype)] = MappingProxyType(
            {str(path): _fact(source, str(rtype), str(path), row) for path, row in attributes.items()})
        versions[str(rtype)] = version
    return MappingProxyType(facts), MappingProxyType(versions)


FACTS, API_VERSION = load()
"""``FACTS``: type -> path -> fact; ``API_VERSION``: type -> the REST API version it mirrors."""

def resettable(rtype: str) -> tuple[AttributeFact, ...]:
    """Rows an omission plans back to empty or to a default, with a live REST field to compare
    (managed resources only: a data source or an ephemeral resource plans nothing)."""
    if rtype.startswith(("data.", "ephemeral.")):
        return ()
    rows = FACTS.get(rtype, {})
    return tuple(fact for _, fact in sorted(rows.items())
                 if fact.omitted in ("reset", "default") and fact.api is not None)
