"""Stream a job result's images and videos into `<directory>/<job_id>/`, hashed, renamed."""

from __future__ import annotations

import hashlib
import os
import tempfile
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import requests

from config.settings import default
from worker.jobs.download.addresses import AddressGuard
from worker.jobs.download.errors import DEFAULT_MAX_BYTES, ImageTooLarge
from worker.jobs.download.fetch import open_following
from worker.jobs.download.media import extension, media_urls
from worker.jobs.download.paths import safe_job_id
from worker.jobs.download.transport import guarded_session
from worker.policy import DOWNLOAD_READ_TIMEOUT_S
from worker.ttapi import errors

CHUNK = 64 * 1024


def download_result(
    result: dict[str, Any],
    directory: Path,
    *,
    allow_private: bool = False,
    timeout: tuple[float, float] = (default("mj_http_connect_timeout_s"), DOWNLOAD_READ_TIMEOUT_S),
    max_bytes: int = DEFAULT_MAX_BYTES,
) -> dict[str, Any]:
    """Download every image and video of `result` into `directory/<job_id>/`; returns `result` plus
    `files` ([{url, path, sha256, bytes}]) and `download_dir` (the job's directory).

    One attempt per file: a failure raises at once (see TRANSIENT_ERRORS); files already
    stored are kept, so the retry that follows costs only what is still missing. Hosts that
    lead to non-public addresses are refused unless `allow_private` (see `addresses`).
    """
    if not isinstance(result, dict):
        raise errors.InvalidRequest("result: expected a job result dict from the previous step")
    job_dir = Path(directory) / safe_job_id(result.get("job_id"))
    pairs = media_urls(result)
    for _, url in pairs:
        if urlsplit(url).scheme not in ("http", "https"):
            raise errors.InvalidRequest(f"url: {url[:200]!r} is not an http(s) URL")
    job_dir.mkdir(parents=True, exist_ok=True)
    with guarded_session(AddressGuard(allow_private=allow_private)) as session:
        files = [_store(session, url, job_dir, stem, timeout, max_bytes) for stem, url in pairs]
    return {**result, "files": files, "download_dir": str(job_dir)}


def _store(
    session: requests.Session,
    url: str,
    job_dir: Path,
    stem: str,
    timeout: tuple[float, float],
    max_bytes: int,
) -> dict[str, Any]:
    """Store `url` as `job_dir/<stem>.<ext>`; requests' exceptions become TTAPIErrors."""
    try:
        with open_following(session, url, timeout=timeout) as resp:
            _check_status(resp, url)
            path = job_dir / f"{stem}.{extension(url, resp.headers.get('Content-Type'))}"
            announced = _content_length(resp)
            if announced is not None and announced > max_bytes:
                raise ImageTooLarge(
                    f"download {url}: {announced} bytes announced, over the limit of "
                    f"{max_bytes} bytes (MJ_DOWNLOAD_MAX_BYTES)"
                )
            if announced is not None and path.is_file() and path.stat().st_size == announced:
                return _entry(url, path, _hash_file(path), announced)
            digest, size = _stream_to(resp, url, path, announced, max_bytes)
    except requests.ConnectionError as exc:
        raise errors.ConnectError(f"download {url}: {type(exc).__name__}") from None
    except requests.Timeout as exc:
        raise errors.ReadTimeout(f"download {url}: {type(exc).__name__}") from None
    except requests.RequestException as exc:  # a broken chunked body, ...
        raise errors.ConnectionLost(f"download {url}: {type(exc).__name__}") from None
    return _entry(url, path, digest, size)


def _check_status(resp: requests.Response, url: str) -> None:
    if resp.status_code < 400:
        return
    message = f"download {url}: HTTP {resp.status_code} {resp.reason or ''}".rstrip()
    # 5xx → ServerError and 429 → RateLimited are transient; any other 4xx is final.
    raise errors.error_for_status(resp.status_code)(message)


def _content_length(resp: requests.Response) -> int | None:
    try:
        value = int(resp.headers.get("Content-Length", ""))
    except ValueError:
        return None
    return value if value >= 0 else None


def _stream_to(
    resp: requests.Response, url: str, path: Path, announced: int | None, max_bytes: int
) -> tuple[str, int]:
    """Write the body to a temp file beside `path`, then rename it into place; a body that
    grows past `max_bytes` is abandoned there (a missing or false Content-Length is no guard)."""
    digest, size = hashlib.sha256(), 0
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".part")
    try:
        with os.fdopen(fd, "wb") as out:
            for chunk in resp.iter_content(CHUNK):
                if size + len(chunk) > max_bytes:
                    raise ImageTooLarge(
                        f"download {url}: more than {max_bytes} bytes, over the limit "
                        "(MJ_DOWNLOAD_MAX_BYTES)"
                    )
                out.write(chunk)
                digest.update(chunk)
                size += len(chunk)
            out.flush()
            os.fsync(out.fileno())
        if announced is not None and size != announced:
            raise errors.ConnectionLost(f"download {url}: got {size} of {announced} bytes")
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return digest.hexdigest(), size


def _hash_file(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        while chunk := f.read(CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def _entry(url: str, path: Path, sha256: str, size: int) -> dict[str, Any]:
    return {"url": url, "path": str(path), "sha256": sha256, "bytes": size}
