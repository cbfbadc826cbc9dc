"""The journal of a batch: what lets a rerun resume, retry, and never pay twice.

Two append-only JSON-lines files sit side by side: the results (`--out`) and `<out>.journal`,
where each row's chain (its signature, with every task id already assigned) is written BEFORE
it is sent. Both are keyed by the row's `key` (line number + digest of its content), so an
edited line is a new row. The last entry of a key wins: a row whose latest send is newer than
its latest result (a retry) is in flight, not finished. Journals written before keys existed
are matched by line and prompt.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from worker.cli.batch import BadRow, Row

Entry = dict[str, Any]


@dataclass
class JournalView:
    """What the journal says about every row, read once at the start of a run."""

    sent: dict[str, Entry]
    results: dict[str, Entry]

    def find(self, row: Row | BadRow) -> tuple[Entry | None, Entry | None]:
        """The row's latest send and its result; the result is None while a send is newer."""
        send, result = self.sent.get(row.key), self.results.get(row.key)
        if send is None and result is None:
            legacy = _legacy_key(row.line)
            send, result = self.sent.get(legacy), self.results.get(legacy)
            if any(e is not None and _legacy_text(e) != row.text for e in (send, result)):
                return None, None  # the line was edited since: a new row
        if send is not None and result is not None and result.get("task_id") != send["final"]:
            result = None
        return send, result


class Journal:
    """The results file (`--out`, JSON lines) and its journal of sent chains, both append-only."""

    def __init__(self, out: Path) -> None:
        self.out = out
        self.path = out.with_name(out.name + ".journal")

    def load(self) -> JournalView:
        """Every key's latest send and latest result."""
        return JournalView(
            sent=_by_key(_read_jsonl(self.path), "sig"),
            results=_by_key(_read_jsonl(self.out), "status"),
        )

    def record_send(self, row: Row, sig: dict[str, Any], final: str, ids: list[str]) -> None:
        """Write the chain's signature and ids BEFORE it is sent (so nothing can be orphaned)."""
        _append(
            self.path, {"line": row.line, "key": row.key, "final": final, "ids": ids, "sig": sig}
        )

    def record_result(self, entry: Entry) -> None:
        """Append one finished row to the results file, flushed at once."""
        _append(self.out, entry)


def _legacy_key(line: int) -> str:
    return f"{line}:legacy"


def _legacy_text(entry: Entry) -> str | None:
    """The prompt (or bad line) a key-less entry was written for."""
    for name in ("input", "prompt"):
        if isinstance(entry.get(name), str):
            return str(entry[name])
    sig = entry.get("sig") or {}
    first = ((sig.get("kwargs") or {}).get("tasks") or [sig])[0]
    prompt = (first.get("kwargs") or {}).get("prompt")
    return str(prompt) if isinstance(prompt, str) else None


def _by_key(entries: list[Entry], needed: str) -> dict[str, Entry]:
    found: dict[str, Entry] = {}
    for entry in entries:
        if needed not in entry or "line" not in entry:
            continue
        found[str(entry.get("key") or _legacy_key(int(entry["line"])))] = entry
    return found


def _read_jsonl(path: Path) -> list[Entry]:
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


def _append(path: Path, row: Entry) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("a", encoding="utf-8") as fh:
        fh.write(json.dumps(row, separators=(",", ":"), default=str) + "\n")
        fh.flush()
