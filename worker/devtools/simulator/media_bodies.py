"""What a fetch (and a hook) answers for video and edit jobs; image jobs answer as jobs.py says.

Video jobs answer on VIDEO_FETCH_PATH (config.py) with TTAPI's v1 fetch shape plus the video
fields; their list of clip URLs is called `videos` unless the `video_list_key` knob says
`videoUrl` (a string for one clip, else a list), `images` or `cdnImages`. Edit jobs answer on
`/midjourney/image-edits/fetch` in the shape TTAPI documents there (`images` and `cdnImages`,
4 each, `submitTime`/`finishTime` in ISO-8601), plus `width`/`height` (a simulator extra).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from worker.devtools.simulator import media
from worker.devtools.simulator.jobs import FAILED, PENDING, SUCCESS, Job
from worker.devtools.simulator.media import VideoSpec

_CREATED = "%Y-%m-%dT%H:%M:%S.%fZ"
_ISO = "%Y-%m-%dT%H:%M:%SZ"


def fetch_body(
    job: Job, now: float, base_url: str, video_list_key: str = "videos"
) -> dict[str, Any]:
    """The fetch answer for any job at `now` (a hook sends the same, see jobs.hook_body)."""
    kind = media.family(job.action)
    if kind == "video":
        return video_body(job, now, base_url, video_list_key)
    if kind == "edit":
        return edit_body(job, now, base_url)
    return job.fetch_body(now, base_url)


def video_urls(job: Job, base_url: str) -> list[str]:
    """Where the clips of a video job download (one per clip of its `bs`)."""
    batch = job.media.batch if isinstance(job.media, VideoSpec) else 0
    return [f"{base_url}/_sim/videos/{job.job_id}/{n}.mp4" for n in range(batch)]


def edit_urls(job: Job, base_url: str, prefix: str = "") -> list[str]:
    """The 4 images of an edit job (`prefix` "cdn" for its `cdnImages`)."""
    return [f"{base_url}/_sim/images/{job.job_id}/{prefix}{n}.png" for n in range(1, 5)]


def video_body(job: Job, now: float, base_url: str, list_key: str) -> dict[str, Any]:
    """A video job's fetch answer: the v1 fetch shape with the clips and the video fields."""
    status = job.status(now)
    if status in (PENDING, FAILED):
        return _not_running(job, status)
    done = status == SUCCESS
    spec = job.media
    assert isinstance(spec, VideoSpec)
    urls = video_urls(job, base_url) if done else None
    data: dict[str, Any] = {
        "action": job.action,
        "jobId": job.job_id,
        "progress": str(job.progress(now)),
        "prompt": job.prompt,
        "quota": job.quota,
        "mode": job.mode,
        "hookUrl": job.hook_url,
        "imageUrl": spec.image_url,
        "endingUrl": spec.ending_url,
        "manual": spec.motion,
        "resolution": spec.resolution,
        "bs": spec.batch,
        list_key: _video_list(urls, list_key),
        "submitTime": submit_time(job),
        "finishTime": finish_time(job) if done else None,
    }
    if job.action == "video_extend":
        data.update(parentJobId=job.parent, index=spec.index, animateMode=spec.animate_mode)
    return {
        "status": status,
        "jobId": job.job_id,
        "message": "success" if done else "",
        "data": data,
    }


def edit_body(job: Job, now: float, base_url: str) -> dict[str, Any]:
    """An edit job's answer on `/midjourney/image-edits/fetch`."""
    status = job.status(now)
    if status in (PENDING, FAILED):
        return _not_running(job, status)
    done = status == SUCCESS
    data = {
        "jobId": job.job_id,
        "progress": str(job.progress(now)),
        "mode": job.mode,
        "prompt": job.prompt,
        "quota": job.quota,
        "images": edit_urls(job, base_url) if done else None,
        "cdnImages": edit_urls(job, base_url, "cdn") if done else None,
        "hookUrl": job.hook_url or None,
        "submitTime": submit_time(job),
        "finishTime": finish_time(job) if done else None,
        "width": job.width,
        "height": job.height,
    }
    return {"status": status, "message": "", "jobId": job.job_id, "data": data}


def submit_time(job: Job) -> str:
    """When the job was created, ISO-8601 UTC to the second."""
    return _created(job).strftime(_ISO)


def finish_time(job: Job) -> str:
    """When the job ended, ISO-8601 UTC to the second (its creation plus its life)."""
    return (_created(job) + timedelta(seconds=job.end - job.submitted)).strftime(_ISO)


def _created(job: Job) -> datetime:
    return datetime.strptime(job.created_at, _CREATED).replace(tzinfo=UTC)


def _not_running(job: Job, status: str) -> dict[str, Any]:
    """PENDING_QUEUE and FAILED answer as TTAPI's v1 fetch does: `data` is an empty list."""
    message = (job.failure or "") if status == FAILED else ""
    return {"status": status, "jobId": job.job_id, "message": message, "data": []}


def _video_list(urls: list[str] | None, key: str) -> str | list[str] | None:
    if key == "videoUrl" and urls is not None and len(urls) == 1:
        return urls[0]
    return urls
