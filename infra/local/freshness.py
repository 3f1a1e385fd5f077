"""Whether the synthesized stack still matches what it was synthesized from, checked before
``up`` serves it (and by the integration tests to reuse ``cdktf.out``): the manifest
(``check_consistency``: every function and its environment) and the functions' code
(``prepare_bundle``: the bundle the stack deploys, rebuilt from ``functions/`` or taken from
the synthesized asset, unzipped for functions-framework). A stale stack is a ``LocalError``
naming ``make synth``.
"""

from __future__ import annotations

import shutil
import zipfile
from collections.abc import Callable
from pathlib import Path

from infra.local.errors import LocalError, shown_path
from infra.local.topology_types import FunctionSpec, Topology
from infra.model.envs import EnvConfig
from infra.model.function_config import function_env
from infra.model.manifest import Manifest
from infra.model.naming import Names
from infra.synth.bundle import build_bundle

Say = Callable[[str], None]


def check_consistency(topology: Topology, manifest: Manifest, env: EnvConfig,
                      drift: list[str] | None = None) -> None:
    """Raise ``LocalError`` when the stack was not synthesized from ``manifest`` for ``env``.

    With ``drift`` given, a function variable that differs from the manifest's is appended
    to it (one line each) instead of raising: a drill deploys such a stack on purpose.
    """
    if topology.stack_project != env.project_id:
        raise LocalError(
            f"{shown_path(topology.stack_path)} is for project {topology.stack_project}, env "
            f"{env.name} is {env.project_id}; pass the matching --env or --stack"
        )
    names = Names(env)
    for fn in manifest.functions:
        spec = next((f for f in topology.functions if f.name == names.function(fn)), None)
        if spec is None:
            raise LocalError(f"{shown_path(topology.stack_path)} declares no function "
                             f"{names.function(fn)}; it is stale: run `make synth`")
        for key, value in sorted(function_env(manifest, env, fn).items()):
            if spec.environment.get(key) != value:
                if drift is not None:
                    drift.append(f"function {spec.name} has {key}="
                                 f"{spec.environment.get(key)!r}, the manifest gives {value!r}")
                    continue
                raise LocalError(
                    f"{shown_path(topology.stack_path)} is stale: function {spec.name} has {key}="
                    f"{spec.environment.get(key)!r}, the manifest gives {value!r}; run `make synth`"
                )


def prepare_bundle(fn: FunctionSpec, workdir: Path, say: Say) -> Path:
    """Unzip the function's bundle into ``workdir/functions/``; return the folder."""
    name = fn.bundle_object.removeprefix("functions/").removesuffix(".zip")
    source, _, digest = name.rpartition("-")
    if not source or len(digest) != 16:
        raise LocalError(f"function {fn.name}: bundle object {fn.bundle_object!r} is not "
                         "functions/<source>-<hash16>.zip; re-synthesize with `make synth`")
    built = build_bundle(source, workdir / "bundles")
    if built.object_name == fn.bundle_object:
        zip_path, origin = built.path, "built from functions/" + source
    elif fn.bundle_asset is not None:
        zip_path, origin = Path(fn.bundle_asset), "the synthesized asset"
        say(f"local: note: functions/{source} changed since the stack was synthesized; "
            "serving the synthesized bundle (run `make synth` to serve your edits)")
    else:
        raise LocalError(
            f"function {fn.name}: the stack deploys {fn.bundle_object} but functions/{source} "
            f"now builds {built.object_name}; the stack is stale: run `make synth`"
        )
    target = workdir / "functions" / name
    if target.exists():
        shutil.rmtree(target)
    target.mkdir(parents=True)
    with zipfile.ZipFile(zip_path) as zf:
        zf.extractall(target)
    say(f"local: function {fn.name}: bundle {name}.zip ({origin}) unzipped into {shown_path(target)}")
    return target
