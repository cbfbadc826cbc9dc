"""Batch files: what `mjw batch` reads, one runnable `Row` or one `BadRow` per line.

A batch file holds one prompt per line, or JSON lines with per-row options
(`{"prompt": ..., "then": [...], "mode": ..., "timeout": ..., "account": ...}`); blank lines and
`#` comments are skipped. A JSON line may start another kind of job with `kind`: `video`
(`image`, `end_image`, `motion`, `resolution`, `batch`) or `edit` (`image`, `type`, `mode`).
`then` holds follow-up steps as `worker.jobs.steps` reads them (`upsample2`, `video:high`, ...).
Each row has a `key`: its line number and a digest of what it asks for, so the journal
(`worker.cli.batch_journal`) never pairs an edited line with the results of what the line
said before. `mjw submit`, `mjw video` and `mjw edit` build their one row here too.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from config.tenants import PRIORITIES, TENANT_PATTERN
from worker.jobs.steps import parse_steps
from worker.ttapi.errors import InvalidRequest
from worker.ttapi.kinds import SPECS
from worker.ttapi.requests import MODES, validate

#: The options of each kind a row may start with, as a JSON line names them (`account`
#: besides): the kinds' specs say (`KindSpec.batch`).
OPTIONS: dict[str, tuple[str, ...]] = {
    name: spec.batch for name, spec in SPECS.items() if spec.batch is not None
}
#: Who asks, and how urgent: a row's own keys, or the command's --tenant / --priority.
CALLER_KEYS = ("tenant", "priority")
ROW_KEYS = {
    "prompt",
    "then",
    "account",
    "id",
    "kind",
    *CALLER_KEYS,
    *(k for o in OPTIONS.values() for k in o),
}


def content_key(line: int, content: Any) -> str:
    """`<line>:<digest of content>`: a changed row is a new row, even on the same line."""
    text = json.dumps(content, sort_keys=True, separators=(",", ":"), default=str)
    return f"{line}:{hashlib.sha256(text.encode()).hexdigest()[:16]}"


@dataclass(frozen=True)
class Row:
    """One pipeline of a batch: line number, prompt, follow-up steps, options, and the kind of
    its first job (imagine unless a JSON line says `kind`)."""

    line: int
    prompt: str
    then: list[str] = field(default_factory=list)
    options: dict[str, Any] = field(default_factory=dict)
    row_id: str | None = None
    kind: str = "imagine"
    # Not part of the key: who asks changes nothing TTAPI is sent (a journal of the release
    # before, which had no callers, still matches its rows).
    caller: dict[str, str] = field(default_factory=dict)

    @property
    def key(self) -> str:
        """The journal key: the line and everything that decides what is sent to TTAPI."""
        content: dict[str, Any] = {"prompt": self.prompt, "then": self.then}
        content["options"] = self.options
        if self.kind != "imagine":  # imagine rows keep the keys of earlier journals
            content["kind"] = self.kind
        return content_key(self.line, content)

    @property
    def first(self) -> dict[str, Any]:
        """The first task's keyword arguments."""
        return {"prompt": self.prompt, **self.options, **self.caller}

    @property
    def text(self) -> str:
        """What legacy journals (keyed by line only) are compared with."""
        return self.prompt


@dataclass(frozen=True)
class BadRow:
    """A line that cannot run, with the reason (reported, never sent)."""

    line: int
    text: str
    error: str

    @property
    def key(self) -> str:
        """The journal key: the line and its text."""
        return content_key(self.line, {"bad": self.text})


def unknown_actions(actions: Iterable[str], first: str | None = None) -> str | None:
    """None when every step is valid (and, given `first`, each follows what the step before it
    made), else what is wrong and what is allowed; checked before anything is sent."""
    try:
        parse_steps(actions, first)
    except InvalidRequest as exc:
        return str(exc)
    return None


