"""A loopback HTTP server that answers from a script, for testing the client's error mapping."""

from __future__ import annotations

import json
import socket
import threading
from collections import deque
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


@dataclass
class Reply:
    """One scripted answer: a status, headers and a body, or `close=True` to drop the socket."""

    status: int = 200
    body: Any = None  # dict/list → JSON; str/bytes → sent as is
    headers: dict[str, str] = field(default_factory=dict)
    close: bool = False
    delay: float = 0.0  # seconds to wait before answering (read-timeout tests)
    trickle: float = 0.0  # seconds between the body's bytes (a total deadline's tests)


class ScriptedServer:
    """Serves queued `Reply`s in order and records the requests it received."""

    def __init__(self) -> None:
        self.replies: deque[Reply] = deque()
        self.requests: list[dict[str, Any]] = []
        self.release = threading.Event()  # set at stop so delayed replies end at once
        server = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                pass

            def _serve(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                server.requests.append(
                    {
                        "method": self.command,
                        "path": self.path,
                        "headers": dict(self.headers),
                        "body": json.loads(body) if body else None,
                    }
                )
                reply = server.replies.popleft() if server.replies else Reply(500, "no reply")
                if reply.delay:
                    server.release.wait(reply.delay)
                if reply.close:
                    self.connection.shutdown(socket.SHUT_RDWR)
                    self.close_connection = True
                    return
                raw = reply.body
                if isinstance(raw, dict | list):
                    data = json.dumps(raw).encode()
                    ctype = "application/json"
                else:
                    data = raw.encode() if isinstance(raw, str) else (raw or b"")
                    ctype = "text/html"
                self.send_response(reply.status)
                self.send_header("Content-Type", reply.headers.get("Content-Type", ctype))
                for k, v in reply.headers.items():
                    if k != "Content-Type":
                        self.send_header(k, v)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                if not reply.trickle:
                    self.wfile.write(data)
                    return
                for i in range(len(data)):  # each byte within any read timeout, never done
                    if server.release.wait(reply.trickle):
                        return
                    self.wfile.write(data[i : i + 1])
                    self.wfile.flush()

            do_GET = _serve
            do_POST = _serve

        class Server(ThreadingHTTPServer):
            def handle_error(self, request: Any, client_address: Any) -> None:
                pass  # a client that gave up (read-timeout tests) is expected here

        self.httpd = Server(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        # A short poll interval: `stop` waits for the loop to notice, once per test.
        self.thread = threading.Thread(
            target=self.httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )

    def start(self) -> ScriptedServer:
        self.thread.start()
        return self

    def stop(self) -> None:
        self.release.set()
        self.httpd.shutdown()
        self.httpd.server_close()
        self.thread.join(timeout=5)

    def push(self, *replies: Reply) -> None:
        self.replies.extend(replies)
