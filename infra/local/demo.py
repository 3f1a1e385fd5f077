"""``python -m infra.local demo``: drive one game day through the running local pipeline.

Publishes a Phase 1 completion for a date, waits until the prediction stage is reached (or
the timeout), and prints a Markdown timeline built from the fronts' records: every hop, who
called whom, how many deliveries with which status, and the publish→delivery latency; then
the Phase 4 trigger and the Firestore completion summary.
"""

from __future__ import annotations

import datetime as dt
import json
import statistics
import time
import urllib.parse
import uuid
from collections import Counter
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from infra.local.errors import LocalError
from infra.local.httpd import call
from infra.local.pubsub import PubSub
from infra.local.records import read_jsonl
from infra.local.runner import DEFAULT_WORKDIR, read_state
from infra.wait import WaitTimeout, wait_until

Say = Callable[[str], None]
POLL_S = 0.1


def firestore_document(state: Mapping[str, Any], path: str) -> dict[str, Any] | None:
    """The emulator document at ``path`` (``collection/id``) as plain values, or ``None``."""
    host = state["firestore_emulator_host"]
    url = (f"http://{host}/v1/projects/{state['project']}/databases/(default)/documents/"
           f"{urllib.parse.quote(path)}")
    try:
        status, answer = call(url, timeout=10, headers={"Authorization": "Bearer owner"})
    except OSError as exc:
        raise LocalError(f"Firestore emulator at {host} unreachable ({exc}); is the local "
                         "pipeline up? `python -m infra.local status`") from exc
    if status == 404:
        return None
    if status >= 400:
        raise LocalError(f"Firestore emulator answered HTTP {status} for {path}")
    doc = json.loads(answer)
    return {k: _value(v) for k, v in (doc.get("fields") or {}).items()}


def _value(v: Mapping[str, Any]) -> Any:
    if "mapValue" in v:
        return {k: _value(x) for k, x in (v["mapValue"].get("fields") or {}).items()}
    if "arrayValue" in v:
        return [_value(x) for x in v["arrayValue"].get("values") or []]
    if "integerValue" in v:
        return int(v["integerValue"])
    for key in ("booleanValue", "doubleValue", "stringValue", "timestampValue",
                "referenceValue", "bytesValue"):
        if key in v:
            return v[key]
    return None


def fronts_records(state: Mapping[str, Any]) -> list[dict[str, Any]]:
    return list(read_jsonl(Path(state["fronts_log"])))


@dataclass(frozen=True)
class Hop:
    """The deliveries of one edge (same target, path and caller) for a day."""

    first: float
    target: str
    path: str
    topic: str | None
    via: str
    identity: str | None
    statuses: Counter[int]
    latencies_ms: tuple[float, ...]

    @property
    def deliveries(self) -> int:
        return sum(self.statuses.values())


def _epoch(ts: str) -> float:
    return dt.datetime.fromisoformat(ts).timestamp()


def hops(records: Iterable[Mapping[str, Any]]) -> list[Hop]:
    """Group front records into hops, ordered by their first delivery."""
    groups: dict[tuple[Any, ...], list[Mapping[str, Any]]] = {}
    for r in records:
        key = (r.get("target"), r.get("path"), r.get("via"), r.get("identity"))
        groups.setdefault(key, []).append(r)
    out = []
    for (target, path, via, identity), rs in groups.items():
        out.append(Hop(
            first=min(_epoch(r["ts"]) for r in rs), target=str(target), path=str(path),
            topic=next((r.get("topic") for r in rs if r.get("topic")), None), via=str(via),
            identity=identity, statuses=Counter(int(r.get("status", 0)) for r in rs),
            latencies_ms=tuple(float(r["since_publish_ms"]) for r in rs
                               if r.get("since_publish_ms") is not None),
        ))
    return sorted(out, key=lambda h: h.first)


def timeline_markdown(day_hops: list[Hop], t0: float) -> str:
    lines = ["| t (s) | hop | caller | deliveries | status | publish→delivery |",
             "|---:|---|---|---:|---|---|"]
    for h in day_hops:
        source = f"{h.topic} → " if h.topic else ""
        path = "/projects/…/topics/…" if h.path.startswith("/projects/") else h.path
        who = (h.identity or "anonymous").split("@")[0]
        status = ", ".join(f"{code} x{n}" if n > 1 else str(code)
                           for code, n in sorted(h.statuses.items()))
        latency = "-"
        if h.latencies_ms:
            latency = (f"{statistics.median(h.latencies_ms):.0f} ms median, "
                       f"{max(h.latencies_ms):.0f} ms max")
        lines.append(f"| +{h.first - t0:.2f} | {source}{h.target} {path} | {who} ({h.via}) | "
                     f"{h.deliveries} | {status} | {latency} |")
    return "\n".join(lines)


def _fresh_date(state: Mapping[str, Any], collection: str | None) -> tuple[str, str]:
    today = dt.datetime.now(ZoneInfo("America/New_York")).date()
    for back in range(0, 366):
        day = today - dt.timedelta(days=back)
        if collection is None or firestore_document(state, f"{collection}/{day}") is None:
            why = "today, America/New_York" if back == 0 else (
                f"the first date back from {today} without completions from an earlier run")
            return day.isoformat(), why
    raise LocalError("every date of the past year already has completions; pass --date")


