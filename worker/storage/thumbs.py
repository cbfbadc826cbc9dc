"""A small WebP of an image, for the operator page and a result's `stored.thumbnail`.

Pillow decodes the image (it reads only what it needs when it can: `draft` lets JPEG decode
at a reduced scale), shrinks it to THUMB_PX on its longest side and encodes WebP. The CPU this
takes is measured apart from the engine's own cost per job (`thumbnail` returns it): it grows
with the image, not with the job's life.
"""

from __future__ import annotations

import io
import time
from typing import IO

from PIL import Image, ImageOps

from worker.policy import THUMB_PX, THUMB_QUALITY


class ThumbnailError(ValueError):
    """The file is no image Pillow can read (the copy goes on without a thumbnail)."""


def thumbnail(source: IO[bytes]) -> tuple[bytes, float]:
    """The WebP thumbnail of the image in `source`, and the CPU seconds it took (this thread)."""
    started = time.thread_time()
    try:
        with Image.open(source) as image:
            image.draft("RGB", (THUMB_PX, THUMB_PX))
            small = ImageOps.exif_transpose(image) or image
            small.thumbnail((THUMB_PX, THUMB_PX))
            if small.mode not in ("RGB", "RGBA"):
                small = small.convert("RGBA" if "A" in small.getbands() else "RGB")
            out = io.BytesIO()
            small.save(out, "WEBP", quality=THUMB_QUALITY, method=4)
    except (OSError, ValueError, Image.DecompressionBombError) as exc:
        raise ThumbnailError(f"no thumbnail: {type(exc).__name__}") from None
    return out.getvalue(), time.thread_time() - started


__all__ = ["ThumbnailError", "thumbnail"]
