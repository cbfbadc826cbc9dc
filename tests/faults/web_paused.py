"""`python -m tests.faults.web_paused web ...`: `mjw web` that stops dead after its first publish.

Fault row 45 kills the API process between publishing a job and answering its POST. To land
the kill in that window every time, this runs the real `mjw web` with one change: after the
first `CeleryJobs.publish` has really sent the canvas, it writes the job's id to the file
`MJ_FAULTS_PUBLISHED_MARK` names and blocks that request forever; the row SIGKILLs the process
by its pid once the file is there. Nothing of it is in `worker/`: the API runs as shipped.
"""

from __future__ import annotations

import os
import sys
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from worker.adapter import api_jobs

MARK = Path(os.environ["MJ_FAULTS_PUBLISHED_MARK"])
_publish = api_jobs.CeleryJobs.publish


def publish_then_hang(
    self: api_jobs.CeleryJobs,
    first: str,
    kwargs: dict[str, Any],
    then: Sequence[str],
    ids: Sequence[str],
) -> None:
    """Publish for real, say so, and never return (the answer is never sent)."""
    _publish(self, first, kwargs, then, ids)
    MARK.write_text(ids[0])
    threading.Event().wait()


api_jobs.CeleryJobs.publish = publish_then_hang  # type: ignore[method-assign]

if __name__ == "__main__":
    from worker.cli.commands import main

    sys.exit(main(sys.argv[1:]))
