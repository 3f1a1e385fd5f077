"""HTTP for the local pipeline: the threaded server the fronts and simulators run on, and the
one client call everything that talks to a front (or an emulator's REST port) makes."""

from __future__ import annotations

import socket
import urllib.error
import urllib.request
from collections.abc import Callable, Mapping
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

HOST = "127.0.0.1"

Answer = tuple[int, dict[str, str], bytes]
"""What a server answers a request with: status, headers, body."""

Handle = Callable[[str, str, dict[str, str], bytes], Answer]
"""How a server answers: (method, path with query, request headers, body) → ``Answer``."""


def http_server(port: int, handler: type[BaseHTTPRequestHandler],
                fd: int | None = None) -> ThreadingHTTPServer:
    """A threaded server for ``handler`` on ``HOST:port``.

    With ``fd`` it serves on that inherited, already listening socket (see
    ``infra.ports.listen``) instead of binding: the port was held from the moment it was
    chosen, so nothing else can have taken it.
    """
    if fd is None:
        server = ThreadingHTTPServer((HOST, port), handler)
    else:
        server = ThreadingHTTPServer((HOST, port), handler, bind_and_activate=False)
        server.socket.close()
        server.socket = socket.socket(fileno=fd)
        bound = server.socket.getsockname()
        if int(bound[1]) != port:
            server.server_close()
            raise OSError(f"descriptor {fd} listens on {bound[0]}:{bound[1]}, not port {port}")
        server.server_address = bound
        server.server_name, server.server_port = HOST, port
    server.daemon_threads = True
    return server


def serve_http(port: int, handle: Handle, fd: int | None = None) -> ThreadingHTTPServer:
    """A threaded HTTP/1.1 server on ``HOST:port`` (on the inherited listening socket ``fd``
    when given) answering every request with ``handle``. It logs nothing: the fronts and
    simulators record what they decide as JSONL."""

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def _serve(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length) if length else b""
            status, headers, answer = handle(self.command, self.path,
                                             dict(self.headers.items()), body)
            self.send_response(status)
            for key, value in headers.items():
                self.send_header(key, value)
            self.send_header("Content-Length", str(len(answer)))
            self.end_headers()
            self.wfile.write(answer)

        do_GET = do_POST = do_PUT = do_DELETE = do_PATCH = _serve

        def log_message(self, format: str, *args: Any) -> None:
            """Nothing goes to stderr."""

    return http_server(port, Handler, fd)


def call(url: str, *, timeout: float, method: str = "GET", data: bytes | None = None,
         headers: Mapping[str, str] | None = None) -> tuple[int, bytes]:
    """Send one request; return the answer's status and body, error statuses (4xx, 5xx)
    included. ``OSError`` when nothing answers (refused, unreachable, timed out)."""
    request = urllib.request.Request(url, data=data, method=method, headers=dict(headers or {}))
    try:
        with urllib.request.urlopen(request, timeout=timeout) as resp:
            return int(resp.status), resp.read()
    except urllib.error.HTTPError as exc:
        return int(exc.code), exc.read()
