"""One try at copying a finished job's files into the store, for the engine's storage pool.

A try copies every file of the result (`names` says where), a thumbnail per image (a video's:
its start image), then ends the job's copy (`worker.jobs.storing.finish`: the result gains
`stored`, a held job's report goes out). A try that fails says when to try again: backing off
from STORE_RETRY_BASE_S, doubling up to STORE_RETRY_MAX_S, until MJ_STORAGE_RETRY_S after the
job ended; then, or at once for a failure no retry can mend (the CDN's 404, a file our rules
refuse), the result is delivered with `stored: null` and `storage_error`. Every try writes the
same names, so a retry, or another engine's try after a kill, overwrites and never adds.
"""

from __future__ import annotations

import functools
import logging
from dataclasses import dataclass, field
from typing import Any

from worker.jobs import storing
from worker.jobs.download import media_urls
from worker.jobs.records import JobRecord
from worker.jobs.runtime import Runtime
from worker.policy import STORE_RETRY_BASE_S, STORE_RETRY_MAX_S
from worker.storage import names
from worker.storage.copy import CopyFailed, Reader, copy_file, fetch_into, spool, store_thumbnail
from worker.storage.links import stored_doc
from worker.storage.target import Storage
from worker.storage.thumbs import ThumbnailError
from worker.ttapi.kinds import is_video_kind

log = logging.getLogger(__name__)


@dataclass
class Tried:
    """What one try came to: `retry_in` seconds (None: the copy ended), files stored, bytes,
    and the CPU seconds its thumbnails took."""

    retry_in: float | None = None
    files: int = 0
    bytes: int = 0
    thumb_cpu_s: float = 0.0
    thumbs: int = 0
    objects: dict[str, Any] = field(default_factory=dict)


def attempt(rt: Runtime, storage: Storage, job_id: str, reader: Reader) -> Tried:
    """Try once to copy the files of `job_id`; end its copy, or say when to try again."""
    rec = rt.records.load(job_id)
    if rec is None or not storing.pending(rec):
        rt.redis.zrem(rt.keys.storing, job_id)
        return Tried()
    tried = Tried()
    try:
        copy_job(storage, reader, rec, tried)
    except CopyFailed as exc:
        return _failed(rt, rec, exc, tried)
    storing.finish(rt, rec, stored_doc(storage, tried.objects, rt.clock()))
    return tried


def copy_job(storage: Storage, reader: Reader, rec: JobRecord, tried: Tried) -> None:
    """Copy every file of the job's result, and their thumbnails, into `tried.objects`."""
    result = rec.result
    base = names.folder(str(result.get("job_id") or rec.ttapi_job_id), rec.finished_at_ts)
    meta = names.metadata(result, rec.job_id)
    objects: dict[str, Any] = {"image_url": None, "images": None, "videos": None}
    thumbs: list[str] = []
    for stem, url in media_urls(result):
        video = stem.startswith("video-")
        keep = None if video else spool()
        try:
            key_of = functools.partial(names.file_key, base, stem)
            copied = copy_file(storage, reader, url, key_of, meta, keep)
            tried.files, tried.bytes = tried.files + 1, tried.bytes + copied.size
            if stem == "main":
                objects["image_url"] = copied.key
            else:
                field_name = "videos" if video else "images"
                objects[field_name] = [*(objects[field_name] or []), copied.key]
            if keep is not None:
                _thumb(storage, names.thumb_key(base, stem), keep, meta, thumbs, tried)
        finally:
            if keep is not None:
                keep.close()
    start = rec.params.get("image")
    if is_video_kind(rec.kind) and isinstance(start, str) and start.startswith("http"):
        with spool() as keep:  # a video's thumbnail is its start image
            fetch_into(reader, start, keep)
            _thumb(storage, names.thumb_key(base, "video-1"), keep, meta, thumbs, tried)
    objects["thumbnails"] = thumbs
    objects["thumbnail"] = thumbs[0] if thumbs else None
    tried.objects = objects


def _thumb(
    storage: Storage,
    key: str,
    image: Any,
    meta: dict[str, str],
    thumbs: list[str],
    tried: Tried,
) -> None:
    try:
        tried.thumb_cpu_s += store_thumbnail(storage, key, image, meta)
    except ThumbnailError as exc:
        log.info("no thumbnail for %s (%s)", key, exc)
        return
    thumbs.append(key)
    tried.thumbs += 1


def _failed(rt: Runtime, rec: JobRecord, exc: CopyFailed, tried: Tried) -> Tried:
    """Count the failed try; give up (stored: null) when no retry can help or time is up."""
    pipe = rt.redis.pipeline(transaction=False)
    pipe.hincrby(rt.keys.job(rec.job_id), "store_attempts", 1)
    pipe.hset(rt.keys.job(rec.job_id), "last_storage_error", str(exc))
    count = int(pipe.execute()[0])
    waited = rt.clock() - storing.since(rec)
    left = rt.settings.mj_storage_retry_s - waited
    if exc.final or left <= 0:
        storing.give_up(rt, rec, str(exc))
        return tried
    log.warning("job %s: storing failed (try %d): %s; trying again", rec.job_id, count, exc)
    backoff = min(STORE_RETRY_MAX_S, STORE_RETRY_BASE_S * 2 ** min(count - 1, 16))
    tried.retry_in = min(backoff, left)
    return tried


__all__ = ["Tried", "attempt", "copy_job"]
