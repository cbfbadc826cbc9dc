"""The demo's final images and clips, saved where the user can open them after the simulator
is gone.

Each successful pipeline's final files (`image_url`, then `images`, then `videos`) are fetched
from the simulator (a loopback URL, so plain `requests` in the demo's own process, not
`mj.download`, whose rules keep private addresses out: the demo's workers need no
MJ_DOWNLOAD_ALLOW_PRIVATE) and written as `<out>/<line>-<TTAPI job id>[-n].png` (`.mp4`).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import requests

MAX_BYTES = 20 * 1024 * 1024


def image_urls(result: dict[str, Any]) -> list[str]:
    """The final files of a job result, `image_url` first, then images and videos, once each."""
    found = [result.get("image_url"), *(result.get("images") or [])]
    found += result.get("videos") or []
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
                kind = ".mp4" if url.lower().split("?")[0].endswith(".mp4") else ".png"
                name = f"{entry['line']}-{result.get('job_id') or 'image'}{suffix}{kind}"
                saved.append(_fetch(session, url, out / name))
    return saved


def _fetch(session: requests.Session, url: str, path: Path) -> Path:
    with session.get(url, timeout=10, stream=True) as reply:
        reply.raise_for_status()
        data = reply.raw.read(MAX_BYTES + 1, decode_content=True)
    if len(data) > MAX_BYTES:
        raise OSError(f"file over {MAX_BYTES} bytes: {url}")
    partial = path.with_suffix(".part")
    partial.write_bytes(data)
    partial.replace(path)
    return path
