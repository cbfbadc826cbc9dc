"""The scenarios by name and number, the keys they use, and helpers their checks share."""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from tests.faults.row import Outcome, Row, broken_row

JOBS = 40
KEY_A = "sk-faults-account-a-0001"
KEY_B = "sk-faults-account-b-0002"
KEY_WRONG = "sk-faults-not-a-real-key-0003"

Scenario = Callable[[Path], Row]


@dataclass(frozen=True)
class Entry:
    """A registered scenario: its row number, name (for -k) and what it breaks."""

    number: int
    name: str
    title: str
    run: Scenario


SCENARIOS: dict[str, Entry] = {}


def scenario(number: int, name: str, title: str) -> Callable[[Scenario], Scenario]:
    """Register a scenario function under `name`."""

    def register(fn: Scenario) -> Scenario:
        SCENARIOS[name] = Entry(number, name, title, fn)
        return fn

    return register


def ordered() -> list[Entry]:
    """Every scenario, by row number."""
    return sorted(SCENARIOS.values(), key=lambda e: (e.number, e.name))


def run(entry: Entry, workdir: Path) -> Row:
    """Run one scenario; a harness error becomes a row that does not hold."""
    started = time.monotonic()
    try:
        row = entry.run(workdir)
    except Exception as exc:
        row = broken_row(entry.name, exc, time.monotonic() - started)
    row.scenario = f"{entry.number} {entry.name}"
    return row


def all_done(outcomes: list[Outcome]) -> bool:
    """Every job ended SUCCESS."""
    return all(o.state == "SUCCESS" for o in outcomes)


def none_hung(outcomes: list[Outcome]) -> bool:
    """Every job ended SUCCESS or in a failure with a message."""
    return all(o.state == "SUCCESS" or o.failed_clearly for o in outcomes)


def log_tails(workdir: Path, lines: int = 25) -> str:
    """The last lines of every log a scenario left, for test failure messages."""
    parts = []
    for path in sorted(workdir.glob("*.log")):
        text = path.read_text(errors="replace").splitlines()[-lines:]
        parts.append(f"--- {path.name}\n" + "\n".join(line[:200] for line in text))
    return "\n".join(parts)


_STAMP = re.compile(r"^\[(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3}):")


def clock_offset(log_path: Path, timeout: float = 10.0) -> float | None:
    """How far a process's wall clock is off, seen from inside it: the time stamped on its
    last log line minus the file's modification time (the kernel's true clock)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        before = log_path.stat().st_mtime
        last = log_path.read_text(errors="replace").rstrip("\n").rsplit("\n", 1)[-1]
        if (match := _STAMP.match(last)) and log_path.stat().st_mtime == before:
            stamped = datetime.strptime(match.group(1), "%Y-%m-%d %H:%M:%S,%f").timestamp()
            return stamped - before
        time.sleep(0.1)
    return None
