"""The demo's final images, saved where the user can open them after the simulator is gone.

Each successful pipeline's final images (`image_url`, then `images`) are fetched from the
simulator (a loopback URL, so plain `requests`, not `mj.download`, whose rules keep private
addresses out) and written as `<out>/<line>-<TTAPI job id>[-n].png`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import requests

MAX_BYTES = 20 * 1024 * 1024


def image_urls(result: dict[str, Any]) -> list[str]:
    """The final images of a job result, `image_url` first, without repeats."""
    found = [result.get("image_url"), *(result.get("images") or [])]
    return list(dict.fromkeys(str(u) for u in found if u))


def save_images(entries: list[dict[str, Any]], out: Path) -> list[Path]:
    """Fetch every successful row's final images into `out`; the paths written, in order."""
    out.mkdir(parents=True, exist_ok=True)
    saved: list[Path] = []
    with requests.Session() as session:
        for entry in sorted(entries, key=lambda e: e["line"]):
            result = entry.get("result") or {}
            if entry.get("status") != "SUCCESS":
                continue
            urls = image_urls(result)
            for n, url in enumerate(urls):
                suffix = f"-{n}" if len(urls) > 1 else ""
                name = f"{entry['line']}-{result.get('job_id') or 'image'}{suffix}.png"
                saved.append(_fetch(session, url, out / name))
    return saved


def _fetch(session: requests.Session, url: str, path: Path) -> Path:
    with session.get(url, timeout=10, stream=True) as reply:
        reply.raise_for_status()
        data = reply.raw.read(MAX_BYTES + 1, decode_content=True)
    if len(data) > MAX_BYTES:
        raise OSError(f"image over {MAX_BYTES} bytes: {url}")
    partial = path.with_suffix(".part")
    partial.write_bytes(data)
    partial.replace(path)
    return path