def parse_line(
    line_no: int,
    text: str,
    *,
    then: list[str],
    mode: str | None,
    caller: dict[str, str] | None = None,
) -> Row | BadRow:
    """One line of a batch file as a Row, or a BadRow that says why not."""
    raw = text.strip()
    if not raw.startswith("{"):
        return make_row(line_no, raw, {"prompt": raw}, then=then, mode=mode, caller=caller)
    try:
        data = json.loads(raw)
    except json.JSONDecodeError as exc:
        return BadRow(line_no, raw, f"line {line_no}: not valid JSON ({exc.msg})")
    if not isinstance(data, dict):
        return BadRow(line_no, raw, f"line {line_no}: a JSON line must be an object")
    return make_row(line_no, raw, data, then=then, mode=mode, caller=caller)


def make_row(
    line_no: int,
    raw: str,
    data: dict[str, Any],
    *,
    then: list[str],
    mode: str | None,
    caller: dict[str, str] | None = None,
) -> Row | BadRow:
    """A row from its fields (a JSON line's, or a command's), checked as the workers would."""

    def bad(error: str) -> BadRow:
        return BadRow(line_no, raw, f"line {line_no}: {error}")

    kind = data.get("kind", "imagine")
    if kind not in OPTIONS:
        return bad(f"kind: must be one of {', '.join(OPTIONS)}")
    unknown = sorted(set(data) - ROW_KEYS)
    if unknown:
        return bad(f"unknown keys {unknown} (allowed: {sorted(ROW_KEYS)})")
    misplaced = sorted(k for k in set(data) & ROW_KEYS if _option_of_other_kind(k, kind))
    if misplaced:
        allowed = sorted({"prompt", "then", "account", "id", "kind", *OPTIONS[kind]})
        return bad(f"keys {misplaced} are not options of {kind} rows (allowed: {allowed})")
    prompt = data.get("prompt")
    if not isinstance(prompt, str):
        return bad("prompt: a string is required")
    row_then = list(then)
    if "then" in data:
        if not isinstance(data["then"], list):
            return bad("then: must be a list of steps")
        row_then = [str(a) for a in data["then"]]
    keys = (*OPTIONS[kind], "account")
    options = {k: data[k] for k in keys if data.get(k) is not None}
    if mode and "mode" not in options and "mode" in OPTIONS[kind]:
        options["mode"] = mode
    try:
        fields = {k: v for k, v in options.items() if k != "account"}
        validate(SPECS[kind].request, prompt=prompt, **fields)
    except InvalidRequest as exc:
        return bad(str(exc))
    problem = unknown_actions(row_then, kind)
    if problem:
        return bad(problem)
    who = {**(caller or {}), **{k: data[k] for k in CALLER_KEYS if data.get(k) is not None}}
    problem = caller_problem(who)
    if problem:
        return bad(problem)
    row_id = str(data["id"]) if data.get("id") is not None else None
    return Row(line_no, prompt.strip(), row_then, options, row_id, kind, who)


def caller_problem(who: dict[str, Any]) -> str | None:
    """None when `tenant` and `priority` (either may be absent) are well-formed."""
    tenant, priority = who.get("tenant"), who.get("priority")
    if tenant is not None and not (isinstance(tenant, str) and TENANT_PATTERN.match(tenant)):
        return f"tenant: {tenant!r} is not a tenant name (1-64 of A-Z a-z 0-9 _ . -)"
    if priority is not None and priority not in PRIORITIES:
        return f"priority: must be one of {', '.join(PRIORITIES)} (got {priority!r})"
    return None


def _option_of_other_kind(key: str, kind: str) -> bool:
    return key not in OPTIONS[kind] and any(key in opts for opts in OPTIONS.values())


def read_batch(
    path: Path, *, then: list[str], mode: str | None = None, caller: dict[str, str] | None = None
) -> list[Row | BadRow]:
    """Every runnable or bad line of a batch file, in file order; `caller` (tenant, priority)
    applies to every row that does not name its own."""
    if mode is not None and mode not in MODES:
        raise InvalidRequest(f"--mode: must be one of {', '.join(MODES)}")
    rows: list[Row | BadRow] = []
    for number, text in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if text.strip() and not text.lstrip().startswith("#"):
            rows.append(parse_line(number, text, then=then, mode=mode, caller=caller))
    return rows
