"""Prove each function bundle installs, imports and listens on $PORT before it ships.

    python -m infra.synth.check_functions [NAME ...] [--functions-dir DIR] [--timeout SECONDS]

For each function: build its bundle with ``infra.synth.bundle.build_bundle`` (the exact zip the
stack uploads) into ``.build/bundles/``, unzip it into a temporary directory, install its
``requirements.txt`` into a clean virtualenv cached under ``.build/venvs/<hash>`` (keyed by
the requirements and the Python version, so reruns are fast), and start
``functions-framework --target <entry point> --signature-type <type> --port <free port>``
(the port from ``infra.ports``, the base layer: this check imports nothing of ``infra.local``)
from the unzipped bundle with the function's variables set to dummy-but-valid values. A
function that does not answer HTTP within the timeout fails the check (exit 1) and its own
stderr is printed: this is the "Container Healthcheck failed ... PORT=8080" deploy, caught
before the deploy. The unzipped bundle runs alone (its environment names no repository
path), so a module the zip lacks, the function's own or one of ``functions/_shared``, fails
here as it would in the cloud. One line per function says what happened and how long
startup took. The functions are checked side by side (their installs mostly wait on pip), and
each venv is made without pip of its own: the running interpreter's pip installs into it
(``pip --python``), which spares a copy of pip per venv.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
import zipfile
from collections.abc import Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

from infra import ports
from infra.model.envs import get_env
from infra.model.function_config import function_env
from infra.model.pipeline import load
from infra.paths import BUILD_DIR, FUNCTIONS_DIR
from infra.synth.bundle import build_bundle
from infra.wait import WaitTimeout, wait_until

DEFAULT_TIMEOUT_S = 10.0
STDERR_TAIL_LINES = 40
PIP_TIMEOUT_S = 900
POLL_S = 0.05

@dataclass(frozen=True)
class FunctionSpec:
    """How to start one function: entry point, signature type and its environment."""

    entry_point: str
    """The Python function functions-framework serves (``--target``)."""
    signature_type: str
    """``cloudevent`` or ``http`` (``--signature-type``)."""
    env: Mapping[str, str] = field(default_factory=dict)
    """The variables the stack sets on the function (``function_env``), set on the process."""


def specs(env_name: str = "dev") -> dict[str, FunctionSpec]:
    """Every function of the manifest, keyed by its folder under ``functions/``, with the
    very environment the stack gives it in ``env_name`` (clients are lazy: nothing is
    contacted while the function only has to import and listen)."""
    manifest = load()
    env = get_env(env_name)
    return {
        fn.source: FunctionSpec(
            entry_point=fn.entry_point,
            signature_type=fn.signature,
            env=function_env(manifest, env, fn),
        )
        for fn in manifest.functions
    }


FUNCTIONS: dict[str, FunctionSpec] = specs()


class CheckError(Exception):
    """A function failed its startup check; ``detail`` holds its stderr."""

    def __init__(self, message: str, detail: str = "") -> None:
        super().__init__(message)
        self.detail = detail


@dataclass(frozen=True)
class CheckResult:
    name: str
    """The function's folder under ``functions/`` (``phase3_to_phase4``)."""
    ok: bool
    seconds: float
    """Until it answered HTTP; when it failed, how long the whole check ran."""
    line: str
    """The one line printed for it: listening after how long, or FAILED and why."""
    detail: str = ""
    """The failing step's stderr (pip, or the function's own tail); empty otherwise."""


_VENV_LOCKS: dict[Path, threading.Lock] = {}
_LOCKS_LOCK = threading.Lock()


def venv_for(requirements: Path, venvs_dir: Path) -> tuple[Path, bool]:
    """A clean venv with ``requirements`` installed, cached by content; (path, reused).

    Functions checked side by side with the same requirements share one venv: the second
    waits for the first to build it."""
    key = hashlib.sha256(
        requirements.read_bytes() + f"\0{sys.version_info[:3]}".encode()
    ).hexdigest()[:16]
    venv = venvs_dir / key
    with _LOCKS_LOCK:
        lock = _VENV_LOCKS.setdefault(venv.resolve(), threading.Lock())
    with lock:
        return _build_venv(venv, requirements)


def _build_venv(venv: Path, requirements: Path) -> tuple[Path, bool]:
    ready = venv / ".ready"
    if ready.is_file():
        return venv, True
    if venv.exists():
        shutil.rmtree(venv)  # a half-built venv from an interrupted run
    venv.parent.mkdir(parents=True, exist_ok=True)
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True,
                   capture_output=True)
    pip = [sys.executable, "-m", "pip", "--python", str(venv / "bin" / "python"), "install", "-q"]
    result = subprocess.run(
        [*pip, "--disable-pip-version-check", "-r", str(requirements)],
        capture_output=True,
        text=True,
        timeout=PIP_TIMEOUT_S,
    )
    if result.returncode != 0:
        shutil.rmtree(venv, ignore_errors=True)
        raise CheckError(
            f"pip install -r requirements.txt failed (exit {result.returncode}); fix the "
            "pins in the function's requirements.txt",
            result.stderr.strip(),
        )
    ready.write_text(requirements.read_text())
    return venv, False


def _answers_http(port: int) -> bool:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=1.0):
            return True
    except urllib.error.HTTPError:
        return True  # any HTTP status means the server is up
    except (OSError, urllib.error.URLError):
        return False


