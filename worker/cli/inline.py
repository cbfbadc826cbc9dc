"""An image argument of `mjw edit`: a URL or data URI as given, or a local file read inline."""

from __future__ import annotations

import base64
from pathlib import Path

from worker.cli.errors import UsageError

#: File suffixes TTAPI's edit takes, and their MIME types.
MIME = {
    ".png": "image/png",
    ".jpg": "image/jpeg",
    ".jpeg": "image/jpeg",
    ".bmp": "image/bmp",
    ".webp": "image/webp",
}


def image_argument(text: str) -> str:
    """`text` itself when it is a URL or data URI, else the file it names as a data URI."""
    if text.startswith(("http://", "https://", "data:")):
        return text
    path = Path(text).expanduser()
    mime = MIME.get(path.suffix.lower())
    if mime is None:
        allowed = ", ".join(MIME)
        raise UsageError(f"image: {text} is not a URL, a data URI or a {allowed} file")
    if not path.is_file():
        raise UsageError(f"image: file not found: {path}")
    return f"data:{mime};base64," + base64.b64encode(path.read_bytes()).decode()


__all__ = ["image_argument"]
