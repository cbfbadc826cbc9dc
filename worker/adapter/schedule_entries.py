"""The schedule file's entries, validated: what `MJ_SCHEDULE_FILE` may say, and where it is
wrong (`worker.adapter.schedules` turns the entries into beat entries)."""

from __future__ import annotations

import json
import re
import tomllib
from pathlib import Path
from typing import Any

from celery.schedules import crontab
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from config.problems import problems
from config.settings import ConfigError
from config.tenants import Priority, check_tenant_name
from worker.adapter.schedule_slots import aligned
from worker.jobs.steps import parse_steps
from worker.ttapi.errors import InvalidRequest
from worker.ttapi.requests import Mode

CRON_FIELDS = ("minute", "hour", "day_of_month", "month_of_year", "day_of_week")
_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400}
_DURATION = re.compile(r"^(?:\d+(?:\.\d+)?[smhd])+$")
_PART = re.compile(r"(\d+(?:\.\d+)?)([smhd])")


class ScheduleError(ConfigError):
    """The schedule file is unreadable or an entry is invalid; the message says where."""


def parse_cron(text: str) -> crontab:
    """A crontab from the 5 classic fields (ValueError names the field that is wrong)."""
    fields = text.split()
    if len(fields) != 5:
        raise ValueError(
            f"expected 5 fields (minute hour day-of-month month day-of-week), got {len(fields)}"
        )
    spec = dict(zip(CRON_FIELDS, fields, strict=True))
    for name, value in spec.items():
        try:  # one field at a time, so the message can say which one is wrong
            crontab(**{name: value})
        except ValueError as exc:
            raise ValueError(f"{name} {value!r}: {exc}") from None
    return crontab(**spec)  # also checks the fields together (e.g. 31 February)


def parse_every(value: Any) -> float:
    """Seconds from 90, 90.5, "90", "30s", "15m", "1h30m" or "2d" (ValueError otherwise)."""
    if isinstance(value, bool):
        raise ValueError("expected seconds or a duration like '30s', '15m', '1h'")
    text = value.strip().lower() if isinstance(value, str) else None
    if text is None and isinstance(value, int | float):
        seconds = float(value)
    elif text is not None and re.fullmatch(r"\d+(?:\.\d+)?", text):
        seconds = float(text)
    elif text is not None and _DURATION.match(text):
        seconds = sum(float(n) * _UNITS[u] for n, u in _PART.findall(text))
    else:
        raise ValueError(f"{value!r} is not seconds or a duration like '30s', '15m', '1h'")
    if not seconds > 0:
        raise ValueError("must be more than 0 seconds")
    return seconds


