"""Runs a batch: sends each row's chain, shows live progress, writes results as they finish.

The chains run in the workers, not here: this process only sends them and watches their
results, so Ctrl-C loses nothing. A rerun with the same `--out` skips finished rows and
re-attaches to sent ones (see `worker.cli.batch_journal`); `retry_failed` re-sends failed rows
with fresh task ids. Watching costs one MGET per tick whatever the number of rows in flight
(`worker.cli.results.ResultReader`): each row is read at its current step and at its final step.
"""

from __future__ import annotations

import time
from collections import Counter, deque
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from celery import Celery
from celery.canvas import Signature
from kombu.utils.json import dumps, loads
from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn

from worker.adapter.pipelines import build_chain as chain_of
from worker.cli.batch import BadRow, Row
from worker.cli.batch_journal import Journal
from worker.cli.results import PENDING, Meta, ResultReader
from worker.jobs.states import TaskState

Publish = Callable[[Signature], Any]


@dataclass
class Summary:
    """What a batch run did."""

    done: int = 0
    failed: int = 0
    skipped: int = 0  # finished in an earlier run (done or failed before)
    failed_before: int = 0  # of those, failed (and not retried: see `retry_failed`)
    reattached: int = 0
    retried: int = 0
    results: list[dict[str, Any]] = field(default_factory=list)
    failures: list[dict[str, Any]] = field(default_factory=list)  # this run's and earlier ones

    @property
    def any_failed(self) -> bool:
        """Whether any row of the batch is failed now, in this run or an earlier one."""
        return bool(self.failed or self.failed_before)


@dataclass
class Flight:
    """A row whose chain is in the workers: its task ids and the step being watched."""

    row: Row
    ids: list[str]
    step: int = 0
    resend: dict[str, Any] | None = None  # re-attached: re-send if its first step is unknown
    keys: list[bytes] = field(default_factory=list)  # result-backend keys of `ids`


def build_chain(app: Celery, row: Row, download: str | None) -> Signature:
    """The row's pipeline as signatures by task name (what any other service could send)."""
    return chain_of(app, row.kind, row.first, row.then, download=download)


def chain_ids(sig: Signature) -> list[str]:
    """The task id of every step of a frozen chain (or of a single signature), in order."""
    tasks = getattr(sig, "tasks", None) or [sig]
    return [str(t.options.get("task_id")) for t in tasks]


def _apply(sig: Signature) -> None:
    sig.apply_async()


def run_batch(
    app: Celery,
    rows: list[Row | BadRow],
    out: Path,
    *,
    download: str | None = None,
    concurrency: int | None = None,
    console: Console | None = None,
    tick: float = 0.2,
    on_update: Callable[[Summary], None] | None = None,
    retry_failed: bool = False,
    publish: Publish = _apply,
    reader: ResultReader | None = None,
) -> Summary:
    """Send every unfinished row (at most `concurrency` at once), wait, write results."""
    journal = Journal(out)
    reader = reader or ResultReader(app.backend)
    summary = Summary()
    todo: deque[Row] = deque()
    flying: dict[str, Flight] = {}
    view = journal.load()
    for row in rows:
        send, result = view.find(row)
        if result is not None:
            if retry_failed and isinstance(row, Row) and result.get("status") != "SUCCESS":
                todo.append(row)
                summary.retried += 1
            else:
                summary.skipped += 1
                if result.get("status") != "SUCCESS":
                    summary.failed_before += 1
                    summary.failures.append({**result, "earlier": True})
        elif isinstance(row, BadRow):
            _finish(
                journal,
                summary,
                {
                    "line": row.line,
                    "key": row.key,
                    "status": "FAILED",
                    "error": row.error,
                    "input": row.text,
                },
            )
        elif send is not None:
            flying[row.key] = Flight(row, list(send["ids"]), resend=send["sig"])
            summary.reattached += 1
        else:
            todo.append(row)
    limit = concurrency or len(todo) or 1

    def send_row(row: Row) -> None:
        sig = build_chain(app, row, download)
        sig.freeze()
        ids = chain_ids(sig)
        journal.record_send(row, loads(dumps(dict(sig))), ids[-1], ids)
        publish(sig)
        flying[row.key] = Flight(row, ids)

    console = console or Console(stderr=True)
    with Progress(*_columns(), console=console, transient=False) as progress:
        bar = progress.add_task(
            "batch", total=len(rows), counts="", completed=summary.skipped + summary.failed
        )
        while todo or flying:
            while todo and len(flying) < limit:
                send_row(todo.popleft())
            states = _tick(app, reader, flying, publish, journal, summary)
            progress.update(
                bar,
                completed=summary.skipped + summary.done + summary.failed,
                counts=_counts(summary, len(flying), states),
            )
            if on_update:
                on_update(summary)
            if todo or flying:
                time.sleep(tick)  # watching results from outside the workers; not a task
    return summary


