"""One file from TTAPI's CDN into the store, streamed; then its thumbnail.

The CDN is read as `mj.download` reads it (`worker.jobs.download`): its address rule (the
resolved address must be public unless MJ_DOWNLOAD_ALLOW_PRIVATE), redirects by hand, only
images and MP4 videos, at most MJ_DOWNLOAD_MAX_BYTES a file. The store is written without
that rule: its endpoint is configuration, not input.

- A clip is never whole in memory: its body goes to the store as it arrives, in multipart
  parts of STORE_PART_BYTES (a few in flight), unless the CDN announced a size that fits in
  one part. A body that ends short of its announced size aborts the upload.
- An image is kept for its thumbnail in a spooled file (memory up to STORE_SPOOL_BYTES, then
  disk) while it is written, then shrunk (`thumbs`) and its thumbnail stored beside it.

What fails is sorted for the retries (`CopyFailed.final`): the CDN's 5xx, 429 and network
trouble, and any error of the store, are worth another try; a CDN's other 4xx, or a file our
rules refuse, are not.
"""

from __future__ import annotations

import hashlib
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import IO

import obstore
import requests

from worker.jobs.download import TRANSIENT_ERRORS, ImageTooLarge, extension
from worker.jobs.download.fetch import open_following
from worker.policy import (
    STORE_PART_BYTES,
    STORE_PART_CONCURRENCY,
    STORE_SPOOL_BYTES,
)
from worker.storage import names
from worker.storage.target import Storage
from worker.storage.thumbs import thumbnail
from worker.ttapi import errors

CHUNK = 64 * 1024


class CopyFailed(Exception):
    """A file could not be stored; `final` when trying again cannot help."""

    def __init__(self, message: str, *, final: bool = False) -> None:
        super().__init__(message)
        self.final = final


@dataclass
class Copied:
    """A stored file: its object name, size and SHA-256 (of the bytes the CDN served)."""

    key: str
    size: int
    sha256: str


@dataclass(frozen=True)
class Reader:
    """How the CDN is read: a guarded session, timeouts, the size limit."""

    session: requests.Session
    timeout: tuple[float, float]
    max_bytes: int


def copy_file(
    storage: Storage,
    reader: Reader,
    url: str,
    key_of: Callable[[str], str],
    attributes: dict[str, str],
    keep: IO[bytes] | None = None,
) -> Copied:
    """Stream `url` into the store under `key_of(ext)`; with `keep`, also into that file."""
    with _reading(reader, url) as (resp, ext, announced):
        key = key_of(ext)
        body = _Body(resp.iter_content(CHUNK), announced, reader.max_bytes, keep)
        attrs = {"Content-Type": names.content_type(ext), **attributes}
        _put(storage, key, body, announced, attrs, keep)
    return Copied(key, body.size, body.digest.hexdigest())


def fetch_into(reader: Reader, url: str, keep: IO[bytes]) -> None:
    """Read `url` (an image we do not store, e.g. a video's start image) into `keep`."""
    with _reading(reader, url) as (resp, _, announced):
        for _ in _Body(resp.iter_content(CHUNK), announced, reader.max_bytes, keep):
            pass


@contextmanager
def _reading(reader: Reader, url: str) -> Iterator[tuple[requests.Response, str, int | None]]:
    """The CDN's answer for `url` (checked: status, type, announced size), its extension and
    announced size; every failure while it is open becomes a CopyFailed."""
    try:
        with open_following(reader.session, url, timeout=reader.timeout) as resp:
            if resp.status_code >= 400:
                raise errors.error_for_status(resp.status_code)(
                    f"CDN answered HTTP {resp.status_code}"
                )
            ext = extension(url, resp.headers.get("Content-Type"))
            announced = _length(resp)
            if announced is not None and announced > reader.max_bytes:
                raise ImageTooLarge(f"{announced} bytes, over MJ_DOWNLOAD_MAX_BYTES")
            yield resp, ext, announced
    except CopyFailed:
        raise
    except errors.TTAPIError as exc:
        final = not isinstance(exc, TRANSIENT_ERRORS)
        raise CopyFailed(f"reading the CDN: {exc}"[:300], final=final) from None
    except requests.RequestException as exc:
        raise CopyFailed(f"reading the CDN: {type(exc).__name__}") from None


