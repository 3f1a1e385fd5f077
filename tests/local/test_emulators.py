"""infra.local.emulators: the error paths say what is wrong and how to fix it, in one line."""

from __future__ import annotations

import os
import socket
import stat
import subprocess

import pytest

from infra import ports
from infra.local import emulators


def fake_sdk(tmp_path, script):
    launcher = tmp_path / "sdk" / emulators.PUBSUB_LAUNCHER
    launcher.parent.mkdir(parents=True)
    launcher.write_text("#!/bin/sh\n" + script + "\n")
    launcher.chmod(launcher.stat().st_mode | stat.S_IXUSR)
    return tmp_path / "sdk"


def test_java_missing(tmp_path, monkeypatch):
    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(emulators.EmulatorError, match=r"java not found on PATH.*apt-get install"):
        emulators.start_pubsub(tmp_path)


@pytest.mark.parametrize(
    ("start", "component"),
    [
        (emulators.start_pubsub, "pubsub-emulator"),
        (emulators.start_firestore, "firestore-emulator"),
    ],
)
def test_emulator_missing(tmp_path, monkeypatch, start, component):
    monkeypatch.setenv("CLOUDSDK_ROOT_DIR", str(tmp_path / "nosdk"))
    with pytest.raises(
        emulators.EmulatorError,
        match=rf"{component} not found at .*nosdk.*google-cloud-cli-{component}",
    ):
        start(tmp_path)


def test_port_in_use(tmp_path):
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen()
        port = sock.getsockname()[1]
        with pytest.raises(emulators.EmulatorError, match=rf"port {port} on 127.0.0.1 is in use"):
            emulators.start_firestore(tmp_path, port=port)


def test_emulator_that_exits_reports_its_log(tmp_path, monkeypatch):
    monkeypatch.setenv("CLOUDSDK_ROOT_DIR", str(fake_sdk(tmp_path, "echo boom: bad flag; exit 3")))
    with pytest.raises(emulators.EmulatorError) as info:
        emulators.start_pubsub(tmp_path / "logs")
    message = str(info.value)
    assert "pubsub emulator exited with code 3 before it was ready" in message
    assert message.endswith("boom: bad flag")
    assert "\n" not in message


def test_emulator_not_ready_in_time_is_stopped(tmp_path, monkeypatch):
    sdk = fake_sdk(tmp_path, "echo starting slowly; exec sleep 30")
    monkeypatch.setenv("CLOUDSDK_ROOT_DIR", str(sdk))
    spawned = []
    real_spawn = emulators._spawn

    def spy(*args, **kwargs):
        spawned.append(real_spawn(*args, **kwargs))
        return spawned[-1]

    monkeypatch.setattr(emulators, "_spawn", spy)
    try:
        with pytest.raises(emulators.EmulatorError,
                           match=r"not ready .* after 0.5s.*starting slowly"):
            emulators.start_pubsub(tmp_path / "logs", ready_timeout=0.5)
        (emulator,) = spawned
        with pytest.raises(ProcessLookupError):
            os.kill(emulator.pid, 0)
    finally:  # a failed assertion above must not leave the fake emulator running
        for proc in spawned:
            emulators.stop(proc.pid, timeout=5)


def test_stop_is_idempotent_and_kills_the_group(tmp_path):
    proc = subprocess.Popen(["sleep", "30"], start_new_session=True)
    try:
        emulators.stop(proc.pid, timeout=5)
        assert proc.wait(timeout=5) != 0
        emulators.stop(proc.pid)  # already gone: no error
    finally:
        proc.kill()
        proc.wait()


def test_reset_firestore_without_an_emulator():
    port = ports.reserve()
    with pytest.raises(emulators.EmulatorError, match="could not reset the Firestore emulator"):
        emulators.reset_firestore(f"127.0.0.1:{port}", "p")


@pytest.mark.emulator
def test_running_emulators_answer_and_reset(emulator_processes):
    env = emulator_processes.environ()
    assert env["FIRESTORE_EMULATOR_HOST"] == emulator_processes.firestore.address
    assert emulators._probe("127.0.0.1", emulator_processes.pubsub.port)
    assert emulators.port_in_use(emulator_processes.firestore.port)
    emulators.reset_firestore(emulator_processes.firestore.address, "any-project")
    assert emulator_processes.pubsub.log_path.read_text()
