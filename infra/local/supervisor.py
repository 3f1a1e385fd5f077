"""``python -m infra.local serve``: the long-running half of the local pipeline.

``up`` writes ``plan.json`` and starts this process in its own session; it runs every
front, every contract simulator and the scheduler as threads, writes ``serve.ready`` once
all ports are bound, and exits cleanly on SIGTERM (``down`` stops it by PID).
"""

from __future__ import annotations

import datetime as dt
import json
import signal
import sys
import threading
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from http.server import ThreadingHTTPServer
from pathlib import Path
from types import FrameType
from typing import Any
from zoneinfo import ZoneInfo

from infra.local.front import Front, FrontSpec, as_path
from infra.local.httpd import HOST, call, serve_http
from infra.local.records import FRONTS_LOG, JsonlLog, now_iso
from infra.local.simulator import Simulator, SimulatorSpec
from infra.local.topology_types import JobSpec

PLAN_FILE = "plan.json"
READY_FILE = "serve.ready"
SCHEDULER_LOG = "scheduler.jsonl"
JOB_RETRY_BACKOFF_S = 5.0


@dataclass(frozen=True)
class JobCall(JobSpec):
    """A scheduler job as the local scheduler fires it: through the target's front."""

    front_port: int

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


def fire_job(job: JobCall, retries: bool = True,
             timeout: float = 320.0) -> list[tuple[int, str]]:
    """Send the job's request through its target's front; return (status, body) per attempt.

    Like Cloud Scheduler, a non-2xx answer is retried ``retry_count`` times (5 s apart).
    """
    attempts: list[tuple[int, str]] = []
    tries = 1 + (job.retry_count if retries else 0)
    for n in range(tries):
        if n:
            threading.Event().wait(JOB_RETRY_BACKOFF_S)
        try:
            status, answer = call(
                f"http://{HOST}:{job.front_port}{as_path(job.identity, job.path)}",
                timeout=timeout, method=job.method, headers=job.headers,
                data=job.body.encode() if job.body is not None else None)
            attempts.append((status, answer.decode(errors="replace")))
        except OSError as exc:
            attempts.append((503, f"front unreachable: {exc}"))
        if 200 <= attempts[-1][0] < 300:
            break
    return attempts


def _scheduler(jobs: list[JobCall], stop: threading.Event, log: JsonlLog) -> None:
    from croniter import croniter

    def next_fire(job: JobCall, after: dt.datetime) -> dt.datetime:
        local = after.astimezone(ZoneInfo(job.time_zone))
        nxt = croniter(job.schedule, local).get_next(dt.datetime)
        return nxt.astimezone(dt.UTC)

    now = dt.datetime.now(dt.UTC)
    due = {job.name: next_fire(job, now) for job in jobs}
    while jobs and not stop.is_set():
        name = min(due, key=lambda n: due[n])
        wait = (due[name] - dt.datetime.now(dt.UTC)).total_seconds()
        if stop.wait(max(0.0, min(wait, 30.0))):
            return
        if dt.datetime.now(dt.UTC) < due[name]:
            continue
        job = next(j for j in jobs if j.name == name)
        due[name] = next_fire(job, due[name])

        def run(job: JobCall = job) -> None:
            attempts = fire_job(job)
            log.write({"ts": now_iso(), "job": job.name, "target": job.target,
                       "attempts": [status for status, _ in attempts]})

        threading.Thread(target=run, name=f"job-{job.name}", daemon=True).start()


def serve(workdir: Path) -> int:
    """Run the plan in ``workdir`` until SIGTERM/SIGINT; return the exit code."""
    # The Pub/Sub client library loads in this process only, not with every module that
    # reads ``JobCall`` (``up``, ``down`` and ``run-job`` stay light).
    from infra.local.pubsub import PubSub

    plan = json.loads((workdir / PLAN_FILE).read_text())
    records = Path(plan["records_dir"])
    fronts_log = JsonlLog(records / FRONTS_LOG)
    pubsub = PubSub(plan["pubsub_host"])
    front_ports: Mapping[str, int] = {f["target"]: f["port"] for f in plan["fronts"]}
    fds: Mapping[str, int] = plan.get("listen_fds", {})
    servers: list[ThreadingHTTPServer] = []
    try:
        for f in plan["fronts"]:
            front = Front(FrontSpec.from_json(f), fronts_log, pubsub)
            servers.append(serve_http(front.spec.port, front.handle, fds.get(str(front.spec.port))))
        for s in plan["simulators"]:
            spec = SimulatorSpec.from_json(s["spec"])
            sim = Simulator(spec, pubsub, front_ports, JsonlLog(records / f"{spec.key}.jsonl"))
            servers.append(serve_http(int(s["port"]), sim.handle, fds.get(str(s["port"]))))
    except OSError as exc:
        for server in servers:
            server.server_close()
        print(f"serve: cannot bind a port ({exc}); run `python -m infra.local down` and "
              "`up` again (it picks free ports)", file=sys.stderr)
        return 1
    stop = threading.Event()

    def on_signal(signum: int, frame: FrameType | None) -> None:
        stop.set()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    threads = [threading.Thread(target=s.serve_forever, kwargs={"poll_interval": 0.2},
                                daemon=True) for s in servers]
    for t in threads:
        t.start()
    if plan.get("scheduler"):
        jobs = [JobCall(**j) for j in plan["jobs"]]
        threading.Thread(target=_scheduler, args=(jobs, stop, JsonlLog(records / SCHEDULER_LOG)),
                         daemon=True).start()
    (workdir / READY_FILE).write_text(json.dumps({"ready_at": now_iso(),
                                                  "servers": len(servers)}))
    print(f"serve: {len(plan['fronts'])} fronts, {len(plan['simulators'])} simulators, "
          f"scheduler {'on' if plan.get('scheduler') else 'off'}", flush=True)
    stop.wait()
    # Shut the servers down side by side: each waits up to one poll interval.
    closers = [threading.Thread(target=s.shutdown) for s in servers]
    for t in closers:
        t.start()
    for t in closers:
        t.join()
    for server in servers:
        server.server_close()
    print("serve: stopped", flush=True)
    return 0
