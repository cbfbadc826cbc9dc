"""`mjw` loads only what a command needs: the simulator (2,600 lines) loads when it runs."""

from __future__ import annotations

import subprocess
import sys

PROBE = """
import sys
from worker.cli.commands import COMMANDS, build_parser
build_parser(COMMANDS).parse_args(["jobs", "--waiting"])
print(sorted(m for m in sys.modules if m.startswith("worker.devtools")))
"""


def test_starting_mjw_for_another_command_imports_nothing_of_the_simulator() -> None:
    out = subprocess.run(
        [sys.executable, "-c", PROBE], capture_output=True, text=True, check=True
    ).stdout
    assert out.strip() == "[]"


def test_mjw_simulator_still_parses_its_own_options() -> None:
    from worker.cli.parser import simulator_parser

    args = simulator_parser().parse_args(["--port", "0", "--keys", "k1,k2", "--capacity", "3"])
    assert (args.port, args.keys, args.capacity) == (0, "k1,k2", 3)
