"""Benchmark the Phase 3 -> Phase 4 orchestrator on the official emulators; prints ratios.

    .venv/bin/python bench/orchestrator.py [--dates 60] [--concurrency 16] [--copies 2]

1. Latency: functions-framework serves the orchestrator's bundle (``main.py`` of the zip the
   stack uploads, unzipped, so the shared package is the shipped one) locally; a
   push subscription on the completion topic points at ``/projects/P/topics/T`` (which
   functions-framework turns into a CloudEvent), and a push subscription on the trigger
   topic points at a receiver in this process. ``--concurrency`` workers each take one game
   date at a time: publish every processor but one (each ``--copies`` times, shuffled), wait
   until the summary shows them recorded (in production processors finish minutes apart),
   then publish the last processor's copies. Latency per date = trigger received - the
   publish of the last processor's first copy (the completion that made the set complete).
2. Baseline: the raw emulator round trip, publish -> push to an empty handler (the same
   receiver), at the same concurrency. The orchestrator path has two such hops plus its
   Firestore work, so a ratio near 2 is the floor.

The Pub/Sub emulator pushes each subscription's messages from two sequential loops (hard
coded; real Pub/Sub push has no such cap) and ignores subscription filters, so both paths
spread their messages over ``--shards`` topics, each with its own push subscription to the
same endpoint, keyed by game date: 2 x shards concurrent pushes, as in production.
3. Import time: the orchestrator module vs a functions-framework hello world, each imported
   in fresh interpreters (median of several), as a ratio.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import random
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
import uuid
import zipfile
from concurrent.futures import ThreadPoolExecutor
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from infra.local.emulators import emulators  # noqa: E402
from infra.ports import reserve  # noqa: E402
from infra.synth.bundle import build_bundle  # noqa: E402
from infra.wait import WaitTimeout, wait_until  # noqa: E402

PROJECT = "bench-project"
PROCESSORS = [f"bench_processor_{i}" for i in range(1, 6)]
PHASES = ["phase_a", "phase_b"]
HELLO = """import functions_framework


@functions_framework.cloud_event
def hello(cloud_event):
    return None
"""
IMPORT_PROBE = """import importlib.util, sys, time
t = time.perf_counter()
spec = importlib.util.spec_from_file_location("main", sys.argv[1])
module = importlib.util.module_from_spec(spec)
sys.modules["main"] = module  # as functions-framework does before executing the source
spec.loader.exec_module(module)
print(time.perf_counter() - t)
"""


class Receiver:
    """An HTTP push endpoint that timestamps each delivery by a key from its attributes."""

    def __init__(self) -> None:
        self.arrivals: dict[str, float] = {}
        self.counts: dict[str, int] = {}
        self.cond = threading.Condition()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                now = time.monotonic()
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                attributes = body["message"].get("attributes", {})
                key = attributes.get("key") or attributes.get("game_date", "?")
                with receiver.cond:
                    receiver.arrivals.setdefault(key, now)
                    receiver.counts[key] = receiver.counts.get(key, 0) + 1
                    receiver.cond.notify_all()
                self.send_response(200)
                self.end_headers()

            def log_message(self, *args: object) -> None:
                return None

        self.port = reserve()
        self.server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def wait(self, key: str, timeout: float) -> float | None:
        deadline = time.monotonic() + timeout
        with self.cond:
            while key not in self.arrivals:
                left = deadline - time.monotonic()
                if left <= 0:
                    return None
                self.cond.wait(left)
            return self.arrivals[key]

    def close(self) -> None:
        self.server.shutdown()


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(q * (len(ordered) - 1))))
    return ordered[index]


def wait_http(port: int, timeout: float, proc: subprocess.Popen[bytes]) -> None:
    def answers() -> bool:
        if proc.poll() is not None:
            raise SystemExit(f"bench: functions-framework exited with {proc.returncode}")
        try:
            urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=1)
        except urllib.error.HTTPError:
            return True
        except OSError:
            return False
        return True

    try:
        wait_until(answers, timeout=timeout, what=f"functions-framework on {port}", interval=0.05)
    except WaitTimeout as err:
        raise SystemExit(f"bench: {err}") from None


def raw_round_trip(
    publisher, subscriber, receiver: Receiver, n: int, workers: int, shards: int
) -> list[float]:
    suffix = uuid.uuid4().hex[:8]
    topics = [f"projects/{PROJECT}/topics/raw-{suffix}-{k}" for k in range(shards)]
    for k, topic in enumerate(topics):
        publisher.create_topic(name=topic)
        subscriber.create_subscription(
            name=f"projects/{PROJECT}/subscriptions/raw-{suffix}-{k}",
            topic=topic,
            push_config={"push_endpoint": f"http://127.0.0.1:{receiver.port}/raw"},
        )

    def one(i: int) -> float:
        key = f"raw-{i}"
        publisher.publish(topics[i % shards], b"{}", key=key).result(timeout=30)
        sent = time.monotonic()
        arrived = receiver.wait(key, 30)
        if arrived is None:
            raise SystemExit(f"bench: raw message {key} never arrived")
        return arrived - sent

    with ThreadPoolExecutor(workers) as pool:
        list(pool.map(one, range(workers)))  # warm-up, not measured
        return list(pool.map(one, range(workers, workers + n)))


def shipped_source(work: Path) -> Path:
    """``main.py`` of the orchestrator's bundle, unzipped into ``work`` (as the runtime sees it)."""
    bundle = build_bundle("phase3_to_phase4", work / "bundles")
    source = work / "orchestrator"
    with zipfile.ZipFile(bundle.path) as zf:
        zf.extractall(source)
    return source / "main.py"


