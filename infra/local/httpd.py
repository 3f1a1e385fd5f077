"""The threaded HTTP server the fronts and simulators run on."""

from __future__ import annotations

import socket
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

HOST = "127.0.0.1"


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
