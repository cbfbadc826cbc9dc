"""The demo's final images and clips, where the user can open them after the simulator is gone.

The demo's workers store them in `./mj-demo/` (a file:// result store): `stored_paths` lists
them. A result the store missed (`stored: null`) is fetched here instead: its final files
(`image_url`, then `images`, then `videos`) are fetched from the simulator (a loopback URL,
plain `requests` in the demo's own process) and written as
`<out>/<line>-<TTAPI job id>[-n].png` (`.mp4`).
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


def stored_paths(entries: list[dict[str, Any]]) -> tuple[list[Path], list[dict[str, Any]]]:
    """The stored files of every successful row (paths in a file:// store), and the rows whose
    result was not stored."""
    paths: list[Path] = []
    unstored: list[dict[str, Any]] = []
    for entry in sorted(entries, key=lambda e: e["line"]):
        if entry.get("status") != "SUCCESS":
            continue
        stored = (entry.get("result") or {}).get("stored")
        if not isinstance(stored, dict):
            unstored.append(entry)
            continue
        found = [stored.get("image_url"), *(stored.get("images") or [])]
        found += stored.get("videos") or []
        paths += [Path(p) for p in dict.fromkeys(str(f) for f in found if f)]
    return paths, unstored


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
