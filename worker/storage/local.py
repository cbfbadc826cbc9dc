"""`mj.download` of a stored result: the files are read through the store's client.

A stored result's links may lead where the download's address rule says no (a MinIO on a
private network) or may have expired (presigned); the store's client reaches the objects
with the worker's credentials instead. The files land where a download puts them,
`<directory>/<job_id>/main.png`, `1.png` .., `video-1.mp4` .., streamed, hashed and renamed
into place, and the result gains `files` and `download_dir` as from a download.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
from pathlib import Path, PurePosixPath
from typing import Any

import obstore
from obstore.exceptions import BaseError

from worker.jobs.download import ImageTooLarge, safe_job_id
from worker.storage.target import Storage
from worker.ttapi import errors


def stored_objects(result: dict[str, Any]) -> list[str]:
    """The object names of a stored result's files (not its thumbnails), in download order."""
    stored = result.get("stored")
    objects = stored.get("objects") if isinstance(stored, dict) else None
    if not isinstance(objects, dict):
        return []
    found = [objects.get("image_url"), *(objects.get("images") or [])]
    found += objects.get("videos") or []
    return [str(k) for k in found if k]


def download_stored(
    result: dict[str, Any], directory: Path, storage: Storage, *, max_bytes: int
) -> dict[str, Any]:
    """Copy a stored result's files from the store into `directory/<job_id>/`."""
    job_dir = Path(directory) / safe_job_id(result.get("job_id"))
    job_dir.mkdir(parents=True, exist_ok=True)
    files = []
    for key in stored_objects(result):
        path = job_dir / PurePosixPath(key).name
        try:
            digest, size = _fetch(storage, key, path, max_bytes)
        except (OSError, BaseError) as exc:
            first = str(exc).strip().splitlines()[0][:200] if str(exc).strip() else ""
            raise errors.ConnectError(f"download from the store: {first}") from None
        entry = {"url": storage.full_name(key), "path": str(path), "sha256": digest, "bytes": size}
        files.append(entry)
    return {**result, "files": files, "download_dir": str(job_dir)}


def _fetch(storage: Storage, key: str, path: Path, max_bytes: int) -> tuple[str, int]:
    digest, size = hashlib.sha256(), 0
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".part")
    try:
        with os.fdopen(fd, "wb") as out:
            for chunk in obstore.get(storage.store, key).stream():
                size += len(chunk)
                if size > max_bytes:
                    raise ImageTooLarge(f"{key}: over MJ_DOWNLOAD_MAX_BYTES")
                out.write(chunk)
                digest.update(chunk)
            out.flush()
            os.fsync(out.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return digest.hexdigest(), size


__all__ = ["download_stored", "stored_objects"]
