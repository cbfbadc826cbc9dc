"""Where `mj.download` may write: MJ_DOWNLOAD_DIR or a sub-folder of it, one folder per job."""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any

from worker.ttapi import errors

_SAFE_ID = re.compile(r"^[A-Za-z0-9_-][A-Za-z0-9._-]{0,127}$")


def target_directory(root: str | None, directory: str | None = None) -> Path:
    """The folder `mj.download` writes into: MJ_DOWNLOAD_DIR (`root`) or a sub-folder of it.

    Task arguments come from any client of the broker, so they must not pick a place on the
    worker's disk. The rule: no `directory` → `root`; a relative `directory` (no `..`) → that
    sub-folder of `root`; an absolute one is accepted only when it is `root` or lies inside it
    (then it is that sub-folder), so callers that pass the full path keep working. Symbolic
    links are followed before the final check, so a link inside `root` cannot lead out either.
    """
    if not root:
        raise errors.InvalidRequest(
            "MJ_DOWNLOAD_DIR: not set; mj.download stores images only under it "
            "(set it on the worker)"
        )
    if directory is not None and not isinstance(directory, str):
        raise errors.InvalidRequest(
            f"directory: expected a string (a sub-folder of MJ_DOWNLOAD_DIR), "
            f"got {type(directory).__name__}"
        )
    if "\x00" in (directory or ""):
        raise errors.InvalidRequest("directory: must not contain a NUL character")
    base, given = Path(root), Path(directory or ".")
    if given.is_absolute():
        rel = os.path.relpath(os.path.abspath(given), os.path.abspath(base))
        if rel == ".." or rel.startswith(".." + os.sep):
            raise errors.InvalidRequest(
                f"directory: {directory!r} is outside MJ_DOWNLOAD_DIR ({root}); "
                "give a sub-folder of it"
            )
        given = Path(rel)
    elif ".." in given.parts:
        raise errors.InvalidRequest(
            f"directory: {directory!r} must not contain '..'; give a sub-folder of MJ_DOWNLOAD_DIR"
        )
    target = base / given
    if not Path(os.path.realpath(target)).is_relative_to(os.path.realpath(base)):
        raise errors.InvalidRequest(
            f"directory: {directory!r} leads outside MJ_DOWNLOAD_DIR ({root}) through a "
            "symbolic link"
        )
    return target


def safe_job_id(value: Any) -> str:
    """`value` if it is usable as one path component (no `/`, no `..`, no leading dot)."""
    text = str(value or "")
    if not _SAFE_ID.match(text):
        raise errors.InvalidRequest(
            f"job_id: {text[:80]!r} is not a safe directory name "
            "(letters, digits, '-', '_', '.'; no '/', no leading '.')"
        )
    return text
