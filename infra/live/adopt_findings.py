"""What the cut-over must act on besides imports, as pure functions of the recorded inputs.

* ``removed_but_live``: what the manifest lists under ``removed`` (and what belongs to it:
  its service, its Eventarc trigger and subscription, its Cloud Build trigger), with deletion
  commands in an order that never breaks Phase 3;
* ``deploy_paths``: Cloud Build triggers that deploy a function this repo owns (a second
  deploy path that resets its IAM and code) or a service image (its release path: information);
* ``duplicates``: live resources doing a declared one's job under another name;
* ``undeclared``: other live pipeline resources (the sport prefix or a manifest name).

``verify`` reuses the first two on the live project.
"""

from __future__ import annotations

import re
from collections.abc import Container, Mapping, Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlparse

from infra.live.adopt_inputs import BuildTrigger, Live, mentions
from infra.live.adopt_match import Declared, Owned
from infra.model.manifest import Manifest
from infra.model.naming import Names
from infra.model.provider.resources import (
    DATA_STORES,
    DELETE_ORDER,
    delete_command,
    resolve_command,
    trigger_delete_command,
)
from infra.stackjson.stack import StackJson


@dataclass(frozen=True)
class Finding:
    """One thing to act on: what, where, why, and the exact command or manifest change."""

    section: str
    kind: str
    name: str
    location: str
    why: str
    fix: str


def _tokens_removed(manifest: Manifest, names: Names) -> list[str]:
    return sorted({t for r in manifest.removed for t in (r, names.topic(r))})


def removed_but_live(manifest: Manifest, names: Names, lives: Sequence[Live],
                     owned: Mapping[str, Owned], triggers: Sequence[BuildTrigger],
                     matched: Container[str]) -> list[Finding]:
    """Removed components still live, ordered as ``DELETE_ORDER`` (then by name);
    ``matched``: full names of the live resources that are declared ones."""
    tokens = _tokens_removed(manifest, names)
    project = names.env.project_id
    found: list[tuple[str, Finding]] = []
    for x in lives:
        if x.name in matched:
            continue
        own = owned.get(x.name)
        hit = mentions(x.short, tokens)
        if own is not None and own.owner and mentions(own.owner, tokens):
            why = f"{own.reason}; {own.owner} is listed in removed"
        elif hit and (own is None or own.owner is None):
            why = f"{hit[0]} is listed in removed"
        elif (x.asset_type == "pubsub.googleapis.com/Subscription"
              and mentions(str(x.resource.get("topic", "")), tokens)):
            why = f"subscribes to removed topic {x.resource['topic']}"
        else:
            continue
        found.append((x.asset_type, Finding(
            "removed", x.asset_type, x.short, x.location, why,
            resolve_command(x.asset_type, x.short, x.location, project))))
    for t in triggers:
        hit = sorted({tok for _, text in t.texts() for tok in mentions(text, tokens)})
        if hit:
            found.append(("cloudbuild.googleapis.com/BuildTrigger", Finding(
                "removed", "cloudbuild.googleapis.com/BuildTrigger", t.name, t.location,
                f"deploys {', '.join(hit)} (listed in removed): it would bring it back",
                trigger_delete_command(t.name, t.location, project))))

    def rank(item: tuple[str, Finding]) -> tuple[int, str]:
        atype, f = item
        return (DELETE_ORDER.index(atype) if atype in DELETE_ORDER else len(DELETE_ORDER),
                f.name)

    return [f for _, f in sorted(found, key=rank)]


