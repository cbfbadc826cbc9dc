"""Tiny valid MP4 files, so the video URLs handed out by the simulator really download."""

from __future__ import annotations

import hashlib
import struct

#: 1.0 as a 16.16 fixed-point number (rate) and the identity matrix of an `mvhd` box.
_ONE = 0x00010000
_MATRIX = (_ONE, 0, 0, 0, _ONE, 0, 0, 0, 0x40000000)


def _box(kind: bytes, payload: bytes) -> bytes:
    return struct.pack(">I", 8 + len(payload)) + kind + payload


def mp4_bytes(name: str, seconds: int = 5, size: int = 0) -> bytes:
    """An ISO-BMFF file: `ftyp` (isom), a `moov` with its `mvhd`, and an `mdat` from `name`.

    A few hundred bytes, different for each `name`, with a movie header saying `seconds` long
    (TTAPI's clips are 5 s); it holds no track, which is enough for a downloader to store it.
    With `size`, its `mdat` is padded so the file has (at least) that many bytes, the size of a
    real clip (a few MB), for tests that must see a clip streamed.
    """
    ftyp = _box(b"ftyp", b"isom" + struct.pack(">I", 0x200) + b"isomiso2mp41")
    timescale = 1000
    mvhd = _box(
        b"mvhd",
        struct.pack(">I", 0)  # version 0, no flags
        + struct.pack(">IIII", 0, 0, timescale, seconds * timescale)
        + struct.pack(">IH", _ONE, 0x0100)  # rate 1.0, volume 1.0
        + bytes(10)  # reserved
        + struct.pack(">9I", *_MATRIX)
        + bytes(24)  # pre-defined
        + struct.pack(">I", 1),  # next track id
    )
    head = ftyp + _box(b"moov", mvhd)
    payload = hashlib.sha256(name.encode()).digest() * 8
    if size > len(head) + 8 + len(payload):
        payload *= (size - len(head) - 8) // len(payload) + 1
        payload = payload[: size - len(head) - 8]
    return head + _box(b"mdat", payload)
