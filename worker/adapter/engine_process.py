"""`python -m worker.adapter.engine_process --node NAME`: the engine process a worker node starts,
wired to the Celery app (its reports and visible states go out as Celery messages).

It ends on SIGTERM or SIGINT (giving its accounts back), and by itself when the worker that
started it is gone (its parent process changed): an engine never outlives its node. It exits
with 1 when one of its threads died: the worker's bootstep starts it again.
"""

from __future__ import annotations

import argparse
import ctypes
import logging
import os
import signal
import sys
import threading
from typing import TYPE_CHECKING, Any

from worker.policy import ENGINE_PARENT_CHECK_S

if TYPE_CHECKING:
    from worker.engine.node import Node


def main(argv: list[str] | None = None) -> int:
    """Run the engine of node `--node` until told to stop."""
    parser = argparse.ArgumentParser(
        prog="python -m worker.adapter.engine_process", description=__doc__
    )
    parser.add_argument("--node", required=True, help="the worker node's name (celery@host)")
    args = parser.parse_args(argv)
    _die_with_parent()
    parent = os.getppid()
    from worker.adapter import patches
    from worker.adapter.app import app
    from worker.adapter.dispatch import CeleryDispatcher
    from worker.adapter.logs import configure_logging
    from worker.engine.node import Node

    configure_logging(app.mj_settings)
    patches.for_engine()  # it publishes, and runs the reports of the jobs it saw end
    run_tasks_here(app)
    logging.getLogger().setLevel(logging.INFO)
    warm_up(app)
    node = Node(app.mj_settings, args.node)
    app.adopt(node.rt)  # the reports it runs in place (worker.adapter.report_here)
    # Every action of the engine runs inside this dispatcher, which carries out its effects.
    shell = CeleryDispatcher(app, node.rt, hostname=args.node, engine=node.core)

    def stop(*_: object) -> None:
        node.stop()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)

    def watch_parent() -> None:
        while not node.stopped.wait(ENGINE_PARENT_CHECK_S):
            if os.getppid() != parent:
                logging.getLogger(__name__).warning("engine: its worker is gone; stopping")
                node.stop()

    threading.Thread(target=watch_parent, name="mj-parent", daemon=True).start()
    node.run(shell)
    return exit_code(node)


def warm_up(app: Any) -> None:
    """Look up, once and before the engine's threads start, what each of them would otherwise
    look up at its first publish, all at the same moment.

    Celery keeps a result backend per thread; making one scans the installed packages' entry
    points for backend names, a scan Celery caches only once one has finished: the engine's
    threads, starting together, each paid for a scan of their own. The job tasks are imported
    (as a worker does) for the reports the engine runs in place. Creates no connection.
    """
    app.backend  # noqa: B018  (the backend of this thread: the scan, done and cached)
    app.loader.import_default_modules()


def run_tasks_here(app: Any) -> None:
    """Set this process up as a worker's pool process is, for the task runs it does (the
    reports in place): `app` is the current app, and a result it publishes is never waited
    for here, so no publish subscribes to its result (Celery's pools set the same flag)."""
    from celery._state import _set_task_join_will_block

    app.set_current()
    _set_task_join_will_block(True)


def exit_code(node: Node) -> int:
    """1 when one of the engine's threads died (the bootstep then starts the engine again),
    else 0 (told to stop)."""
    return 1 if node.failed else 0


def _die_with_parent() -> None:
    """Linux: SIGTERM this process when its parent dies (the watch above is the fallback)."""
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass


if __name__ == "__main__":
    sys.exit(main())