def orchestrator_latency(
    emulator_env: dict[str, str],
    db,
    publisher,
    subscriber,
    receiver: Receiver,
    dates: int,
    workers: int,
    copies: int,
    shards: int,
    log_dir: Path,
    source: Path,
) -> tuple[list[float], int]:
    suffix = uuid.uuid4().hex[:8]
    completions = [f"projects/{PROJECT}/topics/completions-{suffix}-{k}" for k in range(shards)]
    trigger_id = f"trigger-{suffix}"
    trigger = f"projects/{PROJECT}/topics/{trigger_id}"
    for topic in [*completions, trigger]:
        publisher.create_topic(name=topic)
    subscriber.create_subscription(
        name=f"projects/{PROJECT}/subscriptions/trigger-push-{suffix}",
        topic=trigger,
        push_config={"push_endpoint": f"http://127.0.0.1:{receiver.port}/trigger"},
    )
    port = reserve()
    env = {
        **os.environ,
        **emulator_env,
        "GCP_PROJECT": PROJECT,
        "SOURCE_PHASE": PHASES[0],
        "KNOWN_PHASES": json.dumps(PHASES),
        "EXPECTED_PROCESSORS": json.dumps(PROCESSORS),
        "TRIGGER_TOPIC": trigger_id,
        "COMPLETION_COLLECTION": f"bench_completion_{suffix}",
        "COMPLETION_TTL_DAYS": "1",
        "BQ_COMPLETIONS_TABLE": "",
        "TRANSITION": "bench_transition",
        "THREADS": str(max(8, 2 * shards)),  # gunicorn threads of functions-framework
    }
    framework = Path(sys.executable).parent / "functions-framework"
    with (log_dir / "functions-framework.log").open("wb") as log:
        proc = subprocess.Popen(
            [
                str(framework),
                "--source",
                str(source),
                "--target",
                "handle_phase3_completion",
                "--signature-type",
                "cloudevent",
                "--host",
                "127.0.0.1",
                "--port",
                str(port),
            ],
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        wait_http(port, 30, proc)
        endpoint = f"http://127.0.0.1:{port}/projects/{PROJECT}/topics/completions"
        for k, topic in enumerate(completions):
            subscriber.create_subscription(
                name=f"projects/{PROJECT}/subscriptions/completions-push-{suffix}-{k}",
                topic=topic,
                push_config={"push_endpoint": endpoint},
            )

        collection = db.collection(env["COMPLETION_COLLECTION"])

        def publish(processor: str, game_date: str, rng: random.Random) -> None:
            payload = {
                "processor_name": processor,
                "phase": PHASES[0],
                "game_date": game_date,
                "status": "success",
                "record_count": 1,
            }
            topic = completions[rng.randrange(shards)]
            publisher.publish(topic, json.dumps(payload).encode()).result(timeout=30)

        def one(index: int) -> float | None:
            """One game date: all but one processor (with copies), then the last one."""
            game_date = f"2030-{1 + index // 28:02d}-{1 + index % 28:02d}"
            rng = random.Random(index)
            last = rng.choice(PROCESSORS)
            early = [p for p in PROCESSORS if p != last for _ in range(copies)]
            rng.shuffle(early)
            for processor in early:
                publish(processor, game_date, rng)
            with contextlib.suppress(WaitTimeout):
                wait_until(lambda: (collection.document(game_date).get().to_dict() or {}).get(
                    "_completed_count") == len(PROCESSORS) - 1,
                    timeout=60, what=f"{game_date}'s early completions", interval=0.5)
            publish(last, game_date, rng)
            complete_at = time.monotonic()
            for _ in range(copies - 1):
                publish(last, game_date, rng)
            arrived = receiver.wait(game_date, 60)
            return None if arrived is None else arrived - complete_at

        with ThreadPoolExecutor(workers) as pool:
            list(pool.map(one, range(dates, dates + workers)))  # warm-up, not measured
            results = list(pool.map(one, range(dates)))
        time.sleep(1.0)  # let any duplicate trigger arrive before counting
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=10)
    missing = sum(1 for r in results if r is None)
    if missing:
        raise SystemExit(f"bench: {missing} of {dates} dates never triggered; see {log_dir}")
    duplicates = sum(count - 1 for key, count in receiver.counts.items() if key.startswith("2030"))
    return [r for r in results if r is not None], duplicates


