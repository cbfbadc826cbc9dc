"""Where a job's files go in the store, the same on every run of the same job.

    <prefix>/<yyyy>/<mm>/<dd>/<TTAPI job id>/main.png        image_url
                                             1.png .. 4.png   images
                                             video-1.mp4 ..   videos
                                             thumb/main.webp  a thumbnail per image (a video's:
                                                              its start image, thumb/video-1.webp)

The date is the record's `finished_at` (UTC), written once when the job ended: a re-run after
midnight, or a copy finished by another engine, writes the same names and overwrites the same
objects, never a second set. The stems are `mj.download`'s; the extension is what the CDN's
Content-Type (or the URL) says, as for a download. Metadata is small ASCII: task id, kind,
tenant, the TTAPI job id; never the prompt.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Any

from worker.jobs.download import safe_job_id
from worker.policy import STORE_META_MAX_CHARS

CONTENT_TYPES = {
    "png": "image/png",
    "jpg": "image/jpeg",
    "webp": "image/webp",
    "gif": "image/gif",
    "mp4": "video/mp4",
}
THUMB_DIR = "thumb"
_NOT_ASCII = re.compile(r"[^\x20-\x7e]")


def folder(ttapi_job_id: str, finished_at_ts: float) -> str:
    """`<yyyy>/<mm>/<dd>/<TTAPI job id>` (relative to the store's prefix)."""
    day = datetime.fromtimestamp(finished_at_ts, UTC)
    return f"{day:%Y/%m/%d}/{safe_job_id(ttapi_job_id)}"


def file_key(base: str, stem: str, ext: str) -> str:
    """A stored file: `<folder>/<stem>.<ext>`."""
    return f"{base}/{stem}.{ext}"


def thumb_key(base: str, stem: str) -> str:
    """A stored thumbnail: `<folder>/thumb/<stem>.webp`."""
    return f"{base}/{THUMB_DIR}/{stem}.webp"


def content_type(ext: str) -> str:
    """The Content-Type a stored file is served with."""
    return CONTENT_TYPES.get(ext, "application/octet-stream")


def metadata(result: dict[str, Any], task_id: str) -> dict[str, str]:
    """The object's metadata: small and ASCII (S3 allows about 2 KB in all), no prompt."""
    found = {
        "task-id": task_id,
        "kind": str(result.get("kind") or ""),
        "tenant": str(result.get("tenant") or "default"),
        "ttapi-job-id": str(result.get("job_id") or ""),
    }
    return {k: _NOT_ASCII.sub("_", v)[:STORE_META_MAX_CHARS] for k, v in found.items() if v}


__all__ = ["content_type", "file_key", "folder", "metadata", "thumb_key"]
