"""Bad input to ``up``: one line naming the fix, exit 1, no traceback, nothing left running.

Every ``up`` here is meant to be refused; each test still stops whatever its workdir records
(``stop_what_up_started``), so one that is wrongly accepted leaves no process behind.
"""

from __future__ import annotations

import os
import socket
from collections.abc import Iterator
from pathlib import Path

import pytest

from infra.local import down
from infra.model.envs import ENVS
from infra.model.pipeline import load
from tests.integration.conftest import run_cli
from tests.integration.support import REPO_ROOT

pytestmark = pytest.mark.integration


def _refused(tmp_path: Path, stack: Path, *needles: str, args: tuple[str, ...] = (),
             env: dict[str, str] | None = None) -> None:
    """``up --stack stack`` (in ``tmp_path/w``) exits 1 with one line naming ``needles`` and
    writes no state."""
    result = run_cli("up", "--stack", str(stack), "--workdir", str(tmp_path / "w"), *args,
                     env=env)
    assert result.returncode == 1, result.stdout + result.stderr
    err = result.stderr.strip()
    assert "Traceback" not in err
    assert len(err.splitlines()) == 1, err
    assert err.startswith("local: error: ")
    for needle in needles:
        assert needle in err, err
    assert not (tmp_path / "w" / "state.json").exists()


@pytest.fixture(autouse=True)
def stop_what_up_started(tmp_path: Path) -> Iterator[None]:
    yield
    down(tmp_path / "w", say=lambda _line: None)


@pytest.fixture
def held_port() -> Iterator[int]:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen(1)
        yield sock.getsockname()[1]


def test_no_synthesized_stack(tmp_path: Path) -> None:
    _refused(tmp_path, tmp_path / "missing" / "cdk.tf.json", "no synthesized stack",
             "make synth")


def test_stack_that_is_not_json(tmp_path: Path) -> None:
    bad = tmp_path / "cdk.tf.json"
    bad.write_text("{not json")
    _refused(tmp_path, bad, "not valid JSON", "make synth")


def test_port_in_use(tmp_path: Path, base_stack: Path, held_port: int) -> None:
    _refused(tmp_path, base_stack, f"port {held_port}", "--pubsub-port",
             args=("--pubsub-port", str(held_port)))


def test_missing_java(tmp_path: Path, base_stack: Path) -> None:
    empty_bin = tmp_path / "bin"
    empty_bin.mkdir()
    env = {**os.environ, "PATH": str(empty_bin), "PYTHONPATH": str(REPO_ROOT)}
    _refused(tmp_path, base_stack, "java not found", "apt-get install", env=env)


def test_missing_emulator(tmp_path: Path, base_stack: Path) -> None:
    env = {**os.environ, "CLOUDSDK_ROOT_DIR": str(tmp_path / "no-sdk"),
           "PYTHONPATH": str(REPO_ROOT)}
    _refused(tmp_path, base_stack, "pubsub-emulator not found", "install", env=env)


def test_stale_stack(tmp_path: Path, base_stack: Path) -> None:
    """The orchestrator's expected set in the stack is one the manifest no longer decides."""
    expected = load().enabled_processors(3)
    other = next(p.name for p in load().processors if p.name not in expected)
    stale = tmp_path / "cdk.tf.json"
    text = base_stack.read_text()
    last = f'\\"{expected[-1]}\\"]'
    assert last in text
    stale.write_text(text.replace(last, f'\\"{expected[-1]}\\", \\"{other}\\"]', 1))
    _refused(tmp_path, stale, "stale", "make synth")


def test_unknown_env(tmp_path: Path) -> None:
    # A name the model refuses by construction (ENV_NAME_RE): never a real stack to start.
    result = run_cli("up", "--env", "Not-An-Env", "--workdir", str(tmp_path / "w"))
    assert result.returncode == 2
    assert result.stderr == ("local: error: argument --env: unknown environment 'Not-An-Env'; "
                             f"known: {', '.join(sorted(ENVS))}\n")
    assert not (tmp_path / "w").exists(), "nothing started"