def _tail(text: str, lines: int = STDERR_TAIL_LINES) -> str:
    return "\n".join(text.strip().splitlines()[-lines:])


def _stop(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is not None:
        return
    try:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(timeout=5)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=5)
    except ProcessLookupError:
        proc.wait(timeout=5)


def serve_and_wait(
    venv: Path, source: Path, spec: FunctionSpec, timeout: float, logs: Path
) -> float:
    """Start functions-framework from ``source``; seconds until it answered HTTP."""
    port = ports.reserve()
    env = {
        "PATH": f"{venv / 'bin'}:/usr/bin:/bin",
        "HOME": os.environ.get("HOME", "/tmp"),
        "LANG": "C.UTF-8",
        "PORT": str(port),
        "PYTHONDONTWRITEBYTECODE": "1",
        **spec.env,
    }
    argv = [
        str(venv / "bin" / "functions-framework"),
        "--target",
        spec.entry_point,
        "--signature-type",
        spec.signature_type,
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
    ]
    stderr_path = logs / "stderr.log"
    with (logs / "stdout.log").open("wb") as out, stderr_path.open("wb") as err:
        started = time.monotonic()
        proc = subprocess.Popen(
            argv, cwd=source, env=env, stdout=out, stderr=err, start_new_session=True
        )

    def listening() -> bool:
        if proc.poll() is not None:
            raise CheckError(
                f"exited with code {proc.returncode} before listening",
                _tail(stderr_path.read_text(errors="replace")),
            )
        return _answers_http(port)

    try:
        wait_until(listening, timeout=timeout, what=f"the function to listen on PORT={port}",
                   interval=POLL_S)
        return time.monotonic() - started
    except WaitTimeout:
        raise CheckError(
            f"did not listen on PORT={port} within {timeout:g}s",
            _tail(stderr_path.read_text(errors="replace")),
        ) from None
    finally:
        _stop(proc)


def check_function(
    name: str,
    spec: FunctionSpec,
    functions_dir: Path = FUNCTIONS_DIR,
    bundles_dir: Path = BUILD_DIR / "bundles",
    venvs_dir: Path = BUILD_DIR / "venvs",
    timeout: float = DEFAULT_TIMEOUT_S,
) -> CheckResult:
    """Build, unzip, install and start one function; never raises for a function's fault."""
    begun = time.monotonic()
    try:
        bundle = build_bundle(name, bundles_dir, source_dir=functions_dir / name)
        with tempfile.TemporaryDirectory(prefix=f"check-{name}-") as tmp:
            source = Path(tmp) / "src"
            with zipfile.ZipFile(bundle.path) as zf:
                zf.extractall(source)
            requirements = source / "requirements.txt"
            if not requirements.is_file():
                raise CheckError(f"{bundle.path.name} has no requirements.txt; add one")
            venv, reused = venv_for(requirements, venvs_dir)
            logs = Path(tmp) / "logs"
            logs.mkdir()
            seconds = serve_and_wait(venv, source, spec, timeout, logs)
    except (CheckError, FileNotFoundError) as exc:
        detail = exc.detail if isinstance(exc, CheckError) else ""
        took = time.monotonic() - begun
        line = f"{name}: FAILED ({spec.entry_point}, {spec.signature_type}): {exc}"
        return CheckResult(name, False, took, line, detail)
    venv_note = "cached venv" if reused else "new venv"
    line = (
        f"{name}: listening after {seconds:.2f}s ({spec.entry_point}, {spec.signature_type}, "
        f"{bundle.object_name}, {venv_note})"
    )
    return CheckResult(name, True, seconds, line)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m infra.synth.check_functions",
        description="Prove each function bundle installs, imports and listens on $PORT.",
    )
    parser.add_argument(
        "names", nargs="*", help=f"functions to check (default: all of {list(FUNCTIONS)})"
    )
    parser.add_argument("--functions-dir", type=Path, default=FUNCTIONS_DIR)
    parser.add_argument("--bundles-dir", type=Path, default=BUILD_DIR / "bundles")
    parser.add_argument("--venvs-dir", type=Path, default=BUILD_DIR / "venvs")
    parser.add_argument("--timeout", type=float, default=DEFAULT_TIMEOUT_S)
    args = parser.parse_args(argv)
    names = list(dict.fromkeys(args.names or FUNCTIONS))  # each once: checks run side by side
    unknown = [n for n in names if n not in FUNCTIONS]
    if unknown:
        print(
            f"check_functions: unknown function(s) {unknown}; known: {', '.join(FUNCTIONS)} "
            "(functions are declared in infra/model/pipeline.py)",
            file=sys.stderr,
        )
        return 2
    failed = 0
    with ThreadPoolExecutor(max_workers=len(names) or 1) as pool:
        checks = [pool.submit(check_function, name, FUNCTIONS[name], args.functions_dir,
                              args.bundles_dir, args.venvs_dir, args.timeout)
                  for name in names]
        results = (check.result() for check in checks)  # in the order given, as each ends
        for name, result in zip(names, results, strict=True):
            print(result.line, flush=True)
            if not result.ok:
                failed += 1
                if result.detail:
                    print(f"--- {name} stderr ---\n{result.detail}\n--- end {name} stderr ---")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
