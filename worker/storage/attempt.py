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
import json
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from worker.jobs import storing
from worker.jobs.backoff import Retry
from worker.jobs.download import media_urls
from worker.jobs.effects import Effects
from worker.jobs.records import JobRecord
from worker.jobs.runtime import Runtime
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
    the CPU seconds its thumbnails took, and what follows its end (`effects`: the report of a
    held job)."""

    retry_in: float | None = None
    files: int = 0
    bytes: int = 0
    thumb_cpu_s: float = 0.0
    thumbs: int = 0
    objects: dict[str, Any] = field(default_factory=dict)
    effects: Effects = field(default_factory=list)


def attempt(rt: Runtime, storage: Storage, job_id: str, reader: Reader) -> Tried:
    """Try once to copy the files of `job_id`; end its copy, or say when to try again."""
    rec = rt.records.load(job_id)
    if rec is None or not storing.pending(rec):
        rt.redis.zrem(rt.keys.storing, job_id)
        return Tried()
    tried = Tried()

    def note(done: dict[str, str]) -> None:  # a later try, anyone's, skips what is stored
        rt.records.update(job_id, store_done=json.dumps(done, separators=(",", ":")))

    try:
        copy_job(storage, reader, rec, tried, note)
    except CopyFailed as exc:
        return _failed(rt, rec, exc, tried)
    finished, tried.effects = storing.finish(
        rt, rec, stored_doc(storage, tried.objects, rt.clock())
    )
    if finished:
        log.info(
            "job %s stored: %d files, %d bytes, %d thumbnails in %.1f ms of CPU",
            job_id,
            tried.files,
            tried.bytes,
            tried.thumbs,
            tried.thumb_cpu_s * 1000,
            extra={"job_id": job_id, "task_id": job_id},
        )
    return tried


def copy_job(
    storage: Storage,
    reader: Reader,
    rec: JobRecord,
    tried: Tried,
    note: Callable[[dict[str, str]], None] = lambda done: None,
) -> None:
    """Copy every file of the job's result, and their thumbnails, into `tried.objects`; what
    an earlier try stored (`store_done` in the record) is not copied again, and each file
    stored now is `note`d, so a store failing now and then still gets every file in the end."""
    result = rec.result
    base = names.folder(str(result.get("job_id") or rec.ttapi_job_id), rec.finished_at_ts)
    meta = names.metadata(result, rec.job_id)
    done: dict[str, str] = json.loads(rec.extra.get("store_done") or "{}")
    for stem, url in media_urls(result):
        if stem in done:
            continue
        keep = None if stem.startswith("video-") else spool()
        try:
            key_of = functools.partial(names.file_key, base, stem)
            copied = copy_file(storage, reader, url, key_of, meta, keep)
            tried.files, tried.bytes = tried.files + 1, tried.bytes + copied.size
            done[stem] = copied.key
            if keep is not None:
                _thumb(storage, names.thumb_key(base, stem), keep, meta, done, stem, tried)
            note(done)
        finally:
            if keep is not None:
                keep.close()
    start = rec.params.get("image")
    if is_video_kind(rec.kind) and isinstance(start, str) and "thumb:video-1" not in done:
        _start_thumb(storage, reader, start, base, meta, done, tried)
    tried.objects = _objects(done)


def _start_thumb(
    storage: Storage,
    reader: Reader,
    start: str,
    base: str,
    meta: dict[str, str],
    done: dict[str, str],
    tried: Tried,
) -> None:
    """A video's thumbnail: its start image, read (not stored) and shrunk; a start image that
    cannot be read for good (gone, refused) leaves the video without one, nothing worse."""
    if not start.startswith(("http://", "https://")):
        return
    with spool() as keep:
        try:
            fetch_into(reader, start, keep)
        except CopyFailed as exc:
            if not exc.final:
                raise
            log.info("no thumbnail from the start image (%s)", exc)
            return
        _thumb(storage, names.thumb_key(base, "video-1"), keep, meta, done, "video-1", tried)


def _objects(done: dict[str, str]) -> dict[str, Any]:
    """The stored files by result field (the shape of `stored`), from stem → object name."""
    files = {stem: key for stem, key in done.items() if not stem.startswith("thumb:")}
    images = [
        files[s]
        for s in sorted(files, key=_order)
        if s not in ("main",) and not s.startswith("video-")
    ]
    videos = [files[s] for s in sorted(files, key=_order) if s.startswith("video-")]
    thumbs = [done[s] for s in sorted(done, key=_order) if s.startswith("thumb:")]
    return {
        "image_url": files.get("main"),
        "images": images or None,
        "videos": videos or None,
        "thumbnail": thumbs[0] if thumbs else None,
        "thumbnails": thumbs,
    }


def _order(stem: str) -> tuple[int, int]:
    """main, 1..4, video-1.. (thumbnails in the same order)."""
    name = stem.removeprefix("thumb:")
    if name == "main":
        return (0, 0)
    if name.startswith("video-"):
        return (2, int(name.removeprefix("video-") or 0))
    return (1, int(name) if name.isdigit() else 0)


def _thumb(
    storage: Storage,
    key: str,
    image: Any,
    meta: dict[str, str],
    done: dict[str, str],
    stem: str,
    tried: Tried,
) -> None:
    try:
        tried.thumb_cpu_s += store_thumbnail(storage, key, image, meta)
    except ThumbnailError as exc:
        log.info("no thumbnail for %s (%s)", key, exc)
        return
    done[f"thumb:{stem}"] = key
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
        tried.effects = storing.give_up(rt, rec, str(exc))[1]
        return tried
    log.warning("job %s: storing failed (try %d): %s; trying again", rec.job_id, count, exc)
    tried.retry_in = min(rt.timing.backoff(Retry.STORE, count - 1), left)
    return tried


__all__ = ["Tried", "attempt", "copy_job"]
