"""Start, probe and stop the official Pub/Sub and Firestore emulators.

The emulators are started directly (the Pub/Sub launcher script ``exec``s java, the
Firestore jar is run with ``java -cp``), never through the ``gcloud`` wrapper: killing the
wrapper orphans the JVM it spawned. Each emulator runs in its own process group with a small
heap, logs to a file in the directory you give, and is stopped by PID (SIGTERM to the group,
then SIGKILL after a grace period).

    with emulators(Path(".build/emulators")) as env:
        os.environ.update(env.environ())   # FIRESTORE_EMULATOR_HOST, PUBSUB_EMULATOR_HOST
        ...

Every failure is an ``EmulatorError`` whose message is one line naming the fix.
"""

from __future__ import annotations

import contextlib
import functools
import os
import shutil
import socket
import subprocess
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path

from infra import ports
from infra.local import procs
from infra.wait import WaitTimeout, wait_until

DEFAULT_SDK_ROOT = Path("/usr/lib/google-cloud-sdk")
PUBSUB_LAUNCHER = Path("platform/pubsub-emulator/bin/cloud-pubsub-emulator")
FIRESTORE_JAR = Path("platform/cloud-firestore-emulator/cloud-firestore-emulator.jar")
FIRESTORE_MAIN_CLASS = "com.google.cloud.datastore.emulator.firestore.CloudFirestore"
HOST = "127.0.0.1"
DEFAULT_HEAP_MB = 256
DEFAULT_READY_TIMEOUT_S = 60.0
DEFAULT_STOP_TIMEOUT_S = 10.0
LOG_TAIL_LINES = 15

_SDK_ROOT_CACHE: list[Path] = []


class EmulatorError(RuntimeError):
    """An emulator could not be started, probed or reset; the message names the fix."""


@dataclass(frozen=True)
class EmulatorProcess:
    """A running emulator: where it listens, its process id and its log file."""

    name: str
    """``pubsub`` or ``firestore`` (a key of ``SPAWNERS``), as messages name it."""
    host: str
    """Always ``HOST`` (``127.0.0.1``): the emulators listen on loopback only."""
    port: int
    pid: int
    """The JVM's own process id, the leader of its own process group: what ``stop`` signals."""
    log_path: Path
    """``<log dir>/<name>-<port>.log``, rewritten at each start; errors quote its last lines."""

    @property
    def address(self) -> str:
        """``host:port``, the value of ``*_EMULATOR_HOST``."""
        return f"{self.host}:{self.port}"


@dataclass(frozen=True)
class Emulators:
    """Both emulators, as yielded by ``emulators()``."""

    pubsub: EmulatorProcess
    """Its ``address`` is ``PUBSUB_EMULATOR_HOST`` (likewise ``firestore``'s
    ``FIRESTORE_EMULATOR_HOST``)."""
    firestore: EmulatorProcess

    def environ(self) -> dict[str, str]:
        """The variables the google client libraries read to talk to the emulators."""
        return {
            "PUBSUB_EMULATOR_HOST": self.pubsub.address,
            "FIRESTORE_EMULATOR_HOST": self.firestore.address,
        }


def sdk_root() -> Path:
    """The Cloud SDK root: ``$CLOUDSDK_ROOT_DIR``, else ``gcloud info``, else the apt path."""
    env_root = os.environ.get("CLOUDSDK_ROOT_DIR")
    if env_root:
        return Path(env_root)
    if _SDK_ROOT_CACHE:
        return _SDK_ROOT_CACHE[0]
    root = DEFAULT_SDK_ROOT
    gcloud = shutil.which("gcloud")
    if gcloud:
        with contextlib.suppress(OSError, subprocess.SubprocessError):
            out = subprocess.run(
                [gcloud, "info", "--format=value(installation.sdk_root)"],
                capture_output=True,
                text=True,
                timeout=30,
                check=True,
            ).stdout.strip()
            if out:
                root = Path(out)
    _SDK_ROOT_CACHE.append(root)
    return root