def deploy_paths(manifest: Manifest, names: Names,
                 triggers: Sequence[BuildTrigger]) -> tuple[list[Finding], list[Finding]]:
    """(second deploy paths of owned functions, release paths of services)."""
    removed = _tokens_removed(manifest, names)
    project = names.env.project_id
    # A function is named by its cloud name, its source folder (either spelt with - or _, as
    # old folders were) or its entry point (``--entry-point``, ``_ENTRY_POINT``).
    functions = {fn.key: list(dict.fromkeys(
        [v for t in (names.function(fn), fn.source)
         for v in (t, t.replace("-", "_"), t.replace("_", "-"))] + [fn.entry_point]))
        for fn in manifest.functions}
    services = {s.key: names.service(s) for s in manifest.services}
    second: list[Finding] = []
    release: list[Finding] = []
    for t in sorted(triggers, key=lambda t: (t.location, t.name)):
        texts = t.texts()
        if any(mentions(text, removed) for _, text in texts):
            continue
        fn_hits = _evidence(texts, functions)
        if fn_hits:
            keys = ", ".join(sorted(fn_hits))
            second.append(Finding(
                "second-deploy", "cloudbuild.googleapis.com/BuildTrigger", t.name, t.location,
                f"deploys function {keys} ({'; '.join(fn_hits.values())}) behind Terraform's "
                "back: the next push resets its IAM and code",
                trigger_delete_command(t.name, t.location, project)))
            continue
        svc_hits = _evidence(texts, {k: [cloud] for k, cloud in services.items()})
        if svc_hits:
            release.append(Finding(
                "release-path", "cloudbuild.googleapis.com/BuildTrigger", t.name, t.location,
                f"builds and deploys the image of service {', '.join(sorted(svc_hits))} "
                f"({'; '.join(svc_hits.values())}): its release path",
                "none: image rollouts stay outside Terraform (the stack's image is the "
                "baseline)"))
    return second, release


def _evidence(texts: Sequence[tuple[str, str]],
              tokens_by_key: Mapping[str, Sequence[str]]) -> dict[str, str]:
    hits: dict[str, str] = {}
    for key, tokens in tokens_by_key.items():
        for where, text in texts:
            found = mentions(text, tokens)
            if found:
                hits[key] = f"{where} names {found[0]}"
                break
    return hits


def _uri_parts(stack: StackJson, uri: object) -> tuple[str | None, str]:
    """(target cloud name, path) of a declared ``${<target>.uri}/path`` URL."""
    text = str(uri or "")
    m = re.match(r"^\$\{((?:[a-z0-9_]+)\.[A-Za-z0-9_-]+)[^}]*\}(?P<path>/.*)?$", text)
    if not m:
        return None, urlparse(text).path or "/"
    res = stack.resources.get(m.group(1))
    return (str(res.body.get("name")) if res else None), m.group("path") or "/"


def _targets(url: str, name: str) -> bool:
    """Whether a live URL points at Cloud Run service / function ``name``."""
    parsed = urlparse(url)
    host = parsed.hostname or ""
    return host.startswith(f"{name}-") or parsed.path.rstrip("/").endswith(f"/{name}")


def _same_schedule(a: object, b: object) -> bool:
    return " ".join(str(a).split()) == " ".join(str(b).split())


def duplicates(stack: StackJson, declared: Sequence[Declared], lives: Sequence[Live],
               unmatched: Sequence[Live], extra: Sequence[tuple[Declared, Live]],
               names: Names) -> tuple[list[Finding], list[str]]:
    """(duplicates, what could not be compared and why)."""
    project = names.env.project_id
    out: list[Finding] = []
    notes: list[str] = []
    jobs = [d for d in declared if d.type == "google_cloud_scheduler_job"]
    subs = [d for d in declared if d.type == "google_pubsub_subscription"
            and d.attrs.get("push_config")]
    uncompared: dict[str, list[str]] = {}
    for x in unmatched:
        if x.asset_type == "cloudscheduler.googleapis.com/Job":
            dup = _duplicate_job(stack, jobs, x, uncompared)
        elif x.asset_type == "pubsub.googleapis.com/Subscription":
            dup = _duplicate_subscription(stack, subs, x, uncompared)
        else:
            continue
        if dup:
            out.append(Finding("duplicate", x.asset_type, x.short, x.location, dup,
                               delete_command(x.asset_type, x.short, x.location, project)))
    for d, x in extra:
        if x.path == d.path:
            why = (f"same name as {d.address} but in {x.location}, beside the one imported "
                   f"in {d.location}: both run")
            fix = resolve_command(x.asset_type, x.short, x.location, project)
        else:
            why = f"same display name {x.display_name!r} as {d.address}, which imports another one"
            fix = delete_command(x.asset_type, x.relative_name, x.location, project)
        out.append(Finding("duplicate", x.asset_type, x.relative_name, x.location, why, fix))
    for atype, shorts in sorted(uncompared.items()):
        what = ("schedule and target URL" if atype.endswith("/Job")
                else "topic and push endpoint")
        notes.append(f"{len(shorts)} live {atype} ({', '.join(sorted(shorts))}) compared by "
                     f"name only: the inventory's stable fields have no {what} (record "
                     "versionedResources with `make inventory` to compare them)")
    return out, notes


