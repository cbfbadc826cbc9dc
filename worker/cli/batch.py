"""Batch files: what `mjw batch` reads, one runnable `Row` or one `BadRow` per line.

A batch file holds one prompt per line, or JSON lines with per-row options
(`{"prompt": ..., "then": [...], "mode": ..., "timeout": ..., "account": ...}`); blank lines and
`#` comments are skipped. Each row has a `key`: its line number and a digest of what it asks
for, so the journal (`worker.cli.batch_journal`) never pairs an edited line with the results of
what the line said before.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from worker.ttapi.errors import InvalidRequest
from worker.ttapi.requests import ACTIONS, MODES, ImagineRequest, validate

ROW_KEYS = {"prompt", "then", "mode", "timeout", "account", "id"}


def content_key(line: int, content: Any) -> str:
    """`<line>:<digest of content>`: a changed row is a new row, even on the same line."""
    text = json.dumps(content, sort_keys=True, separators=(",", ":"), default=str)
    return f"{line}:{hashlib.sha256(text.encode()).hexdigest()[:16]}"


@dataclass(frozen=True)
class Row:
    """One pipeline of a batch: line number, prompt, follow-up actions and options."""

    line: int
    prompt: str
    then: list[str] = field(default_factory=list)
    options: dict[str, Any] = field(default_factory=dict)
    row_id: str | None = None

    @property
    def key(self) -> str:
        """The journal key: the line and everything that decides what is sent to TTAPI."""
        content = {"prompt": self.prompt, "then": self.then, "options": self.options}
        return content_key(self.line, content)

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


def unknown_actions(actions: Iterable[str]) -> str | None:
    """None when every action is known, else a message naming the bad ones and the valid ones."""
    bad = [a for a in actions if a not in ACTIONS]
    if not bad:
        return None
    return f"then: unknown action(s) {bad} (valid: {', '.join(ACTIONS)})"


def parse_line(line_no: int, text: str, *, then: list[str], mode: str | None) -> Row | BadRow:
    """One line of a batch file as a Row, or a BadRow that says why not."""
    raw = text.strip()
    options: dict[str, Any] = {}
    row_then = list(then)
    row_id = None
    if raw.startswith("{"):
        try:
            data = json.loads(raw)
        except json.JSONDecodeError as exc:
            return BadRow(line_no, raw, f"line {line_no}: not valid JSON ({exc.msg})")
        if not isinstance(data, dict):
            return BadRow(line_no, raw, f"line {line_no}: a JSON line must be an object")
        unknown = sorted(set(data) - ROW_KEYS)
        if unknown:
            allowed = sorted(ROW_KEYS)
            return BadRow(
                line_no, raw, f"line {line_no}: unknown keys {unknown} (allowed: {allowed})"
            )
        prompt = data.get("prompt")
        if not isinstance(prompt, str):
            return BadRow(line_no, raw, f"line {line_no}: prompt: a string is required")
        if "then" in data:
            if not isinstance(data["then"], list):
                return BadRow(line_no, raw, f"line {line_no}: then: must be a list of actions")
            row_then = [str(a) for a in data["then"]]
        options = {k: data[k] for k in ("mode", "timeout", "account") if data.get(k) is not None}
        row_id = str(data["id"]) if data.get("id") is not None else None
    else:
        prompt = raw
    if mode and "mode" not in options:
        options["mode"] = mode
    try:
        fields = {k: v for k, v in options.items() if k != "account"}
        validate(ImagineRequest, prompt=prompt, **fields)
    except InvalidRequest as exc:
        return BadRow(line_no, raw, f"line {line_no}: {exc}")
    bad_actions = unknown_actions(row_then)
    if bad_actions:
        return BadRow(line_no, raw, f"line {line_no}: {bad_actions}")
    return Row(line_no, prompt.strip(), row_then, options, row_id)


def read_batch(path: Path, *, then: list[str], mode: str | None = None) -> list[Row | BadRow]:
    """Every runnable or bad line of a batch file, in file order."""
    if mode is not None and mode not in MODES:
        raise InvalidRequest(f"--mode: must be one of {', '.join(MODES)}")
    rows: list[Row | BadRow] = []
    for number, text in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if text.strip() and not text.lstrip().startswith("#"):
            rows.append(parse_line(number, text, then=then, mode=mode))
    return rows
