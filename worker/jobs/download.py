"""Store a job result's images on disk: `<directory>/<job_id>/main.png`, `1.png` .. `4.png`.

Where: only under MJ_DOWNLOAD_DIR, the worker operator's choice. A task argument may name a
sub-folder of it, never another place on the worker's disk (`target_directory`).

How: each image is streamed in chunks into a temp file next to its final name, hashed (sha256)
on the way, and moved into place with `os.replace`, so a reader never sees half an image and a
crash leaves at most a `.part` file behind. An image over the size limit (MJ_DOWNLOAD_MAX_BYTES)
is refused by its Content-Length before any byte is read, and again while streaming when the
server did not announce a size (or lied about it). A file that is already there with the size
the server announces is kept, so re-running a download is cheap.

Failures: this module never retries and never sleeps; it sorts what went wrong so the task can
let Celery re-publish it with a backoff (a sleeping worker process serves no one):

    TRANSIENT_ERRORS   worth another try later: 5xx, 429, network trouble, a truncated body
    anything else      final: other 4xx (a CDN's 403/404 will not heal), ImageTooLarge,
                       InvalidRequest (unsafe job id or directory, no image in the result)
"""

from __future__ import annotations

import hashlib
import mimetypes
import os
import re
import tempfile
from pathlib import Path, PurePosixPath
from typing import Any
from urllib.parse import urlsplit

import requests

from worker.ttapi import errors

CHUNK = 64 * 1024
#: Extensions taken from a URL's path; anything else falls back to the Content-Type.
IMAGE_EXTS = ("png", "jpg", "jpeg", "webp", "gif")
_SAFE_ID = re.compile(r"^[A-Za-z0-9_-][A-Za-z0-9._-]{0,127}$")
#: The default of MJ_DOWNLOAD_MAX_BYTES: far above any Midjourney image, far below a full disk.
DEFAULT_MAX_BYTES = 50 * 1024 * 1024
#: What `mj.download` lets Celery retry (with backoff); every other error is final.
TRANSIENT_ERRORS: tuple[type[errors.TTAPIError], ...] = (
    errors.RequestError,
    errors.ServerError,
    errors.RateLimited,
)


class ImageTooLarge(errors.TTAPIError):
    """The image is bigger than MJ_DOWNLOAD_MAX_BYTES; final (the same URL stays too big)."""


def target_directory(root: str | None, directory: str | None = None) -> Path:
    """The folder `mj.download` writes into: MJ_DOWNLOAD_DIR (`root`) or a sub-folder of it.

    Task arguments come from any client of the broker, so they must not pick a place on the
    worker's disk. The rule: no `directory` → `root`; a relative `directory` (no `..`) → that
    sub-folder of `root`; an absolute one is accepted only when it is `root` or lies inside it
    (then it is that sub-folder), so callers that pass the full path keep working. Symbolic
    links are followed before the final check, so a link inside `root` cannot lead out either.
    """
    if not root:
        raise errors.InvalidRequest(
            "MJ_DOWNLOAD_DIR: not set; mj.download stores images only under it "
            "(set it on the worker)"
        )
    if directory is not None and not isinstance(directory, str):
        raise errors.InvalidRequest(
            f"directory: expected a string (a sub-folder of MJ_DOWNLOAD_DIR), "
            f"got {type(directory).__name__}"
        )
    if "\x00" in (directory or ""):
        raise errors.InvalidRequest("directory: must not contain a NUL character")
    base, given = Path(root), Path(directory or ".")
    if given.is_absolute():
        rel = os.path.relpath(os.path.abspath(given), os.path.abspath(base))
        if rel == ".." or rel.startswith(".." + os.sep):
            raise errors.InvalidRequest(
                f"directory: {directory!r} is outside MJ_DOWNLOAD_DIR ({root}); "
                "give a sub-folder of it"
            )
        given = Path(rel)
    elif ".." in given.parts:
        raise errors.InvalidRequest(
            f"directory: {directory!r} must not contain '..'; give a sub-folder of MJ_DOWNLOAD_DIR"
        )
    target = base / given
    if not Path(os.path.realpath(target)).is_relative_to(os.path.realpath(base)):
        raise errors.InvalidRequest(
            f"directory: {directory!r} leads outside MJ_DOWNLOAD_DIR ({root}) through a "
            "symbolic link"
        )
    return target


def safe_job_id(value: Any) -> str:
    """`value` if it is usable as one path component (no `/`, no `..`, no leading dot)."""
    text = str(value or "")
    if not _SAFE_ID.match(text):
        raise errors.InvalidRequest(
            f"job_id: {text[:80]!r} is not a safe directory name "
            "(letters, digits, '-', '_', '.'; no '/', no leading '.')"
        )
    return text


def image_urls(result: dict[str, Any]) -> list[tuple[str, str]]:
    """(stem, url) of every image of a job result: `main` for `image_url`, then `1`..`4`."""
    pairs: list[tuple[str, str]] = []
    if result.get("image_url"):
        pairs.append(("main", str(result["image_url"])))
    pairs += [(str(n), str(url)) for n, url in enumerate(result.get("images") or [], 1) if url]
    if not pairs:
        raise errors.InvalidRequest(
            f"result: job {result.get('job_id')} has no image_url and no images to download"
        )
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


def download_result(
    result: dict[str, Any],
    directory: Path,
    *,
    session: requests.Session,
    timeout: tuple[float, float] = (5, 60),
    max_bytes: int = DEFAULT_MAX_BYTES,
) -> dict[str, Any]:
    """Download every image of `result` into `directory/<job_id>/`; returns `result` plus
    `files` ([{url, path, sha256, bytes}]) and `download_dir` (the job's directory).

    One attempt per image: a failure raises at once (see TRANSIENT_ERRORS); images already
    stored are kept, so the retry that follows costs only what is still missing.
    """
    if not isinstance(result, dict):
        raise errors.InvalidRequest("result: expected a job result dict from the previous step")
    job_dir = Path(directory) / safe_job_id(result.get("job_id"))
    pairs = image_urls(result)
    for _, url in pairs:
        if urlsplit(url).scheme not in ("http", "https"):
            raise errors.InvalidRequest(f"url: {url[:200]!r} is not an http(s) URL")
    job_dir.mkdir(parents=True, exist_ok=True)
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
        with session.get(url, stream=True, timeout=timeout) as resp:
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
    except requests.RequestException as exc:  # broken chunked body, too many redirects, ...
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
