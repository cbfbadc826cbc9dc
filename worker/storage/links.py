"""Links to stored objects: public, presigned, or a path; and re-signing when read through us.

- With MJ_STORAGE_PUBLIC_URL (the public address of the bucket's root, e.g. an R2 public
  bucket or a CDN in front of it): `<public url>/<prefix>/<yyyy>/...`; they never expire.
- Otherwise presigned GET links (SigV4 for S3, and GCS's and Azure's own) valid for
  MJ_STORAGE_LINK_TTL_S, at most 7 days (SigV4's limit; less with temporary credentials,
  which expire sooner). A result read through us (`mjw show`, the operator page, the HTTP API)
  is re-signed then (`fresh`): its `stored` keeps the object names (`objects`) for that.
- A file:// store gives absolute paths on the machine that wrote them (the demo's
  `./mj-demo/`): fine for one machine, meaningless to a service elsewhere.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any
from urllib.parse import quote

from obstore import sign

from config.settings import Settings
from worker.policy import SIGV4_MAX_S
from worker.storage.target import Storage, storage_for

LINK_FIELDS = ("image_url", "images", "videos", "thumbnail", "thumbnails")


def link(storage: Storage, key: str) -> str:
    """How a caller reaches object `key` (relative to the store's prefix)."""
    whole = storage.full_name(key)
    if storage.local:
        return whole
    if storage.public_url:
        return f"{storage.public_url}/{quote(whole)}"
    ttl = min(storage.link_ttl_s, SIGV4_MAX_S)
    return str(sign(storage.store, "GET", key, timedelta(seconds=ttl)))


def stored_doc(storage: Storage, objects: dict[str, Any], now: float) -> dict[str, Any]:
    """The result's `stored`: links for the object names in `objects` (same shape), the names
    themselves, and when presigned links stop working."""
    doc: dict[str, Any] = {}
    for name in LINK_FIELDS:
        value = objects.get(name)
        if isinstance(value, list):
            doc[name] = [link(storage, k) for k in value]
        else:
            doc[name] = link(storage, value) if value else None
    doc["objects"] = objects
    presigned = not storage.local and not storage.public_url
    doc["links_expire_at"] = (
        now + min(storage.link_ttl_s, SIGV4_MAX_S) if presigned and objects else None
    )
    return doc


def fresh(result: dict[str, Any] | None, settings: Settings, now: float) -> dict[str, Any] | None:
    """`result` with its `stored` links made anew (presigned ones re-signed for a full TTL);
    the result as it is when it has no stored objects or storage is off."""
    if not result or not isinstance(result.get("stored"), dict):
        return result
    objects = result["stored"].get("objects")
    storage = storage_for(settings)
    if storage is None or not isinstance(objects, dict):
        return result
    return {**result, "stored": stored_doc(storage, objects, now)}


__all__ = ["LINK_FIELDS", "fresh", "link", "stored_doc"]
