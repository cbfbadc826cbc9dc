"""`python -m tests.bench.commands`: where one scenario's Redis commands per job go.

`make bench` counts Redis commands per job from `INFO commandstats` (tests/bench/cost.py),
which counts the commands a Lua script runs as well as the clients' own. This runs one
scenario (one node, `--quick` by default) with a `MONITOR` client beside it and splits the same
window (from the meter's first `INFO commandstats` to its last) four ways, each per job:
every command by name; the clients' own commands by key shape (ids and numbers folded); the
scripts called, by the product constant that holds their source; and the commands each script
runs inside Redis. It is what to read before trying to lower the cost goal of the lifecycle
issue: which part is ours, which is Celery's and kombu's, which is the caller's.

MONITOR slows Redis down, so the run's timing is not the bench's; the counts are.
"""

from __future__ import annotations

import argparse
import dataclasses
import hashlib
import importlib
import pkgutil
import re
import tempfile
import threading
from collections import Counter
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from tests.bench.cost import OWN_COMMANDS
from tests.bench.scenarios import ONE_NODE, SCENARIOS, quick

#: Modules not walked for script sources: they run a program when imported, or are not product.
SKIPPED_MODULES = ("devtools", "simulator", "__main__", "cli")
#: Commands whose first argument is no key.
NO_KEY = frozenset(
    {"time", "multi", "exec", "ping", "client", "info", "script", "select", "wait", "hello"}
)
#: The meter's own sample marks the window (tests/bench/cost.py: `info("commandstats")`).
MARK = "info commandstats"
_UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")
_ACCOUNT = re.compile(r"acct-[0-9a-f]+")
_NUMBER = re.compile(r"\d{2,}")


@dataclasses.dataclass(frozen=True)
class Line:
    """One command MONITOR saw: `lua` when a script ran it, else `client`."""

    source: str
    command: str


@dataclasses.dataclass
class Profile:
    """The four splits of one window's commands (counts, not yet per job)."""

    by_command: Counter[str] = dataclasses.field(default_factory=Counter)
    client: Counter[tuple[str, str]] = dataclasses.field(default_factory=Counter)
    scripts: Counter[str] = dataclasses.field(default_factory=Counter)
    inside: Counter[tuple[str, str, str]] = dataclasses.field(default_factory=Counter)

    @property
    def total(self) -> int:
        """Every command in the window; `INFO` is left out, as the bench's meter leaves it out."""
        return sum(self.by_command.values())


def shape(key: str) -> str:
    """A key with its ids, account labels and numbers folded, so one kind of key counts once."""
    key = _UUID.sub("<id>", key)
    key = _ACCOUNT.sub("<acct>", key)
    return _NUMBER.sub("<n>", key)[:60]


def script_names(package: str = "worker") -> dict[str, str]:
    """`{sha1: "module.CONSTANT"}` for every module-level string that holds Lua (a `redis.call`)."""
    root = importlib.import_module(package)
    names: dict[str, str] = {}
    for info in pkgutil.walk_packages(root.__path__, f"{package}."):
        if any(part in info.name for part in SKIPPED_MODULES):
            continue
        module = importlib.import_module(info.name)
        for attr, value in vars(module).items():
            if isinstance(value, str) and "redis.call" in value:
                sha = hashlib.sha1(value.encode()).hexdigest()
                names[sha] = f"{info.name.removeprefix(package + '.')}.{attr}"
    return names


def window(lines: list[Line]) -> list[Line]:
    """The lines between the meter's first and last sample (all of them if it never sampled)."""
    marks = [i for i, line in enumerate(lines) if line.command.lower() == MARK]
    if len(marks) < 2:
        return lines
    return lines[marks[0] + 1 : marks[-1]]


