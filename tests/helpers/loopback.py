"""Serve an aiohttp app on a free loopback port and write the port to a file (the test servers' start)."""
from __future__ import annotations

import socket

from aiohttp import web


def serve(app: web.Application, port_file: str) -> None:
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    with open(port_file, "w") as f:
        f.write(str(sock.getsockname()[1]))
    web.run_app(app, sock=sock, print=None, access_log=None)
