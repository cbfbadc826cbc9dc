"""How a TTAPI client's requests travel: urllib3 connection pools, with no retries of their own.

One pool per account, shared by every thread of the engine (urllib3's pools are thread-safe)
and kept alive between calls. The environment's proxy (`HTTPS_PROXY`, with `NO_PROXY`) and CA
bundle (`REQUESTS_CA_BUNDLE`, `CURL_CA_BUNDLE`, else certifi's) are read once, when the pool
is built. urllib3 directly, not requests: a fetch is a short GET made thousands of times an
hour, and requests' per-call preparation cost more CPU than everything else a fetch does.
Failures are urllib3's own exceptions; `worker.ttapi.parsing.transport_error` names them.
"""

from __future__ import annotations

import json as jsonlib
import os
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode, urlsplit

import certifi
import urllib3
from requests.utils import get_environ_proxies

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
        self.timeout = urllib3.Timeout(connect=connect_timeout, read=read_timeout)
        ca_certs = os.environ.get("REQUESTS_CA_BUNDLE") or os.environ.get("CURL_CA_BUNDLE") or None
        options: dict[str, Any] = {"maxsize": POOL_SIZE, "block": False, "retries": False}
        if urlsplit(self.base_url).scheme == "https":
            options.update(cert_reqs="CERT_REQUIRED", ca_certs=ca_certs or certifi.where())
        scheme = urlsplit(self.base_url).scheme or "https"
        proxy = get_environ_proxies(self.base_url).get(scheme)
        self.pool: urllib3.PoolManager = (
            urllib3.ProxyManager(proxy, **options) if proxy else urllib3.PoolManager(**options)
        )

    def request(
        self,
        method: str,
        path: str,
        *,
        headers: dict[str, str],
        json: dict[str, Any] | None = None,
        params: dict[str, Any] | None = None,
    ) -> Answer:
        """One request, no retry and no redirect; urllib3's exception when there is no answer."""
        url = self.base_url + path + (f"?{urlencode(params)}" if params else "")
        body = None
        headers = {"User-Agent": USER_AGENT, **headers}
        if json is not None:
            body = jsonlib.dumps(json).encode()
            headers["Content-Type"] = "application/json"
        resp = self.pool.request(
            method,
            url,
            body=body,
            headers=headers,
            timeout=self.timeout,
            retries=False,
            redirect=False,
        )
        return Answer(resp.status, resp.data, resp.headers)

    def close(self) -> None:
        """Drop the pooled connections."""
        self.pool.clear()


__all__ = ["Answer", "Transport"]
