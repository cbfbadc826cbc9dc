"""A pipeline as a Celery canvas built by task name: a first job → follow-ups... (→ download).

`tasks.pipeline`, `mjw submit`, `mjw video`, `mjw edit` and `mjw batch` all build chains here,
by name, so what they send is exactly what another service that knows only the task names could
send. Follow-ups are written as `worker.jobs.steps` reads them: `upsample2`, `video:high`, ...
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from celery import Celery, chain
from celery.canvas import Signature

from config.tenants import DEFAULT_PRIORITY
from worker.jobs.steps import parse_steps

#: A job's `priority` as its messages' priority. kombu's Redis transport keeps a list per
#: step (0, 3, 6, 9) and reads 0 first, so a `high` entry overtakes queued `normal` and
#: `low` ones. A message published without a priority (a client that sets none) counts as 0.
MESSAGE_PRIORITY = {"high": 0, "normal": 3, "low": 6}


def build_pipeline(
    app: Celery,
    prompt: str,
    actions: Iterable[str] = (),
    *,
    download: str | None = None,
    **options: Any,
) -> Signature:
    """`mj.imagine(prompt, **options)` → a follow-up per step (→ `mj.download`)."""
    return build_chain(app, "imagine", {"prompt": prompt, **options}, actions, download=download)


def build_chain(
    app: Celery,
    first: str,
    kwargs: dict[str, Any],
    then: Iterable[str] = (),
    *,
    download: str | None = None,
) -> Signature:
    """`mj.<first>(**kwargs)` → a follow-up per step of `then` (→ `mj.download`); a step that
    cannot follow the one before it raises InvalidRequest before anything is built. Every
    message carries the first job's `priority` (its follow-ups inherit it)."""
    options = {"priority": message_priority(kwargs.get("priority"))}
    steps = [app.signature(f"mj.{first}", kwargs=kwargs, **options)]
    steps += [app.signature(s.task, kwargs=s.kwargs, **options) for s in parse_steps(then, first)]
    if download:
        steps.append(app.signature("mj.download", kwargs={"directory": download}, **options))
    return chain(*steps) if len(steps) > 1 else steps[0]


def message_priority(priority: object) -> int:
    """The broker priority of a job's messages (unknown or absent: `normal`'s)."""
    return MESSAGE_PRIORITY.get(str(priority), MESSAGE_PRIORITY[DEFAULT_PRIORITY])
