"""One row of the fault table: what the callers saw, what the simulator counted, and the verdict."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Any

HEADER = (
    "| scenario | jobs | done | failed clearly | hung | double submits "
    "| peak in-progress/account | slots held after | extra | time | holds? |"
)
RULE = "|" + "---|" * 11


@dataclass
class Outcome:
    """How one job ended for its caller; `state` is HUNG when it was not ready by the deadline."""

    prompt: str
    task_id: str
    state: str
    message: str = ""
    value: dict[str, Any] = field(default_factory=dict)
    record_state: str = ""  # the job record's state, looked up for hung jobs

    @property
    def failed_clearly(self) -> bool:
        """FAILURE or REVOKED with a message the caller can read."""
        return self.state in ("FAILURE", "REVOKED") and bool(self.message.strip())


@dataclass
class Row:
    """A scenario's result; `checks` maps each must-hold condition to whether it held."""

    scenario: str
    jobs: int
    done: int
    failed: int
    hung: int
    doubles: int
    peak: int
    slots: int
    extra: str
    seconds: float
    checks: dict[str, bool]
    notes: list[str] = field(default_factory=list)

    @property
    def holds(self) -> bool:
        """True when every must-hold condition held."""
        return all(self.checks.values())

    def verdict(self) -> str:
        """`yes`, or `NO` with the conditions that did not hold."""
        missed = [name for name, ok in self.checks.items() if not ok]
        return "yes" if not missed else "NO: " + "; ".join(missed)

    def markdown(self) -> str:
        """The row as one markdown table line."""
        cells = [
            self.scenario,
            self.jobs,
            self.done,
            self.failed,
            self.hung,
            self.doubles,
            self.peak,
            self.slots,
            self.extra,
            f"{self.seconds:.0f} s",
            self.verdict(),
        ]
        return "| " + " | ".join(str(c) for c in cells) + " |"


def broken_row(scenario: str, error: BaseException, seconds: float) -> Row:
    """The row of a scenario that could not run to the end (its harness raised)."""
    text = f"{type(error).__name__}: {error}".splitlines()[0][:120]
    return Row(scenario, 0, 0, 0, 0, 0, 0, 0, text, seconds, {"scenario ran": False})


def summary(outcomes: list[Outcome]) -> dict[str, int]:
    """done / failed clearly / hung / unclear failures over `outcomes`."""
    return {
        "done": sum(o.state == "SUCCESS" for o in outcomes),
        "failed": sum(o.failed_clearly for o in outcomes),
        "hung": sum(o.state == "HUNG" for o in outcomes),
        "unclear": sum(
            o.state not in ("SUCCESS", "HUNG") and not o.failed_clearly for o in outcomes
        ),
    }


def describe(outcomes: list[Outcome]) -> list[str]:
    """Notes for the engine fixers: records of hung jobs, and the commonest failure messages."""
    notes = []
    hung = Counter(o.record_state or "no record" for o in outcomes if o.state == "HUNG")
    if hung:
        notes.append(
            "hung jobs by record state: " + ", ".join(f"{s}={n}" for s, n in hung.most_common())
        )
    failures = Counter(
        f"{o.state} {o.message[:100]}" for o in outcomes if o.state not in ("SUCCESS", "HUNG")
    )
    notes += [f"{n}× {text}" for text, n in failures.most_common(3)]
    return notes