def import_seconds(path: Path, runs: int) -> float:
    times = []
    for _ in range(runs):
        out = subprocess.run(
            [sys.executable, "-c", IMPORT_PROBE, str(path)],
            capture_output=True,
            text=True,
            check=True,
            cwd=path.parent,
        )
        times.append(float(out.stdout.strip().splitlines()[-1]))
    return statistics.median(times)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dates", type=int, default=60)
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--copies", type=int, default=2, help="deliveries per processor")
    parser.add_argument("--raw-messages", type=int, default=200)
    parser.add_argument("--shards", type=int, default=8, help="topics (2 push loops each)")
    parser.add_argument("--import-runs", type=int, default=7)
    args = parser.parse_args()
    if args.dates < 50:
        parser.error("--dates must be at least 50")

    with tempfile.TemporaryDirectory(prefix="bench-orchestrator-") as tmp:
        log_dir = Path(tmp)
        hello = log_dir / "hello" / "main.py"
        hello.parent.mkdir()
        hello.write_text(HELLO)
        source = shipped_source(log_dir)
        orch_import = import_seconds(source, args.import_runs)
        hello_import = import_seconds(hello, args.import_runs)

        started = time.monotonic()
        with emulators(log_dir / "emulators") as running:
            print(f"emulators ready in {time.monotonic() - started:.1f}s", flush=True)
            saved = dict(os.environ)
            os.environ.update(running.environ())
            try:
                from google.cloud import firestore, pubsub_v1

                publisher = pubsub_v1.PublisherClient(
                    batch_settings=pubsub_v1.types.BatchSettings(max_messages=1)
                )
                subscriber = pubsub_v1.SubscriberClient()
                receiver = Receiver()
                try:
                    raw = raw_round_trip(
                        publisher,
                        subscriber,
                        receiver,
                        args.raw_messages,
                        args.concurrency,
                        args.shards,
                    )
                    latencies, duplicates = orchestrator_latency(
                        running.environ(),
                        firestore.Client(project=PROJECT),
                        publisher,
                        subscriber,
                        receiver,
                        args.dates,
                        args.concurrency,
                        args.copies,
                        args.shards,
                        log_dir,
                        source,
                    )
                finally:
                    receiver.close()
            finally:
                os.environ.clear()
                os.environ.update(saved)

    ms = 1000.0
    o50, o99 = percentile(latencies, 0.50), percentile(latencies, 0.99)
    r50, r99 = percentile(raw, 0.50), percentile(raw, 0.99)
    print(
        f"orchestrator: last completion published -> trigger received, {args.dates} dates x "
        f"{len(PROCESSORS)} processors x {args.copies} copies, {args.concurrency}-way, "
        f"{args.shards} push topics: "
        f"p50 {o50 * ms:.1f} ms, p99 {o99 * ms:.1f} ms; duplicate triggers: {duplicates}"
    )
    print(
        f"raw emulator round trip: publish -> push to an empty handler, {len(raw)} messages, "
        f"{args.concurrency}-way: p50 {r50 * ms:.1f} ms, p99 {r99 * ms:.1f} ms"
    )
    print(f"latency ratio (orchestrator / raw): p50 {o50 / r50:.1f}x, p99 {o99 / r99:.1f}x")
    print(
        f"import: orchestrator main.py {orch_import * ms:.0f} ms, functions-framework hello "
        f"world {hello_import * ms:.0f} ms: ratio {orch_import / hello_import:.2f}x"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
