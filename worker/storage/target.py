"""MJ_STORAGE_URL as one object store, built once per process, and where its objects are.

obstore builds S3 (AWS, MinIO, R2, B2 and other S3-compatible stores), GCS, Azure and local
stores from one URL; credentials and the endpoint come from the usual environment variables
(`AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY`, `AWS_REGION`, `AWS_ENDPOINT_URL`, ...). An
`http://` endpoint (MinIO on a private network, the tests' server) needs `allow_http`, set
here when the endpoint says http. The store's endpoint is trusted configuration: the download
address rule applies to the CDN URLs we read, never to the store.
"""

from __future__ import annotations

import os
import threading
from dataclasses import dataclass
from datetime import timedelta
from typing import Any
from urllib.parse import urlsplit

from obstore.store import from_url

from config.settings import Settings

ENDPOINT_VARS = ("AWS_ENDPOINT_URL_S3", "AWS_ENDPOINT_URL", "AWS_ENDPOINT")
# One try of a request is short and retried a little by obstore itself; the job's own retries
# (worker.jobs.storing, on the engine's timers) decide how long the store may stay away.
CLIENT = {"connect_timeout": "5s", "timeout": "60s"}
RETRY = {"max_retries": 2, "retry_timeout": timedelta(seconds=20)}


@dataclass(frozen=True)
class Storage:
    """The configured store: `store` (obstore), its `scheme`, the `prefix` inside the bucket
    (or the folder of a file:// store), and how links are made."""

    url: str
    scheme: str
    store: Any
    prefix: str
    public_url: str | None
    link_ttl_s: int

    @property
    def local(self) -> bool:
        """A file:// store: its links are paths on this machine."""
        return self.scheme == "file"

    def attributes(self, values: dict[str, str]) -> dict[str, str] | None:
        """An object's Content-Type and metadata as the store takes them (a folder: none)."""
        return None if self.local else values

    def full_name(self, key: str) -> str:
        """`key` (relative to the store's prefix) as the object's whole name in the bucket."""
        return f"{self.prefix}/{key}" if self.prefix else key

    def host(self) -> str | None:
        """The host browsers fetch stored objects from (for the operator page's policy)."""
        if self.public_url:
            return _origin(self.public_url)
        if self.scheme == "s3":
            endpoint = endpoint_url()
            return _origin(endpoint) if endpoint else "https://*.amazonaws.com"
        if self.scheme == "gs":
            return "https://storage.googleapis.com"
        if self.scheme == "az":
            return "https://*.blob.core.windows.net"
        return None


def endpoint_url() -> str | None:
    """The S3 endpoint the environment names, if any."""
    return next((os.environ[v] for v in ENDPOINT_VARS if os.environ.get(v)), None)


def _origin(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}"


def build(settings: Settings) -> Storage | None:
    """The store MJ_STORAGE_URL names, or None when storage is off."""
    url = settings.mj_storage_url
    if not url:
        return None
    scheme = url.partition("://")[0].lower()
    if scheme == "file":
        path = url.partition("://")[2].rstrip("/") or "/"
        store = from_url(f"file://{path}", mkdir=True)
        prefix = path
    else:
        options: dict[str, Any] = dict(CLIENT)
        endpoint = endpoint_url()
        if endpoint and endpoint.startswith("http://"):
            options["allow_http"] = True
        store = from_url(url, client_options=options, retry_config=RETRY)  # type: ignore[call-overload]
        prefix = urlsplit(url).path.strip("/")
    return Storage(
        url=url,
        scheme=scheme,
        store=store,
        prefix=prefix,
        public_url=settings.mj_storage_public_url,
        link_ttl_s=settings.mj_storage_link_ttl_s,
    )


_built: dict[tuple[str | None, str | None, int, str | None], Storage | None] = {}
_lock = threading.Lock()


def storage_for(settings: Settings) -> Storage | None:
    """`build`, once per process and configuration (a store keeps its connection pool)."""
    key = (
        settings.mj_storage_url,
        settings.mj_storage_public_url,
        settings.mj_storage_link_ttl_s,
        endpoint_url(),
    )
    with _lock:
        if key not in _built:
            _built[key] = build(settings)
        return _built[key]


__all__ = ["Storage", "build", "endpoint_url", "storage_for"]
