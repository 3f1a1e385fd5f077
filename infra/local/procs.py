"""Start and stop processes by PID, each in its own process group: the emulators, the
local pipeline's functions and servers. One implementation for all of them.

Every process is started with ``start_new_session`` so it leads a process group holding
everything it forks (gunicorn workers, for instance); stopping signals the whole group:
SIGTERM, a grace period, then SIGKILL. A PID is only signalled while its command line still
carries the marker recorded at start, so a PID reused by an unrelated process is left alone.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import time
from collections.abc import Mapping, Sequence
from pathlib import Path

DEFAULT_STOP_TIMEOUT_S = 10.0

# Popen handles of the processes this process started, so stopping them also reaps them.
_CHILDREN: dict[int, subprocess.Popen[bytes]] = {}


def spawn(argv: Sequence[str], log_path: Path, env: Mapping[str, str],
          cwd: Path | None = None, append: bool = True, pass_fds: Sequence[int] = ()) -> int:
    """Start ``argv`` in a new session, output to ``log_path`` (appended unless ``append``
    is false), inheriting the descriptors ``pass_fds``; return its PID."""
    log_path.parent.mkdir(parents=True, exist_ok=True)
    with log_path.open("ab" if append else "wb") as log:
        proc = subprocess.Popen(
            list(argv), stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
            env=dict(env), cwd=str(cwd) if cwd else None, start_new_session=True,
            pass_fds=tuple(pass_fds),
        )
    _CHILDREN[proc.pid] = proc
    return proc.pid


def exit_code(pid: int) -> int | None:
    """The exit code of a child started here that has exited; ``None`` while it runs."""
    proc = _CHILDREN.get(pid)
    return None if proc is None else proc.poll()


def cmdline(pid: int) -> str:
    """The command line of ``pid`` (NUL separators as spaces), ``""`` when it is gone."""
    try:
        raw = Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return ""
    return raw.replace(b"\0", b" ").decode(errors="replace").strip()


def alive(pid: int) -> bool:
    """True while ``pid`` runs (a zombie child of this process counts as gone)."""
    proc = _CHILDREN.get(pid)
    if proc is not None:
        return proc.poll() is None
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return True
    return state != "Z"


def ours(pid: int, marker: str) -> bool:
    """True when ``pid`` runs and its command line still contains ``marker``."""
    return alive(pid) and marker in cmdline(pid)


def group_members(pgid: int) -> list[int]:
    """PIDs of the live processes whose process group is ``pgid``."""
    members: list[int] = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            continue
        if len(fields) > 2 and fields[0] != "Z" and int(fields[2]) == pgid:
            members.append(int(entry.name))
    return members


def _signal_group(pgid: int, sig: signal.Signals) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pgid, sig)


def _wait_gone(pgid: int, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while True:
        if not alive(pgid) and not group_members(pgid):
            return True
        if time.monotonic() >= deadline:
            return False
        time.sleep(0.05)


def stop(pid: int, timeout: float = DEFAULT_STOP_TIMEOUT_S) -> bool:
    """Stop the process group led by ``pid``: SIGTERM, wait, SIGKILL. True once all are gone.

    A PID that no longer exists is not an error.
    """
    if alive(pid) or group_members(pid):
        _signal_group(pid, signal.SIGTERM)
        if not _wait_gone(pid, timeout):
            _signal_group(pid, signal.SIGKILL)
            _wait_gone(pid, timeout)
    proc = _CHILDREN.pop(pid, None)
    if proc is not None:
        with contextlib.suppress(subprocess.TimeoutExpired):
            proc.wait(timeout=timeout)
    return not alive(pid) and not group_members(pid)