def attribute(lines: Iterable[Line], names: dict[str, str]) -> Profile:
    """Split `lines` four ways. A script's commands follow its EVALSHA at once in MONITOR's
    output (a script runs alone), so each `lua` line belongs to the last script called."""
    profile = Profile()
    current = "?"
    for line in lines:
        parts = line.command.split(" ")
        cmd = parts[0].lower()
        if cmd in OWN_COMMANDS:
            continue
        key = shape(parts[1]) if len(parts) > 1 and cmd not in NO_KEY else ""
        profile.by_command[cmd] += 1
        if line.source == "lua":
            profile.inside[(current, cmd, key)] += 1
        elif cmd in ("evalsha", "eval"):
            body = parts[1] if len(parts) > 1 else ""
            current = names.get(body, body[:8] if cmd == "evalsha" else "inline script")
            profile.scripts[current] += 1
        else:
            profile.client[(cmd, key)] += 1
    return profile


def report(profile: Profile, jobs: int, top: int = 30) -> list[str]:
    """The four splits as text, per job, most frequent first."""
    jobs = max(jobs, 1)

    def rows(counter: Counter[Any], label: Any) -> list[str]:
        return [f"{n / jobs:8.2f}  {label(k)}" for k, n in counter.most_common(top)]

    per_script: Counter[str] = Counter()
    for (script, _, _), n in profile.inside.items():
        per_script[script] += n
    return [
        f"{profile.total / jobs:.1f} commands per job ({profile.total} for {jobs} jobs)",
        "\n## every command, by name",
        *rows(profile.by_command, str),
        "\n## the clients' own commands, by key",
        *rows(profile.client, lambda k: f"{k[0]:14} {k[1]}"),
        "\n## scripts called",
        *rows(profile.scripts, str),
        "\n## run inside each script, in all",
        *rows(per_script, str),
        "\n## run inside scripts, by command and key",
        *rows(profile.inside, lambda k: f"{k[0]:40} {k[1]:14} {k[2]}"),
    ]


def record(url: str, stop: threading.Event, into: list[Line]) -> None:
    """Append what MONITOR sees on `url` to `into` until `stop` is set (and one more command)."""
    import redis

    client = redis.Redis.from_url(url)
    try:
        with client.monitor() as monitor:
            for seen in monitor.listen():
                kind = "lua" if seen["client_type"] == "lua" else "client"
                into.append(Line(kind, seen["command"]))
                if stop.is_set():
                    return
    except redis.ConnectionError:
        if not stop.is_set():
            raise  # the server went away while the scenario ran: say so


def main(argv: list[str] | None = None) -> None:
    """Run one scenario with MONITOR beside it and print where its commands went."""
    from tests.bench import suite
    from worker.devtools.embedded import RedisServer

    parser = argparse.ArgumentParser(prog="python -m tests.bench.commands", description=__doc__)
    parser.add_argument("--scenario", default="c", choices=sorted(SCENARIOS))
    parser.add_argument("--full", action="store_true", help="the full scenario, not --quick's")
    parser.add_argument("--top", type=int, default=30, help="rows per split (30)")
    args = parser.parse_args(argv)
    sc = SCENARIOS[args.scenario] if args.full else quick(SCENARIOS[args.scenario])
    lines: list[Line] = []
    stop = threading.Event()
    with tempfile.TemporaryDirectory(prefix="mj-commands-") as tmp_name:
        server = RedisServer(Path(tmp_name) / "redis").start()
        watcher = threading.Thread(target=record, args=(server.url, stop, lines), daemon=True)
        watcher.start()
        try:
            row = suite.row_of(suite.run_one(sc, ONE_NODE, server, Path(tmp_name)))
        finally:
            stop.set()
            server.stop()
            watcher.join(5)
    print(f"# ({sc.key}) {sc.title}, one node: {row['ok']}/{row['jobs']} done")
    print(f"the bench's meter: {row['redis_cmds_per_job']} Redis commands per job")
    print("\n".join(report(attribute(window(lines), script_names()), sc.jobs, args.top)))


if __name__ == "__main__":
    main()
