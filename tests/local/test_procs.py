"""Processes by PID and group (``infra.local.procs``): what ``down`` relies on to leave nothing."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import psutil

from infra.local import procs
from infra.wait import wait_until

# A leader whose child stays in its group and whose other child leaves it (its own session),
# as a server's workers might: stopping the leader must stop both.
TREE = ("import subprocess, sys, time\n"
        "subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(60)'])\n"
        "subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(60)'],"
        " start_new_session=True)\n"
        "time.sleep(60)\n")


def test_stop_ends_the_group_and_every_descendant(tmp_path: Path) -> None:
    pid = procs.spawn([sys.executable, "-c", TREE, "procs-test-marker"], tmp_path / "tree.log",
                      dict(os.environ))
    kids = wait_until(lambda: len(procs.descendants(pid)) == 2 and procs.descendants(pid),
                      timeout=20, what="the two children")
    assert procs.ours(pid, "procs-test-marker")
    assert not procs.ours(pid, "another-marker")
    assert set(procs.group_members(pid)) >= {pid, *(k.pid for k in kids
                                                   if os.getpgid(k.pid) == pid)}
    assert procs.stop(pid, timeout=5)
    assert not procs.alive(pid)
    assert procs.group_members(pid) == []
    assert not any(k.is_running() and k.status() != psutil.STATUS_ZOMBIE for k in kids)
    assert procs.cmdline(pid) == ""
    assert procs.stop(pid)  # already gone: not an error


def test_a_process_that_ignores_sigterm_is_killed(tmp_path: Path) -> None:
    code = ("import signal, time\n"
            "signal.signal(signal.SIGTERM, signal.SIG_IGN)\n"
            "print('ready', flush=True)\n"
            "time.sleep(60)\n")
    log = tmp_path / "stubborn.log"
    pid = procs.spawn([sys.executable, "-c", code], log, dict(os.environ))
    wait_until(lambda: "ready" in log.read_text(), timeout=20, what="the SIGTERM handler")
    assert procs.stop(pid, timeout=0.5)
    assert procs.exit_code(pid) is None  # reaped and forgotten
    assert not procs.alive(pid)
