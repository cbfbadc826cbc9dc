"""Lua scripts are `.lua` files under `worker/lua/`: every one named in the code loads as package
data, none lies unused, and a non-editable install ships them."""

from __future__ import annotations

import re
import tomllib
from fnmatch import fnmatch
from importlib.resources import files
from pathlib import Path

import pytest

from worker.capacity import lua as guard_lua
from worker.lua import script

ROOT = Path(__file__).resolve().parents[2]
PACKAGE = ROOT / "worker" / "lua"
NAMED = re.compile(r'"([\w/]+\.lua)"')


def named_in_code() -> set[str]:
    """Every `"room/module/name.lua"` the worker's Python spells."""
    found: set[str] = set()
    for path in (ROOT / "worker").rglob("*.py"):
        found |= set(NAMED.findall(path.read_text()))
    return found


def on_disk() -> set[str]:
    return {p.relative_to(PACKAGE).as_posix() for p in PACKAGE.rglob("*.lua")}


def test_every_named_script_loads_through_importlib_resources() -> None:
    named = named_in_code()
    assert len(named) >= 19
    for name in sorted(named):
        node = files("worker.lua")
        for part in name.split("/"):
            node = node.joinpath(part)
        assert node.is_file(), name
        assert node.read_text(encoding="utf-8").strip(), name


def test_no_lua_file_lies_unused() -> None:
    assert on_disk() == named_in_code()


def test_the_package_data_pattern_covers_every_lua_file() -> None:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())
    patterns = project["tool"]["setuptools"]["package-data"]["worker.lua"]
    for name in on_disk():
        assert any(fnmatch(name, p) for p in patterns), name


def test_a_script_is_read_once_and_each_part_follows_a_newline() -> None:
    first = script("capacity/leases/renew.lua")
    assert script("capacity/leases/renew.lua") is first
    assert first.startswith("\nif redis.call('GET', KEYS[1])")


@pytest.mark.parametrize("name", ["ACQUIRE", "RELEASE", "FILL", "STATE", "UNRESOLVED"])
def test_guard_scripts_start_with_the_prelude(name: str) -> None:
    prelude = script("capacity/guard/prelude.lua")
    text = getattr(guard_lua, name)
    assert text.startswith(prelude + "\n")
    assert len(text) > len(prelude) + 1