def _declared_job_name_hit(job: Declared, short: str) -> bool:
    name = str(job.attrs.get("name"))
    return bool(mentions(short, [name]) or mentions(name, [short]))


def _duplicate_job(stack: StackJson, jobs: Sequence[Declared], x: Live,
                   uncompared: dict[str, list[str]]) -> str | None:
    target = x.resource.get("httpTarget") if isinstance(x.resource, Mapping) else None
    if not x.resource.get("schedule") or not isinstance(target, Mapping):
        uncompared.setdefault(x.asset_type, []).append(x.short)
        for job in jobs:
            if _declared_job_name_hit(job, x.short):
                return (f"probably does the job of {job.address} ({job.attrs.get('name')}): "
                        "the names overlap; both firing would run every backfill twice")
        return None
    live_uri = str(target.get("uri", ""))
    for job in jobs:
        http: Any = job.attrs.get("http_target") or {}
        name, path = _uri_parts(stack, http.get("uri") if isinstance(http, Mapping) else None)
        if not _same_schedule(job.attrs.get("schedule"), x.resource["schedule"]):
            continue
        if (urlparse(live_uri).path or "/") != path:
            continue
        if name and not _targets(live_uri, name):
            continue
        return (f"same schedule {x.resource['schedule']!r} and target path {path} as "
                f"{job.address} ({job.attrs.get('name')}): adopting both fires twice")
    return None


def _duplicate_subscription(stack: StackJson, subs: Sequence[Declared], x: Live,
                            uncompared: dict[str, list[str]]) -> str | None:
    push = x.resource.get("pushConfig")
    topic = x.resource.get("topic")
    if not isinstance(push, Mapping) or not isinstance(topic, str):
        if not x.resource:
            uncompared.setdefault(x.asset_type, []).append(x.short)
        return None
    endpoint = str(push.get("pushEndpoint", ""))
    for sub in subs:
        declared_topic = stack.resources.get(stack.ref_address(sub.attrs.get("topic")) or "")
        if declared_topic is None:
            continue
        full_topic = f"projects/{sub.attrs.get('project')}/topics/{declared_topic.body['name']}"
        config: Any = sub.attrs.get("push_config") or {}
        name, path = _uri_parts(stack, config.get("push_endpoint")
                                if isinstance(config, Mapping) else None)
        if topic != full_topic or (urlparse(endpoint).path or "/") != path:
            continue
        if name and not _targets(endpoint, name):
            continue
        return (f"pushes {full_topic} to {path} of {name} like {sub.address} "
                f"({sub.attrs.get('name')}): every message would be processed twice")
    return None


def undeclared(manifest: Manifest, names: Names, unmatched: Sequence[Live],
               skip: set[str]) -> list[Finding]:
    """Live resources named like the pipeline (sport prefix or a manifest name) that nothing
    declares, owns or lists as removed or duplicate (``skip``: their full names)."""
    sport = names.sport
    tokens = sorted({*manifest.component_keys(), *(names.service(s) for s in manifest.services),
                     *(names.function(f) for f in manifest.functions),
                     *(names.job(j) for j in manifest.jobs), *(j.key for j in manifest.jobs),
                     *(t.key for t in manifest.topics),
                     *(t.subscription for t in manifest.transitions)})
    project = names.env.project_id
    out = []
    for x in unmatched:
        if x.name in skip:
            continue
        prefixed = x.short.startswith((f"{sport}-", f"{sport}_"))
        hit = mentions(x.short, tokens)
        if not prefixed and not hit:
            continue
        named = f"named like the pipeline ({hit[0] if hit else sport + '-'}) but not declared"
        why = (f"{named}: a data store, kept whatever it holds" if x.asset_type in DATA_STORES
               else f"{named}: delete it, or declare it in infra/model/pipeline.py to adopt it")
        out.append(Finding("undeclared", x.asset_type, x.short, x.location, why,
                           resolve_command(x.asset_type, x.short, x.location, project)))
    return sorted(out, key=lambda f: (f.kind, f.name))
