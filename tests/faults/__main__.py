"""`python -m tests.faults [-k NAME ...] [--list]`: run the fault scenarios, one table row each.

The table goes to stdout as the rows finish; notes on jobs that did not end well, and where the
logs are, go to stderr. The exit status is 1 when any row does not hold.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
from pathlib import Path

from tests.faults import (
    scenarios_api,
    scenarios_api_outage,
    scenarios_callers,
    scenarios_celery,
    scenarios_engine,
    scenarios_platform,
    scenarios_redis,
    scenarios_rollout,
    scenarios_storage,
    scenarios_submit,
    scenarios_trust,
    scenarios_ttapi,
)
from tests.faults.registry import Entry, ordered, run
from tests.faults.row import HEADER, RULE

# Importing them registers their scenarios.
SCENARIO_MODULES = (
    scenarios_platform,
    scenarios_redis,
    scenarios_celery,
    scenarios_ttapi,
    scenarios_trust,
    scenarios_engine,
    scenarios_storage,
    scenarios_submit,
    scenarios_rollout,
    scenarios_api,
    scenarios_api_outage,
    scenarios_callers,
)


def select(names: list[str] | None) -> list[Entry]:
    """The scenarios whose name (or row number) matches one of `names`; all when none given."""
    entries = ordered()
    if not names:
        return entries
    return [e for e in entries if any(n == str(e.number) or n in e.name for n in names)]


def main(argv: list[str] | None = None) -> int:
    """Run the selected scenarios; 0 when every row holds, 1 otherwise, 2 on a bad selection."""
    parser = argparse.ArgumentParser(prog="python -m tests.faults", description=__doc__)
    parser.add_argument(
        "-k",
        dest="names",
        action="append",
        metavar="NAME",
        help="run the scenarios whose name contains NAME (or row number NAME)",
    )
    parser.add_argument("--list", action="store_true", help="list the scenarios and exit")
    args = parser.parse_args(argv)
    entries = select(args.names)
    if args.list:
        for e in ordered():
            print(f"{e.number:>2} {e.name:<20} {e.title}")
        return 0
    if not entries:
        print(f"no scenario matches {args.names}; see --list", file=sys.stderr)
        return 2
    for name in ("TTAPI_API_KEY", "TTAPI_API_KEYS", "MJ_HOOK_BASE_URL"):
        os.environ.pop(name, None)  # the workers get exactly the keys a scenario gives them
    logs = Path(tempfile.mkdtemp(prefix="mj-faults-"))
    print(HEADER, RULE, sep="\n", flush=True)
    held = True
    for entry in entries:
        row = run(entry, logs / entry.name)
        held = held and row.holds
        print(row.markdown(), flush=True)
        for note in row.notes:
            print(f"  {entry.name}: {note}", file=sys.stderr, flush=True)
    print(f"logs: {logs}", file=sys.stderr)
    return 0 if held else 1


if __name__ == "__main__":
    sys.exit(main())
