"""Start and stop processes by PID, each in its own process group: the emulators, the
local pipeline's functions and servers. One implementation for all of them, on ``psutil``
(so ``down`` works wherever psutil does, Linux and macOS alike).

Every process is started with ``start_new_session`` so it leads a process group holding
everything it forks (gunicorn workers, for instance); stopping terminates the whole group
and every descendant of the leader (one that left the group included): SIGTERM, a grace
period, then SIGKILL. A PID is only signalled while its command line still carries the
marker recorded at start, so a PID reused by an unrelated process is left alone.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path

import psutil

from infra.wait import WaitTimeout, wait_until

DEFAULT_STOP_TIMEOUT_S = 10.0
POLL_S = 0.05

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
    """The command line of ``pid`` (arguments joined by spaces), ``""`` when it is gone or
    not ours to read."""
    try:
        return " ".join(psutil.Process(pid).cmdline()).strip()
    except (psutil.NoSuchProcess, psutil.AccessDenied):
        return ""


def _running(proc: psutil.Process) -> bool:
    try:
        return proc.status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False
    except psutil.AccessDenied:
        return True


def alive(pid: int) -> bool:
    """True while ``pid`` runs (a zombie counts as gone; a child of this process is reaped)."""
    proc = _CHILDREN.get(pid)
    if proc is not None:
        return proc.poll() is None
    try:
        return _running(psutil.Process(pid))
    except psutil.NoSuchProcess:
        return False


def ours(pid: int, marker: str) -> bool:
    """True when ``pid`` runs and its command line still contains ``marker``."""
    return alive(pid) and marker in cmdline(pid)


def group_members(pgid: int) -> list[int]:
    """PIDs of the live processes whose process group is ``pgid``."""
    members: list[int] = []
    for proc in psutil.process_iter():
        try:
            if os.getpgid(proc.pid) != pgid:
                continue
        except OSError:
            continue
        if _running(proc):
            members.append(proc.pid)
    return members


def descendants(pid: int) -> list[psutil.Process]:
    """The live descendants (children, theirs, ...) of ``pid`` while it still leads its own
    process group, as ``spawn`` started it; ``[]`` when it is gone or a reused PID."""
    try:
        if os.getpgid(pid) != pid:
            return []
        return [p for p in psutil.Process(pid).children(recursive=True) if _running(p)]
    except (OSError, psutil.NoSuchProcess, psutil.AccessDenied):
        return []


def _signal(pgid: int, tree: Iterable[psutil.Process], sig: signal.Signals) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pgid, sig)
    for proc in tree:
        with contextlib.suppress(psutil.NoSuchProcess, psutil.AccessDenied):
            proc.send_signal(sig)


def _gone(pid: int, tree: Sequence[psutil.Process]) -> bool:
    return not alive(pid) and not group_members(pid) and not any(_running(p) for p in tree)


def _wait_gone(pid: int, tree: Sequence[psutil.Process], timeout: float) -> bool:
    try:
        return wait_until(lambda: _gone(pid, tree), timeout=timeout,
                          what=f"process group {pid} to exit", interval=POLL_S)
    except WaitTimeout:
        return False


def stop(pid: int, timeout: float = DEFAULT_STOP_TIMEOUT_S) -> bool:
    """Stop the process group led by ``pid`` and the leader's descendants: SIGTERM, wait,
    SIGKILL. True once all are gone.

    A PID that no longer exists is not an error.
    """
    tree = descendants(pid)
    if not _gone(pid, tree):
        _signal(pid, tree, signal.SIGTERM)
        if not _wait_gone(pid, tree, timeout):
            _signal(pid, [*tree, *descendants(pid)], signal.SIGKILL)
            _wait_gone(pid, tree, timeout)
    proc = _CHILDREN.pop(pid, None)
    if proc is not None:
        with contextlib.suppress(subprocess.TimeoutExpired):
            proc.wait(timeout=timeout)
    return _gone(pid, tree)
