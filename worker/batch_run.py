"""Runs a batch: sends each row's chain, shows live progress, writes results as they finish.

The chains run in the workers, not here: this process only sends them and watches their
results, so Ctrl-C loses nothing. A rerun with the same `--out` skips finished rows and
re-attaches to sent ones (see `worker.batch.Journal`).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from celery import Celery
from celery.canvas import Signature
from celery.result import AsyncResult
from kombu.utils.json import dumps, loads
from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn

from worker.batch import BadRow, Journal, Row


@dataclass
class Summary:
    """What a batch run did."""

    done: int = 0
    failed: int = 0
    skipped: int = 0
    reattached: int = 0
    results: list[dict[str, Any]] = field(default_factory=list)


def build_chain(app: Celery, row: Row, download: str | None) -> Signature:
    """The row's pipeline as signatures by task name (what any other service could send)."""
    opts = dict(row.options)
    steps = [app.signature("mj.imagine", kwargs={"prompt": row.prompt, **opts})]
    steps += [app.signature("mj.action", kwargs={"action": a}) for a in row.then]
    if download:
        steps.append(app.signature("mj.download", kwargs={"directory": download}))
    sig: Signature = steps[0]
    for step in steps[1:]:
        sig = sig | step
    return sig


def _ids(sig: Signature) -> list[str]:
    tasks = getattr(sig, "tasks", None) or [sig]
    return [str(t.options.get("task_id")) for t in tasks]


def run_batch(app: Celery, rows: list[Row | BadRow], out: Path, *, download: str | None = None,
              concurrency: int | None = None, console: Console | None = None,
              tick: float = 0.2, on_update: Callable[[Summary], None] | None = None) -> Summary:
    """Send every unfinished row (at most `concurrency` at once), wait, write results."""
    console = console or Console(stderr=True)
    journal = Journal(out)
    finished, sent = journal.finished(), journal.sent()
    summary = Summary(skipped=len([r for r in rows if r.line in finished]))
    todo = [r for r in rows if r.line not in finished]
    for bad in [r for r in todo if isinstance(r, BadRow)]:
        entry = {"line": bad.line, "status": "FAILED", "error": bad.error, "input": bad.text}
        journal.record_result(entry)
        summary.failed += 1
        summary.results.append(entry)
    waiting = [r for r in todo if isinstance(r, Row)]
    flying: dict[int, tuple[Row, AsyncResult, list[str]]] = {}
    limit = concurrency or len(waiting) or 1

    def send(row: Row) -> None:
        if row.line in sent:  # sent before this run (or maybe): re-attach, re-send is harmless
            entry = sent[row.line]
            sig = app.signature(entry["sig"])
            summary.reattached += 1
            if AsyncResult(entry["ids"][0], app=app).state == "PENDING":
                sig.apply_async()  # maybe never sent; if it was, job records dedupe it
            flying[row.line] = (row, AsyncResult(entry["final"], app=app), entry["ids"])
            return
        sig = build_chain(app, row, download)
        final = sig.freeze()
        ids = _ids(sig)
        journal.record_send(row.line, loads(dumps(dict(sig))), str(final.id), ids)
        sig.apply_async()
        flying[row.line] = (row, AsyncResult(str(final.id), app=app), ids)

    columns = [TextColumn("[bold]{task.description}"), BarColumn(),
               TextColumn("{task.completed}/{task.total}"), TextColumn("{task.fields[counts]}"),
               TimeElapsedColumn(), TextColumn("ETA"), TimeRemainingColumn()]
    with Progress(*columns, console=console, transient=False) as progress:
        bar = progress.add_task("batch", total=len(rows), completed=summary.skipped +
                                summary.failed, counts="")
        while waiting or flying:
            while waiting and len(flying) < limit:
                send(waiting.pop(0))
            for line, (row, result, ids) in list(flying.items()):
                if not result.ready():
                    continue
                del flying[line]
                entry = _entry(row, result, ids)
                journal.record_result(entry)
                summary.results.append(entry)
                if entry["status"] == "SUCCESS":
                    summary.done += 1
                else:
                    summary.failed += 1
                progress.advance(bar)
            progress.update(bar, counts=f"done {summary.done}  failed {summary.failed}  "
                                        f"in progress {len(flying)}")
            if on_update:
                on_update(summary)
            if waiting or flying:
                time.sleep(tick)  # watching results from outside the workers; not a task
    return summary


def _entry(row: Row, result: AsyncResult, ids: list[str]) -> dict[str, Any]:
    base: dict[str, Any] = {"line": row.line, "prompt": row.prompt, "then": row.then,
                            "task_id": result.id, "task_ids": ids}
    if row.row_id is not None:
        base["id"] = row.row_id
    if result.successful():
        value = result.result
        return {**base, "status": "SUCCESS", "result": value}
    error = result.result
    name = type(error).__name__ if isinstance(error, BaseException) else "Error"
    return {**base, "status": "FAILED", "error": f"{name}: {error}"}
