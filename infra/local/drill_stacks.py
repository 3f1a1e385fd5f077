"""The synthesized stack, broken the way each incident broke production (for the drills).

Each function takes the stack's JSON (``cdk.tf.json`` as Terraform reads it), changes it as
the incident did, and says what it changed; ``write_stack`` writes the copy next to the
drill's topology with its bundle assets pointing at the original's files. Nothing here is
re-synthesized: every broken stack is the one Terraform would apply, minus or plus exactly
one thing.

* ``remove_push_invoker``: a redeploy reset a push target's IAM (seed 000): the target's
  ``roles/run.invoker`` member for the edge's push identity is gone;
* ``remove_trigger_invoker``: the same on a gated function: its Pub/Sub trigger identity
  may no longer invoke it (the orchestrator never runs, nothing dead-letters);
* ``crash_at_import``: a deploy that "succeeded" with code that fails at start (seed 003):
  the function's bundle object is replaced by one whose ``main.py`` raises at import;
* ``drop_expected_processor``: the function's deployed ``EXPECTED_PROCESSORS`` lacks a
  processor the manifest expects (the configuration drifted, seeds 001/002).
"""

from __future__ import annotations

import hashlib
import io
import json
import zipfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from infra.local.errors import LocalError
from infra.stackjson.stack import StackJson, first

RUN_IAM = "google_cloud_run_v2_service_iam_member"
FUNCTION = "google_cloudfunctions2_function"
SUBSCRIPTION = "google_pubsub_subscription"
BUNDLE = "google_storage_bucket_object"
SHORT_BACKOFF = {"minimum_backoff": "1s", "maximum_backoff": "2s"}
"""Drills compress a push edge's declared backoff (10 s .. 600 s) so dead-lettering takes
seconds; the minutes a drill reports use the declared one."""
CRASH_LINE = ("raise RuntimeError('drill: this deploy fails at import, as the seed 003 "
              "deploy failed its health check')\n")


def _resources(data: Mapping[str, Any], rtype: str) -> dict[str, Any]:
    return dict((data.get("resource") or {}).get(rtype) or {})


def _function(data: dict[str, Any], name: str) -> tuple[str, dict[str, Any]]:
    for key, body in _resources(data, FUNCTION).items():
        if body.get("name") == name:
            return key, body
    raise LocalError(f"the stack declares no function {name!r}; functions: "
                     f"{sorted(b.get('name') for b in _resources(data, FUNCTION).values())}")


def _remove_invoker(data: dict[str, Any], stack: StackJson, target: str,
                    identity: str | None) -> None:
    """Delete the one ``roles/run.invoker`` member of ``identity`` on the Cloud Run ``target``
    (both resource addresses of ``stack``, the parsed ``data``)."""
    members = data["resource"][RUN_IAM]
    doomed = [key for key, body in members.items()
              if stack.ref_address(body.get("name")) == target
              and identity in stack.refs(body.get("member"))]
    if len(doomed) != 1:
        raise LocalError(f"expected one invoker of {target} for {identity}, found {doomed}")
    del members[doomed[0]]


def remove_push_invoker(data: dict[str, Any], subscription: str) -> str:
    """Delete the invoker member of ``subscription``'s push identity on its target, and
    compress the subscription's retry backoff (``SHORT_BACKOFF``)."""
    stack = StackJson(data)
    sub = next((r for r in stack.of_type(SUBSCRIPTION) if r.body.get("name") == subscription),
               None)
    if sub is None or not first(sub.body.get("push_config")):
        raise LocalError(f"the stack declares no push subscription {subscription!r}")
    push = first(sub.body["push_config"])
    identity = stack.ref_address(first(push.get("oidc_token")).get("service_account_email"))
    target = next((a for a in stack.refs(push.get("push_endpoint"))), None)
    if target is None:
        raise LocalError(f"push subscription {subscription!r} pushes to no resource of the stack")
    _remove_invoker(data, stack, target, identity)
    data["resource"][SUBSCRIPTION][sub.name]["retry_policy"] = dict(SHORT_BACKOFF)
    return (f"roles/run.invoker of {subscription}'s push identity on "
            f"{stack.resources[target].body.get('name')} removed")


def remove_trigger_invoker(data: dict[str, Any], function: str) -> str:
    """Delete the invoker member of ``function``'s Pub/Sub trigger identity on it."""
    stack = StackJson(data)
    key, body = _function(data, function)
    identity = stack.ref_address(first(body.get("event_trigger")).get("service_account_email"))
    if identity is None:
        raise LocalError(f"function {function} has no trigger identity in the stack")
    _remove_invoker(data, stack, f"{FUNCTION}.{key}", identity)
    return f"roles/run.invoker of {function}'s trigger identity on {function} removed"


def crash_at_import(data: dict[str, Any], function: str, base: Path, out_dir: Path) -> str:
    """Point ``function``'s bundle object at a copy of its bundle whose ``main.py`` raises at
    import (a new content hash, so a new object, as a real deploy would upload)."""
    stack = StackJson(data, base)
    _, body = _function(data, function)
    storage = first(first(first(body.get("build_config")).get("source")).get("storage_source"))
    obj_address = stack.ref_address(storage.get("object"))
    if obj_address is None or obj_address not in stack.resources:
        raise LocalError(f"function {function}: no bundle object in the stack")
    obj_key = obj_address.split(".", 1)[1]
    obj = data["resource"][BUNDLE][obj_key]
    source = (base.parent / str(obj.get("source"))).resolve()
    if not source.is_file():
        raise LocalError(f"function {function}: its bundle {source} is missing; run `make synth`")
    buffer = io.BytesIO()
    with zipfile.ZipFile(source) as zin, zipfile.ZipFile(buffer, "w",
                                                         zipfile.ZIP_DEFLATED) as zout:
        for info in zin.infolist():
            content = zin.read(info)
            if info.filename == "main.py":
                content = CRASH_LINE.encode() + content
            zout.writestr(info, content)
    raw = buffer.getvalue()
    name = str(obj["name"]).removeprefix("functions/").removesuffix(".zip")
    source_name = name.rpartition("-")[0]
    crashed = out_dir / f"{source_name}-{hashlib.sha256(raw).hexdigest()[:16]}.zip"
    out_dir.mkdir(parents=True, exist_ok=True)
    crashed.write_bytes(raw)
    obj["name"] = f"functions/{crashed.name}"
    obj["source"] = str(crashed.resolve())
    return f"{function} deployed with code that raises at import ({crashed.name})"


def drop_expected_processor(data: dict[str, Any], function: str, processor: str) -> str:
    """Remove ``processor`` from ``function``'s deployed ``EXPECTED_PROCESSORS``."""
    _, body = _function(data, function)
    variables = first(body.get("service_config")).get("environment_variables") or {}
    expected = json.loads(variables.get("EXPECTED_PROCESSORS", "[]"))
    if processor not in expected:
        raise LocalError(f"function {function} does not expect {processor!r}: {expected}")
    variables["EXPECTED_PROCESSORS"] = json.dumps([p for p in expected if p != processor])
    return (f"{function} deployed with EXPECTED_PROCESSORS without {processor}, which the "
            "manifest expects")


def write_stack(data: dict[str, Any], base: Path, out: Path) -> Path:
    """Write ``data`` to ``out`` with every relative bundle asset pointing at ``base``'s."""
    for obj in _resources(data, BUNDLE).values():
        source = obj.get("source")
        if isinstance(source, str) and not Path(source).is_absolute():
            obj["source"] = str((base.parent / source).resolve())
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(data, indent=1))
    return out
