"""Live alert policies and notification channels doing a declared one's job under another name.

Cloud Asset Inventory's stable fields give a policy or a channel only its ``name`` (an id
Google assigns) and its ``displayName``: no condition, log filter, notification channel or
channel label. So a candidate is found by its display name alone: it names a declared
component's cloud name, the sport (``NBA``) or a phase (``Phase 3``), and shares words with
what a declared policy watches (its component's key and cloud name) or a declared channel's
display name. Adopting the declared one beside it would alert twice on every ERROR.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from infra.live.adopt_findings import Finding
from infra.live.adopt_inputs import Live, mentions
from infra.live.adopt_match import Declared
from infra.model.manifest import Manifest
from infra.model.naming import Names
from infra.model.provider.resources import delete_command

POLICY = "monitoring.googleapis.com/AlertPolicy"
CHANNEL = "monitoring.googleapis.com/NotificationChannel"
# Words any alert's name may use that say nothing about what it watches.
GENERIC = frozenset({"a", "an", "and", "the", "to", "of", "on", "in", "for", "high", "error",
                     "rate", "log", "logs", "logged", "alert", "pipeline", "platform",
                     "slack"})
PHASE = re.compile(r"^phase\d$")


def words(text: str, sport: str) -> set[str]:
    """The telling words of a name: lower case, ``Phase 3`` as ``phase3``, ``processors`` as
    ``processor``, without generic words and the sport."""
    low = re.sub(r"\bphase[\s_-]*(\d)\b", r"phase\1", text.lower())
    found = {w[:-1] if w.endswith(("ers", "ors")) else w for w in re.findall(r"[a-z0-9]+", low)}
    return found - GENERIC - {sport}


def cannot_match_note(project: str) -> str:
    """What the stable fields cannot match (said in the report's Duplicates section)."""
    return ("Alert policies and notification channels are compared by display name only: "
            "Cloud Asset Inventory's stable fields give a policy no condition, log filter or "
            "channel, so a live policy watching the same logs under a name that names neither "
            "a declared component nor the sport or a phase is not found. Review "
            f"`gcloud alpha monitoring policies list --project={project}` by hand.")


def _named_like_the_pipeline(x: Live, sport: str, cloud_names: Sequence[str]) -> bool:
    low = x.display_name.lower()
    return bool(mentions(low, [sport, *cloud_names])
                or any(PHASE.match(w) for w in words(low, sport)))


def monitoring_duplicates(manifest: Manifest, names: Names, declared: Sequence[Declared],
                          unmatched: Sequence[Live]) -> list[Finding]:
    """Unmatched live policies and channels that probably do a declared one's job."""
    sport = names.sport
    clouds = {c.key: names.service(c) for c in manifest.services}
    clouds |= {f.key: names.function(f) for f in manifest.functions}
    watched: dict[str, set[str]] = {}
    for d in declared:
        if d.type != "google_monitoring_alert_policy":
            continue
        shown = str(d.attrs.get("display_name", ""))
        for a in manifest.alerts:
            cloud = clouds.get(a.component, a.component)
            # The declared policy of this alert: its display name (the live one it adopts,
            # when set) or the default, which names the component's cloud name.
            if shown == a.display_name or (a.display_name is None and mentions(shown, [cloud])):
                watched[d.address] = words(f"{a.component} {cloud} {shown}", sport)
    channels = {d.address: words(str(d.attrs.get("display_name", "")), sport) for d in declared
                if d.type == "google_monitoring_notification_channel"}
    by_address = {d.address: d for d in declared}
    project = names.env.project_id
    out: list[Finding] = []
    for x in sorted(unmatched, key=lambda x: x.name):
        if x.asset_type not in (POLICY, CHANNEL) or not x.display_name:
            continue
        if not _named_like_the_pipeline(x, sport, sorted(clouds.values())):
            continue
        pool = watched if x.asset_type == POLICY else channels
        shared = {a: words(x.display_name, sport) & w for a, w in pool.items()}
        best = max((len(s) for s in shared.values()), default=0)
        like = sorted(a for a, s in shared.items() if len(s) == best)
        if not like or (best == 0 and (x.asset_type == POLICY or len(pool) > 1)):
            continue
        out.append(_finding(x, [by_address[a] for a in like], shared[like[0]], project))
    return out


def _finding(x: Live, like: Sequence[Declared], shared: set[str], project: str) -> Finding:
    them = " or ".join(f"{d.address} ({d.attrs.get('display_name')!r})" for d in like)
    delete = delete_command(x.asset_type, x.relative_name, x.location, project)
    if x.asset_type == POLICY:
        why = (f"display name {x.display_name!r} names {', '.join(sorted(shared))} like {them}: "
               "adopting the declared policy beside it alerts twice on every ERROR")
        fix = (f"once the declared policy is live: {delete}; or set "
               f"display_name={x.display_name!r} on the AlertPolicy of {them} in "
               "infra/model/pipeline.py and rerun make adopt to import it")
    else:
        why = (f"display name {x.display_name!r} is the pipeline's like {them}: the old "
               "policies alert through it and the declared ones through the declared "
               "channel, so every incident reaches Slack twice")
        fix = (f"once the old policies are deleted: {delete}; or set "
               f"alert_channel_display_name={x.display_name!r} in the env config "
               "(infra/model/envs.py) and rerun make adopt to import it")
    return Finding("duplicate", x.asset_type, x.relative_name, x.location, why, fix)
