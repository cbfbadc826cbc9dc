"""How a TTAPI client's requests travel: urllib3 connection pools, with no retries of their own.

One pool per account, shared by every thread of the engine (urllib3's pools are thread-safe)
and kept alive between calls. The environment's proxy (`HTTPS_PROXY`, with `NO_PROXY`) and CA
bundle (`REQUESTS_CA_BUNDLE`, `CURL_CA_BUNDLE`, else certifi's) are read once, when the pool
is built. urllib3 directly, not requests: a fetch is a short GET made thousands of times an
hour, and requests' per-call preparation cost more CPU than everything else a fetch does.
Every request has a total deadline (`worker.ttapi.deadline`): its own, or the connect and read
timeouts added up. Failures are urllib3's own exceptions; `worker.ttapi.parsing.transport_error`
names them. A TLS error once the request was written comes out as a `ProtocolError` (the job
may exist), a deadline that passed as a connect or read timeout (before or after the send).
"""

from __future__ import annotations

import json as jsonlib
import os
import time
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode, urlsplit

import certifi
import urllib3
from requests.utils import get_environ_proxies
from urllib3 import exceptions as http
from urllib3.connectionpool import HTTPConnectionPool

from worker.ttapi.deadline import WatchedHTTPConnection, WatchedHTTPSConnection, call_until

_NO_POOL: Any = None  # urllib3 names the pool in a timeout's message; ours has none
POOL_SIZE = 64  # kept-alive connections per account (the engine's threads share them)
USER_AGENT = "mj-worker/0.1"


@dataclass(frozen=True)
class Answer:
    """An HTTP answer: its status, body and headers (header names case-insensitive)."""

    status: int
    body: bytes
    headers: Any

    @property
    def text(self) -> str:
        """The body as text (UTF-8, undecodable bytes replaced)."""
        return self.body.decode("utf-8", errors="replace")

    def json(self) -> Any:
        """The body as JSON (ValueError when it is not)."""
        return jsonlib.loads(self.body)


class Transport:
    """Requests to one base URL through a kept-alive pool; `close()` drops its connections."""

    def __init__(self, base_url: str, *, connect_timeout: float, read_timeout: float) -> None:
        self.base_url = base_url.rstrip("/")
        self.connect_timeout, self.read_timeout = connect_timeout, read_timeout
        self.total_s = connect_timeout + read_timeout  # a request's deadline unless told one
        ca_certs = os.environ.get("REQUESTS_CA_BUNDLE") or os.environ.get("CURL_CA_BUNDLE") or None
        options: dict[str, Any] = {"maxsize": POOL_SIZE, "block": False, "retries": False}
        if urlsplit(self.base_url).scheme == "https":
            options.update(cert_reqs="CERT_REQUIRED", ca_certs=ca_certs or certifi.where())
        scheme = urlsplit(self.base_url).scheme or "https"
        proxy = get_environ_proxies(self.base_url).get(scheme)
        self.pool: urllib3.PoolManager = (
            _ProxyPools(proxy, **options) if proxy else _Pools(**options)
        )
        # Without a proxy every request goes to the one host of `base_url`: its pool is looked
        # up once (the manager would parse the URL and look the pool up again on every call),
        # and requests name their path from there (below `base_url`'s own path, if any).
        self._direct = not proxy
        self._prefix = urlsplit(self.base_url).path
        self._host_pool: HTTPConnectionPool | None = None

    def request(
        self,
        method: str,
        path: str,
        *,
        headers: dict[str, str],
        json: dict[str, Any] | None = None,
        params: dict[str, Any] | None = None,
        deadline: float | None = None,
    ) -> Answer:
        """One request, no retry and no redirect, over by `deadline` (monotonic; default: the
        connect and read timeouts from now); urllib3's exception when there is no answer."""
        now = time.monotonic()
        deadline = now + self.total_s if deadline is None else deadline
        left = deadline - now
        if left <= 0:
            raise http.ConnectTimeoutError(None, "the deadline passed before the request")
        target = path + (f"?{urlencode(params)}" if params else "")
        url = self.base_url + target
        body = None
        headers = {"User-Agent": USER_AGENT, **headers}
        if json is not None:
            body = jsonlib.dumps(json).encode()
            headers["Content-Type"] = "application/json"
        timeout = urllib3.Timeout(
            connect=min(self.connect_timeout, left), read=min(self.read_timeout, left)
        )
        with call_until(deadline) as call:
            try:
                sent: dict[str, Any] = {
                    "body": body,
                    "headers": headers,
                    "timeout": timeout,
                    "retries": False,
                    "redirect": False,
                }
                if self._direct:
                    resp = self._host().urlopen(
                        method, self._prefix + target, assert_same_host=False, **sent
                    )
                else:
                    resp = self.pool.request(method, url, **sent)
            except http.HTTPError as exc:
                if call.expired and call.sent:
                    raise http.ReadTimeoutError(_NO_POOL, url, "no answer by the deadline") from exc
                if call.expired:
                    raise http.ConnectTimeoutError(None, "not sent by the deadline") from exc
                if call.sent and isinstance(exc, http.SSLError):
                    # TLS failed after the request went out (a proxy aborting after it
                    # forwarded it): the job may exist, as after any connection lost.
                    raise http.ProtocolError(f"TLS failed after the request: {exc}") from exc
                raise
        return Answer(resp.status, resp.data, resp.headers)

    def _host(self) -> HTTPConnectionPool:
        """The connection pool of `base_url`'s host (the manager's own, kept; made again after
        `close()`)."""
        pool = self._host_pool
        if pool is None:
            pool = self._host_pool = self.pool.connection_from_url(self.base_url)
        return pool

    def close(self) -> None:
        """Drop the pooled connections."""
        self._host_pool = None
        self.pool.clear()


class _Pools(urllib3.PoolManager):
    """Pools whose connections a request's deadline can abort (`worker.ttapi.deadline`)."""

    def _new_pool(
        self, scheme: str, host: str, port: int, request_context: dict[str, Any] | None = None
    ) -> HTTPConnectionPool:
        # urllib3 documents this method as the place to customise the pools it makes.
        pool = super()._new_pool(scheme, host, port, request_context)
        watched = WatchedHTTPSConnection if scheme == "https" else WatchedHTTPConnection
        pool.ConnectionCls = watched
        return pool


class _ProxyPools(urllib3.ProxyManager, _Pools):
    """The same through the environment's proxy."""


__all__ = ["Answer", "Transport"]
