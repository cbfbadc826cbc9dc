"""Every Redis Lua script of the worker, one `.lua` file each, shipped as package data.

Files sit under a folder per room and module that runs them: ``capacity/guard/acquire.lua``
is run by :mod:`worker.capacity.guard`. What a script's KEYS and ARGV are, and what it
returns, is said beside the Python that calls it. This package imports nothing of the worker,
so every layer may read its scripts here.
"""

from __future__ import annotations

from functools import cache
from importlib.resources import files


@cache
def script(*parts: str) -> str:
    """The script made of `parts` (paths below this package), read once and kept.

    Each part follows a newline, as the inline strings they came from did, so a script's text,
    and the SHA1 Redis caches it by, stay the same; a prelude is composed by naming it first.
    """
    root = files(__name__)
    texts = []
    for part in parts:
        node = root
        for name in part.split("/"):
            node = node.joinpath(name)
        texts.append("\n" + node.read_text(encoding="utf-8"))
    return "".join(texts)


__all__ = ["script"]
