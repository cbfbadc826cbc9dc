"""Store a job result's images on disk: `directory/<job_id>/main.png`, `1.png` .. `4.png`.

Each image is streamed in chunks into a temp file next to its final name, hashed (sha256) on the
way, and moved into place with `os.replace`, so a reader never sees half an image and a crash
leaves at most a `.part` file behind. 5xx answers and network trouble are retried with a short
exponential backoff; any other 4xx fails at once (a CDN's 403/404 will not heal). A file that is
already there with the size the server announces is kept, so re-running a download is cheap.
"""

from __future__ import annotations

import hashlib
import mimetypes
import os
import re
import tempfile
import time
from collections.abc import Callable
from pathlib import Path, PurePosixPath
from typing import Any
from urllib.parse import urlsplit

import requests

from worker import errors

CHUNK = 64 * 1024
#: Extensions taken from a URL's path; anything else falls back to the Content-Type.
IMAGE_EXTS = ("png", "jpg", "jpeg", "webp", "gif")
_SAFE_ID = re.compile(r"^[A-Za-z0-9_-][A-Za-z0-9._-]{0,127}$")


def safe_job_id(value: Any) -> str:
    """`value` if it is usable as one path component (no `/`, no `..`, no leading dot)."""
    text = str(value or "")
    if not _SAFE_ID.match(text):
        raise errors.InvalidRequest(
            f"job_id: {text[:80]!r} is not a safe directory name "
            "(letters, digits, '-', '_', '.'; no '/', no leading '.')")
    return text


def image_urls(result: dict[str, Any]) -> list[tuple[str, str]]:
    """(stem, url) of every image of a job result: `main` for `image_url`, then `1`..`4`."""
    pairs: list[tuple[str, str]] = []
    if result.get("image_url"):
        pairs.append(("main", str(result["image_url"])))
    pairs += [(str(n), str(url)) for n, url in enumerate(result.get("images") or [], 1) if url]
    if not pairs:
        raise errors.InvalidRequest(
            f"result: job {result.get('job_id')} has no image_url and no images to download")
    return pairs


def extension(url: str, content_type: str | None) -> str:
    """The file extension: from the URL's path, else from the Content-Type, else `png`."""
    suffix = PurePosixPath(urlsplit(url).path).suffix.lstrip(".").lower()
    if suffix in IMAGE_EXTS:
        return "jpg" if suffix == "jpeg" else suffix
    mime = (content_type or "").split(";")[0].strip().lower()
    guessed = ""
    if mime.startswith("image/"):
        guessed = (mimetypes.guess_extension(mime) or "").lstrip(".")
    if guessed in IMAGE_EXTS:
        return "jpg" if guessed == "jpeg" else guessed
    return "png"


def download_result(result: dict[str, Any], directory: Path, *, session: requests.Session,
                    attempts: int = 3, timeout: tuple[float, float] = (5, 60),
                    backoff: float = 0.5,
                    sleep: Callable[[float], None] = time.sleep) -> dict[str, Any]:
    """Download every image of `result` into `directory/<job_id>/`; returns `result` plus
    `files` ([{url, path, sha256, bytes}]) and `download_dir` (the job's directory)."""
    if not isinstance(result, dict):
        raise errors.InvalidRequest("result: expected a job result dict from the previous step")
    job_dir = Path(directory) / safe_job_id(result.get("job_id"))
    job_dir.mkdir(parents=True, exist_ok=True)
    fetcher = _Fetcher(session, attempts=max(1, attempts), timeout=timeout, backoff=backoff,
                       sleep=sleep)
    files = [fetcher.store(url, job_dir, stem) for stem, url in image_urls(result)]
    return {**result, "files": files, "download_dir": str(job_dir)}


class _Fetcher:
    """One download policy (attempts, timeouts, backoff) applied to one URL at a time."""

    def __init__(self, session: requests.Session, *, attempts: int,
                 timeout: tuple[float, float], backoff: float,
                 sleep: Callable[[float], None]) -> None:
        self.session, self.attempts, self.timeout = session, attempts, timeout
        self.backoff, self.sleep = backoff, sleep

    def store(self, url: str, job_dir: Path, stem: str) -> dict[str, Any]:
        """Store `url` as `job_dir/<stem>.<ext>`, retrying transient failures."""
        if urlsplit(url).scheme not in ("http", "https"):
            raise errors.InvalidRequest(f"url: {url[:200]!r} is not an http(s) URL")
        last: errors.TTAPIError | None = None
        for attempt in range(self.attempts):
            if attempt:
                self.sleep(self.backoff * 2 ** (attempt - 1))
            try:
                return self._once(url, job_dir, stem)
            except (errors.ServerError, errors.RequestError, errors.RateLimited) as exc:
                last = exc
        assert last is not None
        raise type(last)(f"download {url}: gave up after {self.attempts} attempts: {last}")

    def _once(self, url: str, job_dir: Path, stem: str) -> dict[str, Any]:
        try:
            with self.session.get(url, stream=True, timeout=self.timeout) as resp:
                _check_status(resp, url)
                path = job_dir / f"{stem}.{extension(url, resp.headers.get('Content-Type'))}"
                announced = _content_length(resp)
                if announced is not None and path.is_file() and path.stat().st_size == announced:
                    return _entry(url, path, _hash_file(path), announced)
                digest, size = _stream_to(resp, path, announced)
        except requests.ConnectionError as exc:
            raise errors.ConnectError(f"download {url}: {type(exc).__name__}") from None
        except requests.Timeout as exc:
            raise errors.ReadTimeout(f"download {url}: {type(exc).__name__}") from None
        except requests.RequestException as exc:  # broken chunked body, too many redirects, ...
            raise errors.ConnectionLost(f"download {url}: {type(exc).__name__}") from None
        return _entry(url, path, digest, size)


def _check_status(resp: requests.Response, url: str) -> None:
    if resp.status_code < 400:
        return
    message = f"download {url}: HTTP {resp.status_code} {resp.reason or ''}".rstrip()
    # 5xx → ServerError and 429 → RateLimited are retried; any other 4xx is final.
    raise errors.error_for_status(resp.status_code)(message)


def _content_length(resp: requests.Response) -> int | None:
    try:
        value = int(resp.headers.get("Content-Length", ""))
    except ValueError:
        return None
    return value if value >= 0 else None


def _stream_to(resp: requests.Response, path: Path,
               announced: int | None) -> tuple[str, int]:
    """Write the body to a temp file beside `path`, then rename it into place."""
    digest, size = hashlib.sha256(), 0
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".part")
    try:
        with os.fdopen(fd, "wb") as out:
            for chunk in resp.iter_content(CHUNK):
                out.write(chunk)
                digest.update(chunk)
                size += len(chunk)
            out.flush()
            os.fsync(out.fileno())
        if announced is not None and size != announced:
            raise errors.ConnectionLost(
                f"download {resp.url}: got {size} of {announced} bytes")
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
