"""One simulated Midjourney job; its status is computed lazily from the clock, never stored."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

from worker.devtools.simulator.media import Media

PENDING = "PENDING_QUEUE"
ON_QUEUE = "ON_QUEUE"
SUCCESS = "SUCCESS"
FAILED = "FAILED"
STATUSES = (PENDING, ON_QUEUE, SUCCESS, FAILED)

#: Share of a job's duration spent in PENDING_QUEUE.
PENDING_SHARE = 0.1


@dataclass(eq=False)
class Job:
    """A job's fixed fate (times, outcome) plus counters; `key` is secret and kept out of repr."""

    job_id: str
    key: str = field(repr=False)
    label: str
    action: str
    mode: str
    prompt: str
    parent: str | None
    hook_url: str
    created_at: str
    submitted: float
    duration: float
    end: float
    failure: str | None
    components: list[str]
    seed: str | None
    width: int
    height: int
    quota: str
    requested: float = 0.0  # when the submit reached the simulator; `submitted` is its midpoint
    fetches: int = 0
    seen_end: float | None = None  # the first fetch that saw it ended: when a client can know
    hook_attempts: int = 0
    hook_delivered: bool = False
    in_stats: bool = True
    media: Media | None = None  # what a video or edit job was asked for (media.py)

    @property
    def start(self) -> float:
        """When the job leaves PENDING_QUEUE (never after its end)."""
        return min(self.submitted + PENDING_SHARE * self.duration, self.end)

    @property
    def stuck(self) -> bool:
        """A stuck job never ends (until `finish_stuck`)."""
        return math.isinf(self.end)

    def status(self, now: float) -> str:
        """The status at monotonic time `now`."""
        if now >= self.end:
            return FAILED if self.failure else SUCCESS
        return PENDING if now < self.start else ON_QUEUE

    def live(self, now: float) -> bool:
        """Whether the job still holds one of its account's in-progress places."""
        return now < self.end

    def progress(self, now: float) -> int:
        """Percent done: rises linearly over the ON_QUEUE phase, 100 only on SUCCESS."""
        status = self.status(now)
        if status == SUCCESS:
            return 100
        if status != ON_QUEUE:
            return 0
        span = max(self.duration * (1 - PENDING_SHARE), 1e-9)
        return max(0, min(99, int((now - self.start) / span * 100)))

    def fetch_body(self, now: float, base_url: str) -> dict[str, Any]:
        """The envelope `GET /fetch` returns for this job at `now`."""
        status = self.status(now)
        if status in (PENDING, FAILED):
            message = (self.failure or "") if status == FAILED else ""
            return {"status": status, "jobId": self.job_id, "message": message, "data": []}
        done = status == SUCCESS
        image = f"{base_url}/_sim/images/{self.job_id}/0.png"
        grid = [f"{base_url}/_sim/images/{self.job_id}/{n}.png" for n in range(1, 5)]
        data: dict[str, Any] = {
            "action": self.action,
            "jobId": self.job_id,
            "progress": str(self.progress(now)),
            "prompt": self.prompt,
            "quota": self.quota,
            "discordImage": image if done else None,
            "cdnImage": image if done else None,
            "width": self.width,
            "height": self.height,
            "hookUrl": self.hook_url,
            "components": list(self.components) if done else [],
            "seed": self.seed if done else None,
            "images": grid if done and self.action == "imagine" else None,
        }
        return {
            "status": status,
            "jobId": self.job_id,
            "message": "success" if done else "",
            "data": data,
        }

    def list_item(self, now: float, base_url: str) -> dict[str, Any]:
        """This job as one row of `GET /fetch-list`."""
        status = self.status(now)
        return {
            "job_id": self.job_id,
            "action": self.action,
            "prompt": self.prompt,
            "status": status,
            "progress": str(self.progress(now)),
            "cdn_image": f"{base_url}/_sim/images/{self.job_id}/0.png"
            if status == SUCCESS
            else None,
            "created_at": self.created_at,
        }


def hook_body(fetch_body: dict[str, Any]) -> dict[str, Any]:
    """The callback body: the fetch body, but `data.action` is spelled `actions` (TTAPI quirk)."""
    data = fetch_body.get("data")
    if not isinstance(data, dict):
        return dict(fetch_body)
    renamed = {("actions" if k == "action" else k): v for k, v in data.items()}
    return {**fetch_body, "data": renamed}
