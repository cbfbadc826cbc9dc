"""Whether a patch meets the library version it was written for; a loud WARNING when not.

Each patch names the versions it was read against (`5.7.0`, or `5.7.*` for a whole series).
On any other version it either refuses (is not applied: a trim or a workaround whose internals
may have changed) or applies anyway (a thin wrapper around a public-enough entry point); each
patch module says which, and why, in its docstring.
"""

from __future__ import annotations

import logging

log = logging.getLogger("worker.adapter.patches")


def matches(installed: str, written_for: tuple[str, ...]) -> bool:
    """True if `installed` is one of `written_for` (a trailing `.*` takes a whole series)."""
    for wanted in written_for:
        if wanted.endswith(".*"):
            if installed.startswith(wanted[:-1]):
                return True
        elif installed == wanted:
            return True
    return False


def checked(
    patch: str, library: str, installed: str, written_for: tuple[str, ...], *, refuse: bool
) -> bool:
    """True if `patch` may be applied over `library` at version `installed`; on a version it
    was not written for, logs a WARNING naming the patch and both versions, and says whether
    it is applied anyway (`refuse=False`) or not."""
    if matches(installed, written_for):
        return True
    log.warning(
        "PATCH %s was written for %s %s, but %s %s is installed: %s; re-check the patch "
        "against this version (see its module's docstring)",
        patch,
        library,
        " or ".join(written_for),
        library,
        installed,
        "NOT applied" if refuse else "applied anyway",
    )
    return not refuse


__all__ = ["checked", "matches"]