def port_in_use(port: int, host: str = HOST) -> bool:
    """True when binding ``host:port`` fails."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        try:
            sock.bind((host, port))
        except OSError:
            return True
    return False


def _require_java() -> str:
    java = shutil.which("java")
    if java is None:
        raise EmulatorError(
            "java not found on PATH; the emulators need a Java 11+ runtime: "
            "apt-get install -y openjdk-17-jre-headless"
        )
    return java


def _require_file(path: Path, component: str) -> None:
    if not path.is_file():
        raise EmulatorError(
            f"{component} not found at {path}; install it: "
            f"apt-get install -y google-cloud-cli-{component} "
            f"(or gcloud components install {component}), or set CLOUDSDK_ROOT_DIR"
        )


def _choose_port(port: int | None, name: str) -> int:
    if port is None:
        return ports.reserve()
    if port_in_use(port):
        raise EmulatorError(
            f"{name} emulator: port {port} on {HOST} is in use; pass another port "
            "(or port=None for a free one) or stop the process holding it "
            f"(ss -ltnp 'sport = :{port}')"
        )
    return port


def log_tail(path: Path, lines: int = LOG_TAIL_LINES) -> str:
    """The last ``lines`` lines of a log file, joined with `` | `` to stay on one line."""
    try:
        text = path.read_text(errors="replace")
    except OSError:
        return "(no log)"
    tail = [line.strip() for line in text.splitlines() if line.strip()][-lines:]
    return " | ".join(tail) if tail else "(empty log)"


def _probe(host: str, port: int) -> bool:
    # Both emulators answer "Ok" on GET / once they serve requests.
    try:
        with urllib.request.urlopen(f"http://{host}:{port}/", timeout=1.0) as resp:
            return int(resp.status) == 200
    except (OSError, urllib.error.URLError):
        return False


def _spawn(
    name: str, argv: list[str], port: int, log_dir: Path, env: dict[str, str]
) -> EmulatorProcess:
    log_path = log_dir / f"{name}-{port}.log"
    # Own process group: stop() signals the JVM with its launcher script.
    pid = procs.spawn(argv, log_path, env, append=False)
    return EmulatorProcess(name=name, host=HOST, port=port, pid=pid, log_path=log_path)


def wait_ready(emulator: EmulatorProcess, timeout: float = DEFAULT_READY_TIMEOUT_S) -> None:
    """Poll ``emulator`` until it answers; on failure stop it and raise ``EmulatorError``."""

    def ready() -> bool:
        code = procs.exit_code(emulator.pid)
        if code is not None:
            procs.stop(emulator.pid)
            raise EmulatorError(
                f"{emulator.name} emulator exited with code {code} before it was "
                f"ready; see {emulator.log_path}: {log_tail(emulator.log_path)}"
            )
        return _probe(emulator.host, emulator.port)

    try:
        wait_until(ready, timeout=timeout, what=f"the {emulator.name} emulator")
    except WaitTimeout:
        stop(emulator.pid)
        raise EmulatorError(
            f"{emulator.name} emulator not ready on {emulator.address} after {timeout:g}s; raise "
            f"the timeout or check the machine's load; see {emulator.log_path}: "
            f"{log_tail(emulator.log_path)}"
        ) from None


def spawn_pubsub(
    log_dir: Path, port: int | None = None, *, heap_mb: int = DEFAULT_HEAP_MB
) -> EmulatorProcess:
    """Launch the Pub/Sub emulator without waiting; pair with ``wait_ready``."""
    _require_java()
    launcher = sdk_root() / PUBSUB_LAUNCHER
    _require_file(launcher, "pubsub-emulator")
    chosen = _choose_port(port, "pubsub")
    env = dict(os.environ)
    # The launcher script appends $JAVA_OPTS to the JVM options and then execs java, so the
    # PID we hold is the JVM's own.
    env["JAVA_OPTS"] = f"-Xmx{heap_mb}m"
    argv = [str(launcher), f"--host={HOST}", f"--port={chosen}"]
    return _spawn("pubsub", argv, chosen, log_dir, env)


def spawn_firestore(
    log_dir: Path, port: int | None = None, *, heap_mb: int = DEFAULT_HEAP_MB
) -> EmulatorProcess:
    """Launch the Firestore emulator (native mode) without waiting; pair with ``wait_ready``."""
    java = _require_java()
    jar = sdk_root() / FIRESTORE_JAR
    _require_file(jar, "firestore-emulator")
    chosen = _choose_port(port, "firestore")
    # The jar has no Main-Class; this is what the SDK's cloud_firestore_emulator script runs.
    argv = [
        java,
        f"-Xmx{heap_mb}m",
        "-Duser.language=en",
        "-cp",
        str(jar),
        FIRESTORE_MAIN_CLASS,
        f"--host={HOST}",
        f"--port={chosen}",
        f"--websocket_port={ports.reserve()}",
    ]
    return _spawn("firestore", argv, chosen, log_dir, dict(os.environ))


SPAWNERS: Mapping[str, Callable[..., EmulatorProcess]] = {
    "pubsub": spawn_pubsub, "firestore": spawn_firestore,
}
"""Each emulator's launcher (``spawn_<name>(log_dir, port, *, heap_mb)``)."""


