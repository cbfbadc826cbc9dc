"""Settings of the TTAPI simulator: the fixed `SimConfig` and the runtime-tunable `Faults`."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any

#: The v1 submits, under `/midjourney/v1/`.
IMAGE_SUBMITS = ("imagine", "action", "seed", "blend", "describe", "inpaint")
#: The video and image-edit submits (`/midjourney/video/submit`, `.../video/extend`,
#: `/midjourney/image-edits/submit`).
MEDIA_SUBMITS = ("video", "video-extend", "image-edits")
#: The endpoints that create a job.
SUBMIT_PATHS = IMAGE_SUBMITS + MEDIA_SUBMITS
#: Endpoint names the random faults can be limited to (`Faults.fault_paths`).
FAULT_PATHS = (*SUBMIT_PATHS, "fetch", "image-edits-fetch", "info", "fetch-list")
#: Where video jobs are fetched. No TTAPI page names it (docs/ttapi-video-edits.md); the
#: decision is the v1 fetch. Change it here only: the routes follow.
FETCH_PATH = "/midjourney/v1/fetch"
VIDEO_FETCH_PATH = FETCH_PATH
#: `Faults.submit_id_key`: how a submit's answer spells the new job's id. `auto` is what
#: TTAPI's pages show: `job_id` for action, video, extend and image-edits, else `jobId`.
SUBMIT_ID_KEYS = ("auto", "jobId", "job_id")
#: `Faults.video_list_key`: the name of a video job's list of clips in its fetch answer.
VIDEO_LIST_KEYS = ("videos", "videoUrl", "images", "cdnImages")

_SPELLINGS = {"submit_id_key": SUBMIT_ID_KEYS, "video_list_key": VIDEO_LIST_KEYS}
#: Fields of Faults that are seconds >= 0.
_SECONDS = ("slow_s", "latency_submit_s", "latency_fetch_s", "hold_submit_s")
_RATES = (
    "rate_429",
    "rate_500",
    "rate_html_502",
    "rate_truncated",
    "rate_504_after_create",
    "rate_502_after_create",
    "rate_500_after_create",
    "rate_reset_after_create",
    "drop_callback_rate",
    "rate_hold_submit",
)


@dataclass
class Faults:
    """Injected misbehaviour, all off by default; rates are probabilities per request."""

    rate_429: float = 0.0
    rate_500: float = 0.0
    rate_html_502: float = 0.0
    rate_truncated: float = 0.0
    rate_504_after_create: float = 0.0
    #: A proxy's HTML 502 page, and TTAPI's own JSON 500, after the job was created.
    rate_502_after_create: float = 0.0
    rate_500_after_create: float = 0.0
    rate_reset_after_create: float = 0.0
    slow_s: float = 0.0
    #: Network round trip of a submit / of every other API request (the fetches, fetch-list,
    #: info).
    #: TTAPI acts at its midpoint: a submit creates the job, a fetch reads the job's state.
    latency_submit_s: float = 0.0
    latency_fetch_s: float = 0.0
    #: Each round trip is drawn uniformly within +/- this fraction of its base (0..1).
    latency_jitter: float = 0.0
    drop_callback_rate: float = 0.0
    fault_paths: list[str] = field(default_factory=list)
    #: Endpoints that always answer 500 (an outage of one endpoint), whatever `fault_paths` says.
    fail_paths: list[str] = field(default_factory=list)
    stuck_words: list[str] = field(default_factory=lambda: ["stuck"])
    #: Spellings of answers a tolerant client must read (SUBMIT_ID_KEYS, VIDEO_LIST_KEYS).
    submit_id_key: str = "auto"
    video_list_key: str = "videos"
    other_client: dict[str, int] = field(default_factory=dict)
    #: TTAPI's wall clock minus the true time, in seconds (negative: behind). It dates what
    #: TTAPI dates: a job's `created_at` in the history, and every answer's `Date` header.
    clock_offset_s: float = 0.0
    #: A share of the submits (`rate_hold_submit`, within `fault_paths`) whose answer waits
    #: `hold_submit_s` after TTAPI acted (the job exists): a POST that outlives the client's
    #: deadline. `slow_s` slows every endpoint; this only the submits it picks.
    rate_hold_submit: float = 0.0
    hold_submit_s: float = 0.0

    def applies_to(self, endpoint: str) -> bool:
        """Whether the random faults may hit `endpoint` (an empty `fault_paths` means all)."""
        return not self.fault_paths or endpoint in self.fault_paths

    def updated(self, **changes: Any) -> Faults:
        """A copy with `changes` applied; ValueError names the first bad field."""
        names = {f.name for f in dataclasses.fields(self)}
        clean: dict[str, Any] = {}
        for name, value in changes.items():
            if name not in names:
                raise ValueError(f"unknown fault {name!r} (known: {', '.join(sorted(names))})")
            clean[name] = _check(name, value)
        return dataclasses.replace(self, **clean)

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready copy (other_client is keyed by account label, never by key)."""
        return dataclasses.asdict(self)


def _check(name: str, value: Any) -> Any:
    """Validate one Faults field value, returning it in its canonical type."""
    if name in _RATES:
        if not _is_number(value) or not 0.0 <= float(value) <= 1.0:
            raise ValueError(f"{name} must be a probability between 0 and 1")
        return float(value)
    if name in _SECONDS:
        if not _is_number(value) or float(value) < 0:
            raise ValueError(f"{name} must be a number of seconds >= 0")
        return float(value)
    if name == "clock_offset_s":
        if not _is_number(value) or abs(float(value)) > 86400:
            raise ValueError("clock_offset_s must be a number of seconds within a day")
        return float(value)
    if name == "latency_jitter":
        if not _is_number(value) or not 0.0 <= float(value) <= 1.0:
            raise ValueError("latency_jitter must be a fraction between 0 and 1")
        return float(value)
    if name in _SPELLINGS:
        if value not in _SPELLINGS[name]:
            raise ValueError(f"{name} must be one of {', '.join(_SPELLINGS[name])}")
        return str(value)
    if name == "other_client":
        if not isinstance(value, dict) or not all(
            isinstance(k, str) and isinstance(v, int) and not isinstance(v, bool) and v >= 0
            for k, v in value.items()
        ):
            raise ValueError("other_client must map account labels to slot counts >= 0")
        return dict(value)
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise ValueError(f"{name} must be a list of strings")
    bad = [p for p in value if p not in FAULT_PATHS]
    if name in ("fault_paths", "fail_paths") and bad:
        raise ValueError(f"{name}: unknown endpoint(s) {bad} (known: {list(FAULT_PATHS)})")
    return list(value)


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


@dataclass
class SimConfig:
    """How the simulator is built; `keys` are secrets and stay out of repr."""

    keys: list[str] = field(repr=False)
    host: str = "127.0.0.1"
    port: int = 0
    capacity: int = 10
    fast_s: float = 60.0
    jitter: float = 0.0
    rate_per_s: float = 200.0
    burst: int = 400
    retry_after_header: bool = False
    balance: float = 1e9
    hook_retry_delay_s: float = 0.2
    seed: int = 0
    faults: Faults = field(default_factory=Faults)
    #: A video clip's size in bytes at the CDN (0: a few hundred); a real one is a few MB.
    clip_bytes: int = 0
    #: The side of an image at the CDN in pixels (Midjourney's are 1024, a grid 2048).
    image_px: int = 32

    @property
    def time_scale(self) -> float:
        """Factor applied to TTAPI's real-time `timeout` values (a fast job takes 60 s at 1.0)."""
        return self.fast_s / 60.0
