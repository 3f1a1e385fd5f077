"""Local TCP ports for the emulators, functions, fronts and checks, chosen without races.

Base layer (standard library and ``psutil``): the local pipeline (``infra.local``) and the
bundle startup check (``infra.synth.check_functions``) both pick ports here.

``bind(0)`` hands out a port from the kernel's ephemeral range and forgets it at once: by
the time a child process binds it, an outgoing connection (a gRPC channel to the emulator,
a push delivery) may have taken it as its local port, or a second ``up`` running beside
this one may have been handed the same number. Both happened in CI. So a port is:

* drawn at random from *below* the kernel's ephemeral range
  (``/proc/sys/net/ipv4/ip_local_port_range``), where outgoing connections never land;
* reserved across processes with an exclusive marker file under the temp directory (the
  owner's PID inside; markers of dead owners or older than ``RESERVATION_TTL_S`` are
  reclaimed), and never handed out twice by one process;
* checked by binding it, and, for servers this repo runs itself, kept bound: ``listen()``
  returns the listening socket, whose descriptor the child inherits (no window at all).
"""

from __future__ import annotations

import atexit
import contextlib
import os
import random
import socket
import tempfile
import threading
import time
from pathlib import Path

import psutil

HOST = "127.0.0.1"
RESERVATION_TTL_S = 300.0
FALLBACK_RANGE = (20000, 32767)
MIN_PORT = 10000
ATTEMPTS = 500
EPHEMERAL_RANGE_FILE = Path("/proc/sys/net/ipv4/ip_local_port_range")

_LOCK = threading.Lock()
_HANDED_OUT: set[int] = set()
_MARKERS: list[Path] = []


class PortError(RuntimeError):
    """No free port could be reserved."""


def candidate_range(range_file: Path = EPHEMERAL_RANGE_FILE) -> tuple[int, int]:
    """The inclusive port range to draw from: below the ephemeral range, or above it."""
    try:
        low, high = (int(v) for v in range_file.read_text().split()[:2])
    except (OSError, ValueError):
        return FALLBACK_RANGE
    if low - 1 - MIN_PORT >= 2000:
        return MIN_PORT, low - 1
    if 65535 - high >= 2000:
        return high + 1, 65535
    return FALLBACK_RANGE


def reservation_dir() -> Path:
    """Where the cross-process reservation markers live (one folder per user)."""
    return Path(tempfile.gettempdir()) / f"pipeline-infra-ports-{os.getuid()}"


def _stale(marker: Path) -> bool:
    try:
        age = time.time() - marker.stat().st_mtime
        owner = int(marker.read_text().strip() or "0")
    except (OSError, ValueError):
        return True
    return age > RESERVATION_TTL_S or owner <= 0 or not _running(owner)


def _running(pid: int) -> bool:
    """True while ``pid`` runs (a zombie is gone: it holds no port)."""
    try:
        return psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False
    except psutil.AccessDenied:
        return True


def _claim(port: int, folder: Path) -> bool:
    marker = folder / str(port)
    for _ in range(2):
        try:
            fd = os.open(marker, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o600)
        except FileExistsError:
            if not _stale(marker):
                return False
            with contextlib.suppress(FileNotFoundError):
                marker.unlink()
            continue
        with os.fdopen(fd, "w") as out:
            out.write(str(os.getpid()))
        _MARKERS.append(marker)
        return True
    return False


def _bindable(port: int) -> socket.socket | None:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    try:
        sock.bind((HOST, port))
    except OSError:
        sock.close()
        return None
    return sock


def _reserve(keep: bool) -> tuple[int, socket.socket | None]:
    low, high = candidate_range()
    folder = reservation_dir()
    folder.mkdir(mode=0o700, parents=True, exist_ok=True)
    for _ in range(ATTEMPTS):
        port = random.randint(low, high)
        with _LOCK:
            if port in _HANDED_OUT or not _claim(port, folder):
                continue
            sock = _bindable(port)
            if sock is None:
                continue
            _HANDED_OUT.add(port)
        if keep:
            return port, sock
        sock.close()
        return port, None
    raise PortError(f"no free TCP port on {HOST} in {low}-{high} after {ATTEMPTS} tries; "
                    f"stale reservations live in {folder} (safe to delete when nothing runs)")


def reserve() -> int:
    """A port on 127.0.0.1 that nothing listens on and no other caller here will be given.

    For a process this repo does not control (an emulator, functions-framework) that binds
    the number itself shortly after.
    """
    return _reserve(keep=False)[0]


def listen(backlog: int = 128) -> socket.socket:
    """A listening socket on a reserved port, inheritable, for a child to serve on."""
    _, sock = _reserve(keep=True)
    if sock is None:  # pragma: no cover - _reserve(keep=True) always returns the socket
        raise PortError("internal: no socket reserved")
    sock.listen(backlog)
    sock.set_inheritable(True)
    return sock


@atexit.register
def _drop_markers() -> None:
    """Remove this process's markers at exit; the bound ports protect themselves from then."""
    for marker in _MARKERS:
        with contextlib.suppress(OSError):
            if marker.read_text().strip() == str(os.getpid()):
                marker.unlink()
