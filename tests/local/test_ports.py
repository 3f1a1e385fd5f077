"""Local port reservation: outside the ephemeral range, never twice, held for the child."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import threading
import urllib.request
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler
from pathlib import Path

import pytest

from infra import ports
from infra.local.httpd import http_server


@pytest.fixture
def folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setattr(ports, "reservation_dir", lambda: tmp_path / "reservations")
    monkeypatch.setattr(ports, "_HANDED_OUT", set())
    return tmp_path / "reservations"


Offer = Callable[[int, int], None]


@pytest.fixture
def offer(monkeypatch: pytest.MonkeyPatch) -> Offer:
    """Make ``reserve`` see only ports ``first..last``, with nothing handed out in this process
    yet (as another process would), so only the reservation markers decide."""

    def restrict(first: int, last: int) -> None:
        monkeypatch.setattr(ports, "_HANDED_OUT", set())
        monkeypatch.setattr(ports, "candidate_range", lambda: (first, last))

    return restrict


def _range_file(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "ip_local_port_range"
    path.write_text(text)
    return path


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("32768\t60999\n", (10000, 32767)),
        ("1024 50000", (50001, 65535)),
        ("1024 65000", ports.FALLBACK_RANGE),
        ("garbage", ports.FALLBACK_RANGE),
    ],
)
def test_the_candidate_range_avoids_the_ephemeral_range(tmp_path: Path, text: str,
                                                        expected: tuple[int, int]) -> None:
    assert ports.candidate_range(_range_file(tmp_path, text)) == expected


def test_a_missing_range_file_falls_back(tmp_path: Path) -> None:
    assert ports.candidate_range(tmp_path / "absent") == ports.FALLBACK_RANGE


def test_reserved_ports_lie_outside_this_machines_ephemeral_range(folder: Path) -> None:
    low, high = (int(v) for v in ports.EPHEMERAL_RANGE_FILE.read_text().split()[:2])
    chosen = [ports.reserve() for _ in range(50)]
    assert not [p for p in chosen if low <= p <= high]
    assert len(set(chosen)) == 50


def test_one_process_never_hands_out_a_port_twice(folder: Path,
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    base = ports.reserve()
    monkeypatch.setattr(ports, "candidate_range", lambda: (base, base + 3))
    # The markers of this live process would refuse the ports anyway; drop them so only
    # the in-process bookkeeping stands between two callers.
    for marker in folder.iterdir():
        marker.unlink()
    got = {ports.reserve() for _ in range(3)}
    assert got == {base + 1, base + 2, base + 3}
    with pytest.raises(ports.PortError, match=rf"{base}-{base + 3}"):
        ports.reserve()


def _bindable(port: int) -> bool:
    with socket.socket() as probe:
        try:
            probe.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def test_a_port_someone_listens_on_is_skipped(folder: Path, offer: Offer) -> None:
    # A listened-on port whose next port is free right now (other tests' servers may hold it).
    for _ in range(20):
        taken = ports.listen()
        port = int(taken.getsockname()[1])
        if _bindable(port + 1):
            break
        taken.close()
    (folder / str(port)).unlink()
    try:
        offer(port, port + 1)
        assert ports.reserve() == port + 1
    finally:
        taken.close()


def test_another_live_process_reservation_is_respected(folder: Path, offer: Offer) -> None:
    port = ports.reserve()
    other = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)"])
    try:
        (folder / str(port)).write_text(str(other.pid))
        offer(port, port + 1)
        assert ports.reserve() == port + 1
    finally:
        other.kill()
        other.wait()


def test_a_dead_owners_reservation_is_reclaimed(folder: Path, offer: Offer) -> None:
    port = ports.reserve()
    gone = subprocess.Popen([sys.executable, "-c", "pass"])
    gone.wait()
    (folder / str(port)).write_text(str(gone.pid))
    offer(port, port)
    assert ports.reserve() == port
    assert (folder / str(port)).read_text() == str(os.getpid())


def test_an_expired_reservation_is_reclaimed(folder: Path, offer: Offer) -> None:
    port = ports.reserve()
    marker = folder / str(port)
    old = marker.stat().st_mtime - ports.RESERVATION_TTL_S - 1
    os.utime(marker, (old, old))
    offer(port, port)
    assert ports.reserve() == port


class _Hello(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        body = json.dumps({"pid": os.getpid()}).encode()
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:
        pass


def test_a_server_runs_on_the_inherited_listening_socket(folder: Path) -> None:
    sock = ports.listen()
    port = int(sock.getsockname()[1])
    assert sock.get_inheritable()
    # While the socket is held, nobody can bind the port: no window between choice and use.
    with socket.socket() as intruder, pytest.raises(OSError):
        intruder.bind(("127.0.0.1", port))
    server = http_server(port, _Hello, os.dup(sock.fileno()))
    sock.close()
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05})
    thread.start()
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=5) as resp:
            assert json.loads(resp.read())["pid"] == os.getpid()
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


def test_a_descriptor_on_another_port_is_refused(folder: Path) -> None:
    sock = ports.listen()
    port = int(sock.getsockname()[1])
    try:
        with pytest.raises(OSError, match=f"not port {port + 1}"):
            http_server(port + 1, _Hello, os.dup(sock.fileno()))
    finally:
        sock.close()


def test_markers_are_removed_when_the_process_exits(tmp_path: Path) -> None:
    folder = tmp_path / "tmp"
    folder.mkdir()
    code = ("from infra import ports; import sys; "
            "print(ports.reserve()); print(len(list(ports.reservation_dir().iterdir())))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                         env={**os.environ, "TMPDIR": str(folder),
                              "PYTHONPATH": str(Path(__file__).resolve().parents[2])})
    port, markers_while_running = (int(v) for v in out.stdout.split())
    assert markers_while_running == 1
    assert list(folder.glob("pipeline-infra-ports-*/*")) == []
    assert port > 0
