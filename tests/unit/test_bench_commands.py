"""The command profile's split (tests/bench/commands.py), on MONITOR lines written by hand."""

from __future__ import annotations

import hashlib

from tests.bench.commands import Line, attribute, report, script_names, shape, window
from worker.capacity import lua as guard_lua

JOB = "0b5e1c2a-7f3d-4c1e-9a2b-3c4d5e6f7a8b"


def test_keys_of_one_kind_fold_into_one_shape() -> None:
    assert shape(f"mj:job:{JOB}") == "mj:job:<id>"
    assert shape("mj:{acct-3f30fefb}:slots") == "mj:{<acct>}:slots"
    assert shape("mj:tenants:day:20261207:0") == "mj:tenants:day:<n>:0"


def test_the_window_is_between_the_meters_first_and_last_sample() -> None:
    lines = [
        Line("client", "PING"),
        Line("client", "INFO commandstats"),
        Line("client", "GET a"),
        Line("client", "INFO commandstats"),
        Line("client", "SET b 1"),
    ]
    assert window(lines) == [Line("client", "GET a")]
    assert window(lines[:2]) == lines[:2]  # never sampled twice: all of it


def test_a_scripts_commands_count_under_the_script_that_ran_them() -> None:
    names = {"aa" * 20: "capacity.lua.RELEASE", "bb" * 20: "jobs.records._CAS"}
    lines = [
        Line("client", f"EVALSHA {'aa' * 20} 1 mj:{{acct-1a2b}}:slots"),
        Line("lua", "TIME"),
        Line("lua", "ZREM mj:{acct-1a2b}:slots x"),
        Line("client", f"HGETALL mj:job:{JOB}"),
        Line("client", f"EVALSHA {'bb' * 20} 1 mj:job:{JOB}"),
        Line("lua", f"HMGET mj:job:{JOB} state"),
        Line("client", "EVALSHA cccccccccccc 0"),
        Line("lua", "GET k"),
        Line("client", "INFO memory"),
    ]
    profile = attribute(lines, names)
    assert profile.total == 8  # INFO left out, as the bench's meter does
    assert profile.scripts == {"capacity.lua.RELEASE": 1, "jobs.records._CAS": 1, "cccccccc": 1}
    assert profile.inside[("capacity.lua.RELEASE", "zrem", "mj:{<acct>}:slots")] == 1
    assert profile.inside[("capacity.lua.RELEASE", "time", "")] == 1
    assert profile.inside[("jobs.records._CAS", "hmget", "mj:job:<id>")] == 1
    assert profile.inside[("cccccccc", "get", "k")] == 1
    assert profile.client == {("hgetall", "mj:job:<id>"): 1}
    text = "\n".join(report(profile, jobs=2))
    assert text.startswith("4.0 commands per job (8 for 2 jobs)")
    assert "1.00  capacity.lua.RELEASE" in text


def test_the_guards_scripts_are_named_by_their_constants() -> None:
    names = script_names()
    release = hashlib.sha1(guard_lua.RELEASE.encode()).hexdigest()
    assert names[release] == "capacity.lua.RELEASE"
