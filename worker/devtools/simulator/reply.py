"""What a handler answers: status, body, headers, or an abrupt connection reset."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

_ABSENT: Any = object()


@dataclass
class Reply:
    """An HTTP answer; `reset` closes the socket without answering, after `delay` seconds."""

    status: int
    body: bytes = b""
    content_type: str = "application/json"
    headers: dict[str, str] = field(default_factory=dict)
    reset: bool = False
    delay: float = 0.0


def json_reply(status: int, payload: Any, headers: dict[str, str] | None = None) -> Reply:
    """A JSON answer."""
    body = json.dumps(payload, ensure_ascii=False).encode()
    return Reply(status, body, headers=dict(headers or {}))


def envelope(status: int, message: str, data: Any = _ABSENT) -> Reply:
    """TTAPI's `{"status": "FAILED", "message", "data"}` envelope; `data` may be left out."""
    payload: dict[str, Any] = {"status": "FAILED", "message": message}
    if data is not _ABSENT:
        payload["data"] = data
    return json_reply(status, payload)


def ok(data: Any) -> Reply:
    """A 200 SUCCESS envelope."""
    return json_reply(200, {"status": "SUCCESS", "message": "success", "data": data})


def html(status: int, title: str) -> Reply:
    """An nginx-style HTML error page, as a gateway in front of TTAPI would send."""
    page = (
        f"<html>\r\n<head><title>{title}</title></head>\r\n<body>\r\n"
        f"<center><h1>{title}</h1></center>\r\n<hr><center>nginx</center>\r\n</body>\r\n</html>\r\n"
    )
    return Reply(status, page.encode(), content_type="text/html")
