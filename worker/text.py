"""Redis replies as text, whatever the client's `decode_responses` setting."""

from __future__ import annotations

from typing import Any


def text(value: Any) -> str:
    """One reply item as `str` (bytes decoded as UTF-8)."""
    return value.decode() if isinstance(value, bytes) else str(value)