def _tick(
    app: Celery,
    reader: ResultReader,
    flying: dict[str, Flight],
    publish: Publish,
    journal: Journal,
    summary: Summary,
) -> Counter[str]:
    """One look at every row in flight (one MGET); returns how many rows are in which state.

    A row is read at its current step only (a failure is stored on every later step too, so
    that is enough to see it end); a re-attached row's first look also reads its final step,
    so a batch that finished while nobody watched ends in one tick.
    """
    flights = list(flying.values())
    wanted: list[bytes] = []
    for f in flights:
        if not f.keys:
            f.keys = [reader.key(i) for i in f.ids]
        wanted.append(f.keys[f.step])
        if f.resend is not None and f.step != len(f.ids) - 1:
            wanted.append(f.keys[-1])
    metas = dict(zip(wanted, reader.read_keys(wanted), strict=True))
    states: Counter[str] = Counter()
    for flight in flights:
        current, final = metas[flight.keys[flight.step]], metas.get(flight.keys[-1], PENDING)
        if flight.resend is not None and flight.step == 0 and current == final == PENDING:
            publish(app.signature(flight.resend))  # maybe never sent; job records dedupe it
        flight.resend = None
        last = flight.step == len(flight.ids) - 1
        if final.ready or (current.ready and (last or not current.ok)):
            del flying[flight.row.key]
            _finish(journal, summary, _entry(flight, final if final.ready else current))
        elif current.ok:
            flight.step += 1
        else:
            states[current.state] += 1
    return states


def _finish(journal: Journal, summary: Summary, entry: dict[str, Any]) -> None:
    journal.record_result(entry)
    summary.results.append(entry)
    if entry["status"] == "SUCCESS":
        summary.done += 1
    else:
        summary.failed += 1
        summary.failures.append(entry)


def _entry(flight: Flight, meta: Meta) -> dict[str, Any]:
    row = flight.row
    base: dict[str, Any] = {
        "line": row.line,
        "key": row.key,
        "prompt": row.prompt,
        "then": row.then,
        "task_id": flight.ids[-1],
        "task_ids": flight.ids,
    }
    if row.row_id is not None:
        base["id"] = row.row_id
    if row.kind != "imagine":
        base["kind"] = row.kind
    if meta.ok:
        return {**base, "status": "SUCCESS", "result": meta.value}
    error = meta.value
    name = type(error).__name__ if isinstance(error, BaseException) else meta.state
    return {**base, "status": "FAILED", "error": f"{name}: {error}"}


def _columns() -> list[Any]:
    return [
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        TextColumn("{task.completed}/{task.total}"),
        TextColumn("{task.fields[counts]}"),
        TimeElapsedColumn(),
        TextColumn("ETA"),
        TimeRemainingColumn(),
    ]


def _counts(summary: Summary, flying: int, states: Counter[str]) -> str:
    waiting = f" (waiting {states[TaskState.WAITING]})" if states[TaskState.WAITING] else ""
    return f"done {summary.done}  failed {summary.failed}  in progress {flying}{waiting}"
