"""A pipeline as a Celery canvas built by task name: imagine → actions... (→ download).

`tasks.pipeline`, `mjw submit` and `mjw batch` all build chains here, by name, so what they send
is exactly what another service that knows only the task names could send.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from celery import Celery, chain
from celery.canvas import Signature


def build_pipeline(
    app: Celery,
    prompt: str,
    actions: Iterable[str] = (),
    *,
    download: str | None = None,
    **options: Any,
) -> Signature:
    """`mj.imagine(prompt, **options)` → `mj.action(a)` per action (→ `mj.download`)."""
    steps = [app.signature("mj.imagine", kwargs={"prompt": prompt, **options})]
    steps += [app.signature("mj.action", kwargs={"action": name}) for name in actions]
    if download:
        steps.append(app.signature("mj.download", kwargs={"directory": download}))
    return chain(*steps) if len(steps) > 1 else steps[0]