def start(
    name: str,
    log_dir: Path,
    port: int | None = None,
    *,
    heap_mb: int = DEFAULT_HEAP_MB,
    ready_timeout: float = DEFAULT_READY_TIMEOUT_S,
) -> EmulatorProcess:
    """Start emulator ``name`` (a key of ``SPAWNERS``) on ``port`` (a free one when omitted)
    and wait until it is ready."""
    emulator = SPAWNERS[name](log_dir, port, heap_mb=heap_mb)
    wait_ready(emulator, ready_timeout)
    return emulator


start_pubsub = functools.partial(start, "pubsub")
start_firestore = functools.partial(start, "firestore")


def stop(pid: int, timeout: float = DEFAULT_STOP_TIMEOUT_S) -> None:
    """Stop the emulator whose process (group leader) is ``pid``: SIGTERM, wait, SIGKILL.

    Only signals the process group that ``pid`` leads, which ``start_*`` created for it.
    Returns once the process is gone; a PID that no longer exists is not an error.
    """
    if not procs.stop(pid, timeout):
        raise EmulatorError(f"process {pid} survived SIGKILL; inspect it with ps -p {pid}")


def reset_firestore(host: str, project: str) -> None:
    """Delete every document of ``project``'s default database in the emulator at ``host``."""
    url = f"http://{host}/emulator/v1/projects/{project}/databases/(default)/documents"
    request = urllib.request.Request(url, method="DELETE")
    try:
        with urllib.request.urlopen(request, timeout=10) as resp:
            status = int(resp.status)
    except (OSError, urllib.error.URLError) as exc:
        raise EmulatorError(
            f"could not reset the Firestore emulator at {host}: {exc}; is it running?"
        ) from exc
    if status != 200:
        raise EmulatorError(f"Firestore emulator reset at {url} answered HTTP {status}")


@contextlib.contextmanager
def emulators(
    log_dir: Path,
    *,
    heap_mb: int = DEFAULT_HEAP_MB,
    ready_timeout: float = DEFAULT_READY_TIMEOUT_S,
) -> Iterator[Emulators]:
    """Run both emulators (started side by side) for the ``with`` block, then stop them."""
    started: list[EmulatorProcess] = []
    try:
        started.append(spawn_pubsub(log_dir, heap_mb=heap_mb))
        started.append(spawn_firestore(log_dir, heap_mb=heap_mb))
        for emulator in started:
            wait_ready(emulator, ready_timeout)
        yield Emulators(pubsub=started[0], firestore=started[1])
    finally:
        for emulator in reversed(started):
            stop(emulator.pid)
