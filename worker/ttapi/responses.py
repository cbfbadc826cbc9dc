"""Response models that absorb every documented TTAPI quirk.

`data` may be an object, `null`, `{}`, `[]` or missing; a job id is `jobId` or `job_id`;
`progress` is a string; the hook callback says `actions` where fetch says `action`; `images`
and `seed` may be null (or `""`); unknown fields are kept, never refused.
"""

from __future__ import annotations

from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

from pydantic import AliasChoices, BaseModel, ConfigDict, Field, field_validator


class JobStatus(StrEnum):
    """A job's status as TTAPI reports it (fetch, callbacks, and an envelope's own `status`);
    a job result's `status` is the finished job's."""

    PENDING_QUEUE = "PENDING_QUEUE"
    ON_QUEUE = "ON_QUEUE"
    SUCCESS = "SUCCESS"
    FAILED = "FAILED"


FINISHED = (JobStatus.SUCCESS, JobStatus.FAILED)


class Envelope(BaseModel):
    """TTAPI's outer shape: `status`, `message`, `data`, and on fetch a top-level `jobId`."""

    model_config = ConfigDict(extra="allow")
    status: str = ""
    message: str | None = ""
    data: Any = None
    job_id: str | None = Field(None, validation_alias=AliasChoices("jobId", "job_id"))

    @property
    def data_dict(self) -> dict[str, Any]:
        """`data` when it is an object; `{}` for null, `[]`, missing or anything else."""
        return self.data if isinstance(self.data, dict) else {}


class SubmitResult(BaseModel):
    """What a submit endpoint returns: the new job's id."""

    model_config = ConfigDict(extra="allow")
    job_id: str = Field(validation_alias=AliasChoices("jobId", "job_id", "jobid", "Jobid"))
    # TTAPI's clock as it answered (the answer's `Date`, epoch seconds), set by the client:
    # how far TTAPI's clock is from ours, which dates the jobs in its history.
    answered_at: float | None = Field(None, exclude=True)


def _progress(value: Any) -> int:
    if value is None or value == "":
        return 0
    try:
        return max(0, min(100, int(float(str(value).strip().rstrip("%")))))
    except ValueError:
        return 0


def _urls(value: Any) -> list[str] | None:
    """A list of URLs from a list, or from one URL alone (`videoUrl` of a single clip)."""
    if isinstance(value, str):
        return [value] if value.strip() else None
    if isinstance(value, list):
        return [str(v) for v in value if v] or None
    return None


def _when(value: Any) -> datetime | None:
    """A time in any of TTAPI's spellings (ISO-8601, epoch s or ms) as aware UTC; else None."""
    if value in (None, ""):
        return None
    if isinstance(value, int | float) and not isinstance(value, bool):
        seconds = value / 1000 if value > 1e11 else value
        return datetime.fromtimestamp(seconds, UTC)
    try:
        when = datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    except ValueError:
        return None
    return when if when.tzinfo else when.replace(tzinfo=UTC)


