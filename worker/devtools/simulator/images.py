"""Tiny valid PNG images, so image URLs handed out by the simulator really download."""

from __future__ import annotations

import hashlib
import struct
import zlib

_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def png_bytes(name: str, size: int = 32) -> bytes:
    """An RGB gradient PNG whose colour is derived from `name` (a few hundred bytes)."""
    r, g, b = hashlib.sha256(name.encode()).digest()[:3]
    rows = []
    for y in range(size):
        shade = y * 255 // max(size - 1, 1)
        pixel = bytes(((r + shade) % 256, g, (b + 255 - shade) % 256))
        rows.append(b"\x00" + pixel * size)
    header = struct.pack(">IIBBBBB", size, size, 8, 2, 0, 0, 0)
    return (
        _SIGNATURE
        + _chunk(b"IHDR", header)
        + _chunk(b"IDAT", zlib.compress(b"".join(rows), 9))
        + _chunk(b"IEND", b"")
    )


def _chunk(tag: bytes, data: bytes) -> bytes:
    crc = zlib.crc32(tag + data) & 0xFFFFFFFF
    return struct.pack(">I", len(data)) + tag + data + struct.pack(">I", crc)
