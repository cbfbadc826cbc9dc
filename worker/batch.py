"""Batch files and their journal: what `mjw batch` reads, and what lets a rerun resume.

A batch file holds one prompt per line, or JSON lines with per-row options
(`{"prompt": ..., "then": [...], "mode": ..., "timeout": ..., "account": ...}`); blank lines and
`#` comments are skipped. Before a row's chain is sent, its signature (with every task id already
assigned) goes to `<out>.journal`; a rerun re-attaches to those ids instead of resubmitting, and
re-sending one is harmless because job records are keyed by task id.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from worker.errors import InvalidRequest
from worker.payloads import ACTIONS, MODES, ImagineRequest, validate

ROW_KEYS = {"prompt", "then", "mode", "timeout", "account", "id"}


@dataclass(frozen=True)
class Row:
    """One pipeline of a batch: line number, prompt, follow-up actions and options."""

    line: int
    prompt: str
    then: list[str] = field(default_factory=list)
    options: dict[str, Any] = field(default_factory=dict)
    row_id: str | None = None


@dataclass(frozen=True)
class BadRow:
    """A line that cannot run, with the reason (reported, never sent)."""

    line: int
    text: str
    error: str


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
            return BadRow(line_no, raw, f"line {line_no}: unknown keys {unknown} "
                                        f"(allowed: {sorted(ROW_KEYS)})")
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
        validate(ImagineRequest, prompt=prompt,
                 **{k: v for k, v in options.items() if k != "account"})
    except InvalidRequest as exc:
        return BadRow(line_no, raw, f"line {line_no}: {exc}")
    bad = [a for a in row_then if a not in ACTIONS]
    if bad:
        return BadRow(line_no, raw, f"line {line_no}: then: unknown action(s) {bad}")
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


class Journal:
    """The results file (`--out`, JSON lines) and its journal of sent chains, both append-only."""

    def __init__(self, out: Path) -> None:
        self.out = out
        self.path = out.with_name(out.name + ".journal")

    def finished(self) -> dict[int, dict[str, Any]]:
        """Rows already written to the results file (line → its result line)."""
        return {int(r["line"]): r for r in _read_jsonl(self.out) if "line" in r}

    def sent(self) -> dict[int, dict[str, Any]]:
        """Rows whose chain was (or may have been) sent: line → {"sig", "final", "ids"}."""
        return {int(r["line"]): r for r in _read_jsonl(self.path) if "sig" in r}

    def record_send(self, line: int, sig: dict[str, Any], final: str, ids: list[str]) -> None:
        """Write the chain's signature and ids BEFORE it is sent (so nothing can be orphaned)."""
        _append(self.path, {"line": line, "final": final, "ids": ids, "sig": sig})

    def record_result(self, entry: dict[str, Any]) -> None:
        """Append one finished row to the results file, flushed at once."""
        _append(self.out, entry)


def _read_jsonl(path: Path) -> list[dict[str, Any]]:
    if not path.exists():
        return []
    rows = []
    for text in path.read_text(encoding="utf-8").splitlines():
        try:
            row = json.loads(text)
        except json.JSONDecodeError:
            continue  # a line cut short by a crash: that row is simply not done
        if isinstance(row, dict):
            rows.append(row)
    return rows


def _append(path: Path, row: dict[str, Any]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("a", encoding="utf-8") as fh:
        fh.write(json.dumps(row, separators=(",", ":"), default=str) + "\n")
        fh.flush()
