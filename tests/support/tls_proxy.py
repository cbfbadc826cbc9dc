"""A loopback TLS-terminating proxy in front of the simulator, that can abort after forwarding.

It stands where a load balancer stands in front of TTAPI: it ends TLS, forwards each request
to the plain-HTTP simulator, and either answers with the simulator's answer or, for a share of
the requests whose path ends with one of `abort_paths`, aborts the TLS session after the
simulator took the request (a fatal alert, then the socket closed): the job exists, and the
client sees a TLS error. Its certificate comes from a throwaway CA that `ca_path` holds; the
client trusts it through `REQUESTS_CA_BUNDLE` (how `worker.ttapi.transport` picks its CA).

    with TLSProxy(sim.url, tmp_path, abort_rate=1.0, abort_paths=["/imagine"]) as proxy:
        ...  # TTAPI_BASE_URL=proxy.url, REQUESTS_CA_BUNDLE=proxy.ca_path
"""

from __future__ import annotations

import contextlib
import http.client
import random
import socket
import ssl
import threading
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import trustme

# A TLS record of type alert (21), fatal (2), internal_error (80): what a proxy sends as it
# gives up on a session. The client's TLS layer fails on it, after its request went out.
FATAL_ALERT = bytes([0x15, 0x03, 0x03, 0x00, 0x02, 0x02, 0x50])
_HOP = {"connection", "keep-alive", "transfer-encoding", "content-length"}


class TLSProxy:
    """TLS on `url`, forwarding to `upstream` (plain HTTP); `stop()` ends it and its threads."""

    def __init__(
        self,
        upstream: str,
        workdir: Path,
        *,
        abort_rate: float = 0.0,
        abort_paths: list[str] | None = None,
        seed: int = 0,
    ) -> None:
        parts = urlsplit(upstream)
        self.upstream = (parts.hostname or "127.0.0.1", parts.port or 80)
        self.abort_rate = abort_rate
        self.abort_paths = list(abort_paths or [])
        self.aborted = 0
        self._rng = random.Random(seed)
        self._lock = threading.Lock()
        ca = trustme.CA()
        workdir.mkdir(parents=True, exist_ok=True)
        self.ca_path = workdir / "proxy-ca.pem"
        ca.cert_pem.write_to_path(str(self.ca_path))
        self._context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        ca.issue_cert("127.0.0.1", "localhost").configure_cert(self._context)
        self._server = socket.create_server(("127.0.0.1", 0))
        self.url = f"https://127.0.0.1:{self._server.getsockname()[1]}"
        self._stopped = threading.Event()
        self._conns: set[socket.socket] = set()
        self._thread = threading.Thread(target=self._accept, name="tls-proxy", daemon=True)

    def __enter__(self) -> TLSProxy:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def start(self) -> TLSProxy:
        """Accept connections in a thread of its own."""
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop accepting and shut every open connection."""
        self._stopped.set()
        with contextlib.suppress(OSError):
            self._server.shutdown(socket.SHUT_RDWR)  # wakes the thread blocked in accept()
        with contextlib.suppress(OSError):
            self._server.close()
        with self._lock:
            conns = list(self._conns)
        for conn in conns:
            with contextlib.suppress(OSError):
                conn.shutdown(socket.SHUT_RDWR)
        self._thread.join(5)

    def _accept(self) -> None:
        while not self._stopped.is_set():
            try:
                raw, _ = self._server.accept()
            except OSError:
                return
            with self._lock:
                self._conns.add(raw)
            threading.Thread(target=self._serve, args=(raw,), daemon=True).start()

    def _serve(self, raw: socket.socket) -> None:
        try:
            tls = self._context.wrap_socket(raw, server_side=True)
            with self._lock:
                self._conns.discard(raw)
                self._conns.add(tls)
                raw = tls
            with tls.makefile("rb") as reader:
                while not self._stopped.is_set() and self._one(tls, reader):
                    pass
        except (OSError, ssl.SSLError, http.client.HTTPException):
            pass  # the client went away, or we aborted
        finally:
            with self._lock:
                self._conns.discard(raw)
            with contextlib.suppress(OSError):
                raw.close()

    def _one(self, tls: ssl.SSLSocket, reader: Any) -> bool:
        """Forward one request; False when the connection is over."""
        line = reader.readline(65537)
        if not line:
            return False
        method, path, _ = line.decode("latin-1").split(" ", 2)
        headers = http.client.parse_headers(reader)
        body = reader.read(int(headers.get("Content-Length") or 0))
        upstream = http.client.HTTPConnection(*self.upstream, timeout=60)
        try:
            fwd = {k: v for k, v in headers.items() if k.lower() not in _HOP}
            upstream.request(method, path, body=body, headers=fwd)
            resp = upstream.getresponse()
            answer, status, reason = resp.read(), resp.status, resp.reason
            kept = [(k, v) for k, v in resp.getheaders() if k.lower() not in _HOP]
        finally:
            upstream.close()
        if self._aborts(path):
            raw = socket.socket(fileno=tls.detach())
            with contextlib.suppress(OSError):
                raw.sendall(FATAL_ALERT)
            raw.close()
            return False
        head = [f"HTTP/1.1 {status} {reason}", f"Content-Length: {len(answer)}"]
        head += [f"{k}: {v}" for k, v in kept]
        tls.sendall(("\r\n".join(head) + "\r\n\r\n").encode("latin-1") + answer)
        return True

    def _aborts(self, path: str) -> bool:
        route = path.split("?", 1)[0]
        if not any(route.endswith(p) for p in self.abort_paths):
            return False
        with self._lock:
            hit = self.abort_rate > 0 and self._rng.random() < self.abort_rate
            self.aborted += hit
        return hit


__all__ = ["FATAL_ALERT", "TLSProxy"]
