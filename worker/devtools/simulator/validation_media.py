"""Parameter checks of the video and image-edit submits; a BadRequest names the parameter."""

from __future__ import annotations

import base64
import binascii
import re
import struct
from typing import Any
from urllib.parse import urlsplit

from worker.devtools.simulator import media
from worker.devtools.simulator.jobs import SUCCESS
from worker.devtools.simulator.media import EditSpec, VideoSpec
from worker.devtools.simulator.validation import (
    BadRequest,
    FindParent,
    JobSpec,
    optional_str,
    required_str,
)

_DATA_URI = re.compile(r"^data:image/([a-z]+);base64,(.*)$", re.IGNORECASE | re.DOTALL)
_AR = re.compile(r"--ar\s+(\d+)\s*:\s*(\d+)", re.IGNORECASE)
_IMAGE_RULE = "an image URL or base64 (png, jpg, jpeg, bmp, webp)"


def validate_media(endpoint: str, body: dict[str, Any], find: FindParent, now: float) -> JobSpec:
    """Check a video, extend or image-edits submit; the job to create, or BadRequest."""
    hook_url = optional_str(body, "hookUrl") or ""
    if endpoint == "video":
        prompt = required_str(body, "prompt")
        spec = VideoSpec(
            image_url=_public_url(body, "imageUrl", required=True) or "",
            ending_url=_public_url(body, "endingUrl", required=False),
            motion=_choice(body, "manual", media.MOTIONS, "low"),
            resolution=_choice(body, "resolution", media.RESOLUTIONS, "sd"),
            batch=_batch(body),
        )
        _video_mode(body)
        return JobSpec("video", prompt, "fast", None, hook_url, None, media=spec)
    if endpoint == "video-extend":
        return _extend(body, find, now, hook_url)
    if endpoint == "image-edits":
        prompt = required_str(body, "prompt")
        size = _edit_image(body.get("image"))
        kind = _choice(body, "type", media.EDIT_TYPES, "edit")
        mode = _choice(body, "mode", ("fast", "relax", "turbo"), "fast")
        ratio = media.nearest_ratio(*(size or _prompt_ratio(prompt)))
        return JobSpec(kind, prompt, mode, None, hook_url, None, media=EditSpec(kind, ratio))
    raise BadRequest(f"unknown endpoint {endpoint!r}")


def _extend(body: dict[str, Any], find: FindParent, now: float, hook_url: str) -> JobSpec:
    job_id = required_str(body, "jobId")
    parent = find(job_id)
    if parent is None:
        raise BadRequest(f"jobId: job {job_id} not found")
    if not isinstance(parent.media, VideoSpec):
        raise BadRequest(f"jobId: job {job_id} is not a video job")
    if (status := parent.status(now)) != SUCCESS:
        raise BadRequest(f"jobId: job {job_id} is {status}, not SUCCESS")
    index = _int_choice(body, "index", range(4), None, "an integer from 0 to 3")
    if index >= parent.media.batch:
        raise BadRequest(
            f"index: job {job_id} made {parent.media.batch} video(s), so index must be "
            f"below {parent.media.batch}"
        )
    spec = VideoSpec(
        image_url=parent.media.image_url,
        ending_url=None,
        motion=_choice(body, "manual", media.MOTIONS, "low"),
        resolution=parent.media.resolution,
        batch=_batch(body),
        animate_mode=_choice(body, "animateMode", media.ANIMATE_MODES, "auto"),
        index=index,
    )
    return JobSpec("video_extend", parent.prompt, "fast", parent, hook_url, None, media=spec)


def _choice(body: dict[str, Any], name: str, allowed: tuple[str, ...], default: str) -> str:
    value = body.get(name)
    if value is None or value == "":
        return default
    if value not in allowed:
        raise BadRequest(f"{name}: must be one of {', '.join(allowed)}")
    return str(value)


def _int_choice(
    body: dict[str, Any],
    name: str,
    allowed: range | tuple[int, ...],
    default: int | None,
    rule: str,
) -> int:
    """An integer field that TTAPI's own examples also send as a string (`"bs": "4"`)."""
    value = body.get(name)
    if value is None and default is not None:
        return default
    if isinstance(value, str) and value.strip().isdigit():
        value = int(value)
    if not isinstance(value, int) or isinstance(value, bool) or value not in allowed:
        raise BadRequest(
            f"{name}: required, {rule}" if value is None else f"{name}: must be {rule}"
        )
    return value


def _batch(body: dict[str, Any]) -> int:
    return _int_choice(body, "bs", media.BATCHES, 4, "1, 2 or 4")


def _video_mode(body: dict[str, Any]) -> None:
    name = "mode" if "mode" in body else "model"
    if body.get(name) not in (None, "", "fast"):
        raise BadRequest(f"{name}: only fast is supported for video")


def _public_url(body: dict[str, Any], name: str, *, required: bool) -> str | None:
    value = required_str(body, name) if required else optional_str(body, name)
    if not value:
        return None
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise BadRequest(f"{name}: must be a publicly accessible image URL (http or https)")
    return value


def _edit_image(value: Any) -> tuple[int, int] | None:
    """Check the edit's `image`; its pixel size when it can be read (a PNG), else None."""
    if not isinstance(value, str) or not value.strip():
        raise BadRequest(f"image: required, {_IMAGE_RULE}")
    if value.startswith(("http://", "https://")):
        path = urlsplit(value).path
        suffix = path.rsplit(".", 1)[-1].lower() if "." in path.rsplit("/", 1)[-1] else ""
        if suffix and suffix not in media.EDIT_FORMATS:
            raise BadRequest(f"image: .{suffix} is not allowed; {_IMAGE_RULE}")
        return None
    if match := _DATA_URI.match(value):
        if match.group(1).lower() not in media.EDIT_FORMATS:
            raise BadRequest(f"image: image/{match.group(1)} is not allowed; {_IMAGE_RULE}")
        value = match.group(2)
    try:
        raw = base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError):
        raise BadRequest(f"image: not a URL nor valid base64; {_IMAGE_RULE}") from None
    if not _known_format(raw):
        raise BadRequest(f"image: not a png, jpg, jpeg, bmp or webp image; {_IMAGE_RULE}")
    if raw.startswith(b"\x89PNG\r\n\x1a\n") and len(raw) >= 24:
        width, height = struct.unpack(">II", raw[16:24])
        return width, height
    return None


def _known_format(raw: bytes) -> bool:
    return raw.startswith((b"\x89PNG\r\n\x1a\n", b"\xff\xd8\xff", b"BM")) or (
        raw[:4] == b"RIFF" and raw[8:12] == b"WEBP"
    )


def _prompt_ratio(prompt: str) -> tuple[int, int]:
    """The `--ar` of the prompt, else square: the simulator cannot download URL images."""
    if match := _AR.search(prompt):
        return int(match.group(1)), int(match.group(2))
    return 1, 1