class JobInfo(BaseModel):
    """One job as fetch (or the hook callback) describes it, quirks absorbed.

    Video jobs list their clips in `videos` (also spelled `videoUrl`, a string for one clip);
    edit jobs list their images in `images` and `cdnImages`, and give `submitTime` and
    `finishTime`. Which list holds a job's output is the job layer's call (it knows the kind).
    """

    model_config = ConfigDict(extra="allow", populate_by_name=True)
    job_id: str = ""
    status: str = JobStatus.PENDING_QUEUE
    message: str = ""
    action: str | None = Field(None, validation_alias=AliasChoices("action", "actions"))
    progress: int = 0
    prompt: str | None = None
    quota: str | None = None
    discord_image: str | None = Field(None, validation_alias="discordImage")
    cdn_image: str | None = Field(None, validation_alias="cdnImage")
    width: int | None = None
    height: int | None = None
    hook_url: str | None = Field(None, validation_alias="hookUrl")
    components: list[str] = Field(default_factory=list)
    seed: str | None = None
    images: list[str] | None = None
    cdn_images: list[str] | None = Field(None, validation_alias="cdnImages")
    videos: list[str] | None = Field(
        None, validation_alias=AliasChoices("videos", "videoUrl", "videoUrls", "video_url")
    )
    submit_time: datetime | None = Field(
        None, validation_alias=AliasChoices("submitTime", "submit_time")
    )
    finish_time: datetime | None = Field(
        None, validation_alias=AliasChoices("finishTime", "finish_time")
    )

    @field_validator("progress", mode="before")
    @classmethod
    def _parse_progress(cls, value: Any) -> int:
        return _progress(value)

    @field_validator("cdn_images", "videos", mode="before")
    @classmethod
    def _url_list(cls, value: Any) -> list[str] | None:
        return _urls(value)

    @field_validator("submit_time", "finish_time", mode="before")
    @classmethod
    def _time(cls, value: Any) -> datetime | None:
        return _when(value)

    @field_validator("components", mode="before")
    @classmethod
    def _components(cls, value: Any) -> list[str]:
        return [str(v) for v in value] if isinstance(value, list) else []

    @field_validator("seed", "quota", mode="before")
    @classmethod
    def _optional_text(cls, value: Any) -> str | None:
        return None if value is None or value == "" else str(value)

    @field_validator("images", mode="before")
    @classmethod
    def _images(cls, value: Any) -> list[str] | None:
        return [str(v) for v in value] if isinstance(value, list) and value else None

    @field_validator("width", "height", mode="before")
    @classmethod
    def _int_or_none(cls, value: Any) -> int | None:
        try:
            return int(value) if value not in (None, "") else None
        except (TypeError, ValueError):
            return None

    @property
    def finished(self) -> bool:
        """True once TTAPI will not change this job any more (SUCCESS or FAILED)."""
        return self.status in FINISHED

    @classmethod
    def from_envelope(cls, env: Envelope, job_id: str = "") -> JobInfo:
        """Merge the envelope (status, message, jobId) with whatever `data` holds."""
        data = dict(env.data_dict)
        data.pop("status", None)
        data.pop("message", None)
        jid = env.job_id or data.pop("jobId", None) or data.pop("job_id", None) or job_id
        data.pop("jobId", None)
        data.pop("job_id", None)
        return cls.model_validate(
            {
                **data,
                "job_id": jid,
                "status": env.status or JobStatus.PENDING_QUEUE,
                "message": env.message or "",
            }
        )


class AccountInfo(BaseModel):
    """GET /info: the account's balance and its real in-progress cap (`max_queue`)."""

    model_config = ConfigDict(extra="allow")
    balance: float | None = None
    freeze_balance: float | None = None
    max_queue: int | None = None

    @field_validator("balance", "freeze_balance", mode="before")
    @classmethod
    def _number(cls, value: Any) -> float | None:
        try:
            return float(value) if value not in (None, "") else None
        except (TypeError, ValueError):
            return None

    @field_validator("max_queue", mode="before")
    @classmethod
    def _cap(cls, value: Any) -> int | None:
        try:
            cap = int(value) if value not in (None, "") else None
        except (TypeError, ValueError):
            return None
        return cap if cap is not None and cap > 0 else None


class JobListItem(BaseModel):
    """One row of GET /fetch-list, the history used to find a job whose submit answer was lost."""

    model_config = ConfigDict(extra="allow")
    job_id: str = Field(validation_alias=AliasChoices("job_id", "jobId"))
    action: str | None = Field(None, validation_alias=AliasChoices("action", "actions"))
    prompt: str | None = None
    status: str | None = None
    progress: int = 0
    cdn_image: str | None = Field(None, validation_alias=AliasChoices("cdn_image", "cdnImage"))
    created_at: datetime | None = Field(
        None, validation_alias=AliasChoices("created_at", "createdAt", "create_time", "created")
    )

    @field_validator("progress", mode="before")
    @classmethod
    def _parse_progress(cls, value: Any) -> int:
        return _progress(value)

    @field_validator("created_at", mode="before")
    @classmethod
    def _when(cls, value: Any) -> datetime | None:
        return _when(value)


def list_rows(data: Any) -> list[dict[str, Any]]:
    """The rows of a fetch-list `data`, whether a bare list or an object holding one."""
    if isinstance(data, list):
        return [r for r in data if isinstance(r, dict)]
    if isinstance(data, dict):
        for key in ("list", "records", "items", "rows", "data"):
            if isinstance(data.get(key), list):
                return [r for r in data[key] if isinstance(r, dict)]
    return []