def run_demo(workdir: Path = DEFAULT_WORKDIR, game_date: str | None = None,
             timeout: float = 60.0, say: Say = print) -> int:
    """Drive one day; return 0 when the prediction stage was reached, else 1."""
    state = read_state(workdir.resolve())
    if state.get("status") != "up":
        raise LocalError(f"the local pipeline in {workdir} is {state.get('status')!r}, not up; "
                         "run `python -m infra.local down` then `up`")
    gated = (state.get("gated") or [{}])[0]
    collection = gated.get("collection")
    if game_date is None:
        game_date, why = _fresh_date(state, collection)
    else:
        why = "--date"
    entry = state["entry"]
    topic = state["topics"][entry["topic"]]
    correlation = f"demo-{uuid.uuid4().hex[:12]}"
    message = {
        "processor_name": entry["processor"], "phase": entry["phase"],
        "execution_id": str(uuid.uuid4()), "correlation_id": correlation,
        "game_date": game_date, "output_table": None, "output_dataset": None,
        "status": "success", "record_count": 1,
        "timestamp": dt.datetime.now(dt.UTC).isoformat(),
    }
    t0 = time.time()
    ids = PubSub(state["pubsub_emulator_host"]).publish_json(topic, [message])
    say(f"demo: game day {game_date} ({why}); published the Phase 1 completion to {topic} "
        f"(message {ids[0]}, correlation {correlation})")
    final = state["final_target"]
    say(f"demo: waiting up to {timeout:.0f}s for the prediction stage ({final})")

    def day_records() -> list[dict[str, Any]]:
        return [r for r in fronts_records(state)
                if r.get("game_date") == game_date and _epoch(r["ts"]) >= t0 - 1]

    def final_answer() -> dict[str, Any] | None:
        return next((r for r in day_records() if r.get("target") == final
                     and 200 <= int(r.get("status", 0)) < 300), None)

    reached: dict[str, Any] | None
    try:
        reached = wait_until(final_answer, timeout=timeout, what=f"the prediction stage ({final})",
                             interval=POLL_S)
    except WaitTimeout:
        reached = None  # the timeline below says where the day stalled
    records = day_records()
    say("")
    say(f"### Local pipeline day {game_date}")
    say("")
    say(timeline_markdown(hops(records), t0))
    say("")
    trigger_topic = gated.get("trigger_topic")
    triggers = [r for r in records if trigger_topic and r.get("topic") == trigger_topic]
    if triggers:
        first = min(triggers, key=lambda r: r["ts"])
        say(f"- Phase 4 trigger: message {first.get('message_id')} on {trigger_topic}, "
            f"delivered at +{_epoch(first['ts']) - t0:.2f}s "
            f"({len({r.get('message_id') for r in triggers})} trigger message(s) for the day)")
    else:
        say(f"- Phase 4 trigger: none on {trigger_topic}")
    if collection:
        summary = firestore_document(state, f"{collection}/{game_date}")
        if summary is None:
            say(f"- Firestore {collection}/{game_date}: no summary (no Phase 3 completion "
                "reached the orchestrator)")
        else:
            # "at" only when there is a time: an untriggered day has none to show.
            at = summary.get("_triggered_at")
            state_text = f"_triggered {summary.get('_triggered')}" + (f" at {at}" if at else "")
            say(f"- Firestore {collection}/{game_date}: _completed_count "
                f"{summary.get('_completed_count')}/{summary.get('_expected_count')}, "
                f"{state_text}, missing {summary.get('_missing') or 'none'}")
    if reached is not None:
        invoked = [r for r in records if r.get("via") == "http" and r.get("target") != final
                   and _epoch(r["ts"]) >= _epoch(reached["ts"]) - 60]
        extra = "; ".join(f"{r['target']} {r['path']} {r['status']}" for r in invoked)
        say(f"- prediction stage reached at +{_epoch(reached['ts']) - t0:.2f}s: {final} "
            f"{reached.get('path')} {reached.get('status')}{'; ' + extra if extra else ''}")
        return 0
    dead = [r for r in records if str(r.get("delivery", "")).startswith("dead-lettered")]
    if dead:
        say(f"- dead-lettered: {len(dead)} message(s) from {dead[0].get('subscription')} after "
            f"{max(int(r.get('attempt') or 0) for r in dead)} attempts, "
            f"{str(dead[0]['delivery']).removeprefix('dead-lettered ')}")
    denied = [r for r in records if r.get("decision") == "denied"]
    if denied:
        r = denied[-1]
        say(f"- stalled: {r['target']} refused {len(denied)} request(s) from "
            f"{r.get('identity')} ({r.get('status')}): the stack grants it no "
            "roles/run.invoker on that target")
    else:
        say(f"- stalled: the prediction stage was not reached within {timeout:.0f}s; see "
            f"{state['fronts_log']} and {state['logs']}")
    return 1
