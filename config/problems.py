"""pydantic's validation errors as plain problems: where, what rule, what kind, what value.

Settings, request models, schedule files and webhook bodies each word their one-line errors for
their reader (an environment variable, a field, a schedule entry, a body location); this is the
one place that reads pydantic's error dicts.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from pydantic import ValidationError


@dataclass(frozen=True)
class Problem:
    """One thing wrong with the input."""

    loc: tuple[str | int, ...]
    message: str  # pydantic's words, without its "Value error, " prefix
    kind: str  # pydantic's error type: missing, extra_forbidden, ...
    value: Any  # the offending input: show it only where it cannot be a secret

    @property
    def where(self) -> str:
        """The location as dotted text (`images.2`), '' for the whole input."""
        return ".".join(str(p) for p in self.loc)


def problems(exc: ValidationError) -> list[Problem]:
    """Every error of `exc`, in pydantic's order."""
    return [
        Problem(
            loc=tuple(err.get("loc", ())),
            message=str(err.get("msg", "invalid")).removeprefix("Value error, "),
            kind=str(err.get("type", "")),
            value=err.get("input"),
        )
        for err in exc.errors(include_url=False)
    ]