class ScheduleEntry(BaseModel):
    """One `[[schedule]]` entry, validated; unknown keys are refused (typos do not pass)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = Field(min_length=1, max_length=100)
    prompt: str = Field(min_length=1)
    cron: str | None = None
    every: float | None = None
    then: list[str] = Field(default_factory=list)
    mode: Mode = "fast"
    account: str | None = None
    download: str | None = Field(None, min_length=1)
    tenant: str | None = None  # who asks (MJ_TENANTS); default: the task's, "default"
    priority: Priority | None = None  # high | normal | low; default: normal

    @field_validator("cron")
    @classmethod
    def _cron(cls, value: str | None) -> str | None:
        if value is not None:
            parse_cron(value)
        return value

    @field_validator("every", mode="before")
    @classmethod
    def _every(cls, value: Any) -> float | None:
        return None if value is None else parse_every(value)

    @field_validator("then")
    @classmethod
    def _then(cls, value: list[str]) -> list[str]:
        # The command line's syntax (actions, video steps), checked in order at start-up.
        try:
            parse_steps(value)
        except InvalidRequest as exc:
            raise ValueError(str(exc).removeprefix("then: ")) from None
        return value

    @field_validator("tenant")
    @classmethod
    def _tenant(cls, value: str | None) -> str | None:
        return None if value is None else check_tenant_name(value)

    @field_validator("download")
    @classmethod
    def _download(cls, value: str | None) -> str | None:
        # The worker has the last word (it knows MJ_DOWNLOAD_DIR); what is wrong everywhere
        # is refused here already, so it stops start-up instead of failing every run.
        if value is not None and ".." in Path(value).parts:
            raise ValueError(f"{value!r} must not contain '..' (a sub-folder of MJ_DOWNLOAD_DIR)")
        if value is not None and "\x00" in value:
            raise ValueError("must not contain a NUL character")
        return value

    @model_validator(mode="after")
    def _one_timing(self) -> ScheduleEntry:
        if (self.cron is None) == (self.every is None):
            raise ValueError("give exactly one of 'cron' or 'every'")
        return self

    @property
    def schedule(self) -> crontab | aligned:
        """What Celery beat runs this entry on (`every`: at whole multiples since the epoch)."""
        if self.cron is not None:
            return parse_cron(self.cron)
        return aligned(float(self.every or 0))

    def run_kwargs(self) -> dict[str, Any]:
        """The keyword arguments of `mj.run_schedule` (all JSON)."""
        return {
            "name": self.name,
            "prompt": self.prompt,
            "then": list(self.then),
            "mode": self.mode,
            "account": self.account,
            "download": self.download,
            # only when set: a worker of the release before has no such arguments
            **{k: v for k, v in (("tenant", self.tenant), ("priority", self.priority)) if v},
        }


def read_file(path: Path) -> Any:
    """The parsed document (TOML or JSON by suffix); ScheduleError says what is wrong."""
    where = f"MJ_SCHEDULE_FILE {path}"
    suffix = path.suffix.lower()
    if suffix not in (".toml", ".json"):
        raise ScheduleError(f"{where}: expected a .toml or .json file")
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise ScheduleError(f"{where}: cannot read it ({exc.strerror or exc})") from None
    try:
        return tomllib.loads(raw.decode()) if suffix == ".toml" else json.loads(raw)
    except (tomllib.TOMLDecodeError, json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise ScheduleError(f"{where}: not valid {suffix[1:].upper()}: {exc}") from None


def parse_entries(doc: Any, where: str) -> list[ScheduleEntry]:
    """Validate a parsed document into entries (names unique)."""
    if isinstance(doc, list):
        doc = {"schedule": doc}
    if not isinstance(doc, dict):
        raise ScheduleError(f"{where}: expected a 'schedule' list of entries")
    if unknown := sorted(set(doc) - {"schedule"}):
        raise ScheduleError(
            f"{where}: unknown top-level key(s) {', '.join(unknown)} (entries go under 'schedule')"
        )
    items = doc.get("schedule", [])
    if not isinstance(items, list):
        raise ScheduleError(f"{where}: schedule: expected a list of entries ([[schedule]])")
    entries: list[ScheduleEntry] = []
    seen: dict[str, int] = {}
    for i, item in enumerate(items):
        label = _entry_label(i, item)
        if not isinstance(item, dict):
            raise ScheduleError(f"{where}: {label}: expected a table of fields")
        try:
            entry = ScheduleEntry.model_validate(item)
        except ValidationError as exc:
            raise ScheduleError(f"{where}: {label}: {_describe(exc)}") from None
        if entry.name in seen:
            raise ScheduleError(
                f"{where}: {label}: name: {entry.name!r} is already used by "
                f"schedule[{seen[entry.name]}]"
            )
        seen[entry.name] = i
        entries.append(entry)
    return entries


def _entry_label(index: int, item: Any) -> str:
    name = item.get("name") if isinstance(item, dict) else None
    return f"schedule[{index}] ({name})" if isinstance(name, str) and name else f"schedule[{index}]"


def _describe(exc: ValidationError) -> str:
    """Every problem of one entry as `field: rule`, joined by `; `."""
    parts = []
    for problem in problems(exc):
        loc = "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in problem.loc)
        msg = problem.message
        if problem.kind == "extra_forbidden":
            msg = "unknown field (allowed: " + ", ".join(ScheduleEntry.model_fields) + ")"
        elif problem.kind == "missing":
            msg = "required"
        parts.append(f"{loc.lstrip('.') or 'entry'}: {msg}")
    return "; ".join(parts)