def _put(
    storage: Storage,
    key: str,
    body: _Body,
    announced: int | None,
    attrs: dict[str, str],
    keep: IO[bytes] | None,
) -> None:
    """Write `body` to the store: from the kept file, in one request when it fits in a part,
    else streamed in multipart parts."""
    try:
        if keep is not None:
            for _ in body:  # read it all into `keep` first: the thumbnail needs it anyway
                pass
            keep.seek(0)
            obstore.put(
                storage.store,
                key,
                keep,
                attributes=storage.attributes(attrs),
                chunk_size=STORE_PART_BYTES,
            )
        elif announced is not None and announced <= STORE_PART_BYTES:
            obstore.put(storage.store, key, b"".join(body), attributes=storage.attributes(attrs))
        else:
            obstore.put(
                storage.store,
                key,
                body,
                attributes=storage.attributes(attrs),
                use_multipart=True,
                chunk_size=STORE_PART_BYTES,
                max_concurrency=STORE_PART_CONCURRENCY,
            )
    except (errors.TTAPIError, requests.RequestException):
        raise
    except Exception as exc:  # obstore's errors (and OSError for a file:// store)
        if body.failure is not None:
            raise body.failure from None
        raise CopyFailed(f"writing to the store: {_first_line(exc)}") from None


class _Body:
    """The CDN's body as an iterator of chunks: counted, hashed, bounded, copied to `keep`."""

    def __init__(
        self,
        chunks: Iterator[bytes],
        announced: int | None,
        max_bytes: int,
        keep: IO[bytes] | None,
    ) -> None:
        self.chunks, self.announced, self.max_bytes, self.keep = chunks, announced, max_bytes, keep
        self.size, self.digest = 0, hashlib.sha256()
        self.failure: Exception | None = None

    def __iter__(self) -> Iterator[bytes]:
        try:
            for chunk in self.chunks:
                self.size += len(chunk)
                if self.size > self.max_bytes:
                    raise ImageTooLarge(f"more than {self.max_bytes} bytes (MJ_DOWNLOAD_MAX_BYTES)")
                self.digest.update(chunk)
                if self.keep is not None:
                    self.keep.write(chunk)
                yield chunk
            if self.announced is not None and self.size != self.announced:
                raise errors.ConnectionLost(f"got {self.size} of {self.announced} bytes")
        except requests.RequestException as exc:
            self.failure = CopyFailed(f"reading the CDN: {type(exc).__name__}")
            raise self.failure from None
        except errors.TTAPIError as exc:
            final = not isinstance(exc, TRANSIENT_ERRORS)
            self.failure = CopyFailed(f"reading the CDN: {exc}"[:300], final=final)
            raise self.failure from None


def spool() -> IO[bytes]:
    """A file for an image kept for its thumbnail: in memory while small, then on disk."""
    return tempfile.SpooledTemporaryFile(max_size=STORE_SPOOL_BYTES)


def store_thumbnail(
    storage: Storage, key: str, image: IO[bytes], attributes: dict[str, str]
) -> float:
    """Store the WebP thumbnail of `image` under `key`; the CPU seconds the thumbnail took.
    An image Pillow cannot read gets none (ThumbnailError propagates)."""
    image.seek(0)
    data, cpu_s = thumbnail(image)
    try:
        obstore.put(
            storage.store,
            key,
            data,
            attributes=storage.attributes({"Content-Type": "image/webp", **attributes}),
        )
    except Exception as exc:
        raise CopyFailed(f"writing to the store: {_first_line(exc)}") from None
    return cpu_s


def _length(resp: requests.Response) -> int | None:
    try:
        value = int(resp.headers.get("Content-Length", ""))
    except ValueError:
        return None
    return value if value >= 0 else None


def _first_line(exc: Exception) -> str:
    """An obstore error's first line (the rest is a debug dump), short."""
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    return text[:300]


__all__ = [
    "Copied",
    "CopyFailed",
    "Reader",
    "copy_file",
    "fetch_into",
    "spool",
    "store_thumbnail",
]
