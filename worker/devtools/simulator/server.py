"""The HTTP front: a ThreadingHTTPServer whose handler routes to the API or control endpoints."""

from __future__ import annotations

import contextlib
import socket
import struct
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, cast
from urllib.parse import parse_qsl, urlsplit

from worker.devtools.simulator.api import handle_api
from worker.devtools.simulator.control import handle_control
from worker.devtools.simulator.engine import Engine
from worker.devtools.simulator.reply import Reply, envelope
from worker.devtools.simulator.routes import endpoint_of

_REASONS = {499: "Client Closed Request"}


class SimServer(ThreadingHTTPServer):
    """One daemon thread per connection; carries the engine the handlers talk to."""

    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 128

    def __init__(self, address: tuple[str, int], engine: Engine) -> None:
        super().__init__(address, SimHandler)
        self.engine = engine
        self._open: set[socket.socket] = set()
        self._open_lock = threading.Lock()

    def process_request(self, request: Any, client_address: Any) -> None:
        """Remember the connection, so `close_connections` can end idle keep-alives."""
        with self._open_lock:
            self._open.add(request)
        super().process_request(request, client_address)

    def shutdown_request(self, request: Any) -> None:
        """Forget the connection as it closes."""
        with self._open_lock:
            self._open.discard(request)
        super().shutdown_request(request)

    def handle_error(self, request: Any, client_address: Any) -> None:
        """A client that went away mid-request (a killed worker) is no error of ours; print
        anything else as the base class does."""
        if isinstance(sys.exc_info()[1], ConnectionError):
            return
        super().handle_error(request, client_address)

    def close_connections(self) -> None:
        """Shut every open connection, so no keep-alive client is served after `stop()`."""
        with self._open_lock:
            sockets = list(self._open)
        for sock in sockets:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)


def route(
    engine: Engine,
    method: str,
    path: str,
    query: dict[str, str],
    key: str | None,
    raw: bytes,
    received: float | None = None,
) -> Reply:
    """Pick the endpoint; an unknown path is TTAPI's 404 envelope, checked before the key.

    `received`: when the request reached the simulator (a submit's job remembers it).
    """
    if path.startswith("/_sim/"):
        reply = handle_control(engine, method, path, raw)
        return reply if reply is not None else envelope(404, "Not Found", None)
    endpoint = endpoint_of(method, path)
    if endpoint is None:
        return envelope(404, "Not Found", None)
    return handle_api(engine, endpoint, key, query, raw, received)


class SimHandler(BaseHTTPRequestHandler):
    """Keep-alive HTTP/1.1 handler; every answer carries a Content-Length."""

    protocol_version = "HTTP/1.1"
    server_version = "ttapi-simulator/1.0"
    timeout = 60

    def setup(self) -> None:
        """Disable Nagle: headers and body go out in separate writes, which would cost 40 ms."""
        super().setup()
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def do_GET(self) -> None:
        """Serve a GET."""
        self._serve("GET")

    def do_POST(self) -> None:
        """Serve a POST."""
        self._serve("POST")

    def do_PUT(self) -> None:
        """Serve a PUT (no such endpoint: 404)."""
        self._serve("PUT")

    def do_DELETE(self) -> None:
        """Serve a DELETE (no such endpoint: 404)."""
        self._serve("DELETE")

    def log_message(self, format: str, *args: object) -> None:
        """Stay quiet: request lines could be noisy in tests and benchmarks."""

    def date_time_string(self, timestamp: float | None = None) -> str:
        """The `Date` header by TTAPI's clock (`Faults.clock_offset_s`)."""
        offset = cast(SimServer, self.server).engine.faults.clock_offset_s
        return super().date_time_string((time.time() if timestamp is None else timestamp) + offset)

    def _serve(self, method: str) -> None:
        received = time.monotonic()
        url = urlsplit(self.path)
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length > 0 else b""
        query = dict(parse_qsl(url.query, keep_blank_values=True))
        engine = cast(SimServer, self.server).engine
        half = self._first_half(engine, method, url.path)
        key = self.headers.get("TT-API-KEY")
        reply = route(engine, method, url.path, query, key, raw, received)
        if reply.delay + half > 0:  # the answer's way back, then any injected slowness
            time.sleep(reply.delay + half)
        if reply.reset:
            self._reset()
            return
        self.send_response(reply.status, _REASONS.get(reply.status))
        self.send_header("Content-Type", reply.content_type)
        self.send_header("Content-Length", str(len(reply.body)))
        for name, value in reply.headers.items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(reply.body)

    def _first_half(self, engine: Engine, method: str, path: str) -> float:
        """Sleep out the request's way in (half its round trip); returns the other half.

        Only this connection's thread sleeps, without the engine's lock: other requests go on.
        """
        endpoint = None if path.startswith("/_sim/") else endpoint_of(method, path)
        if endpoint is None:
            return 0.0
        with engine.lock:
            half = engine.round_trip(endpoint) / 2
        if half > 0:
            time.sleep(half)
        return half

    def _reset(self) -> None:
        """Close the socket with RST and no answer, like a proxy dropping the connection."""
        self.close_connection = True
        self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        self.connection.close()
