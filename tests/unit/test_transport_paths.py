"""What a TTAPI request puts on the wire: its path below the base URL's, its query, headers and
body; the same after `close()`, and through the environment's proxy (absolute form)."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from worker.ttapi.transport import USER_AGENT, Transport


class _Recorder(BaseHTTPRequestHandler):
    seen: list[dict[str, Any]]

    def _answer(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        self.seen.append(
            {"method": self.command, "target": self.path, "headers": self.headers, "body": body}
        )
        out = b'{"status": "SUCCESS"}'
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(out)))
        self.end_headers()
        self.wfile.write(out)

    do_GET = do_POST = _answer

    def log_message(self, *_: Any) -> None:
        pass


@pytest.fixture
def server() -> Iterator[tuple[str, list[dict[str, Any]]]]:
    seen: list[dict[str, Any]] = []
    handler = type("Handler", (_Recorder,), {"seen": seen})
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}", seen
    finally:
        httpd.shutdown()
        httpd.server_close()


@pytest.fixture(autouse=True)
def no_proxy_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "NO_PROXY"):
        monkeypatch.delenv(name, raising=False)
        monkeypatch.delenv(name.lower(), raising=False)


def test_a_request_goes_below_the_base_urls_path_with_its_query_headers_and_body(
    server: tuple[str, list[dict[str, Any]]],
) -> None:
    url, seen = server
    t = Transport(url + "/base/", connect_timeout=2.0, read_timeout=2.0)
    try:
        got = t.request(
            "GET", "/midjourney/v1/fetch", headers={"TT-API-KEY": "k"}, params={"jobId": "a b&c"}
        )
        assert got.status == 200 and got.json() == {"status": "SUCCESS"}
        t.request("POST", "/midjourney/v1/imagine", headers={"TT-API-KEY": "k"}, json={"x": 1})
    finally:
        t.close()
    get, post = seen
    assert (get["method"], get["target"]) == ("GET", "/base/midjourney/v1/fetch?jobId=a+b%26c")
    assert get["headers"]["TT-API-KEY"] == "k"
    assert get["headers"]["User-Agent"] == USER_AGENT
    assert get["headers"]["Host"] == url.removeprefix("http://")
    assert (post["method"], post["target"]) == ("POST", "/base/midjourney/v1/imagine")
    assert json.loads(post["body"]) == {"x": 1}
    assert post["headers"]["Content-Type"] == "application/json"


def test_requests_after_close_open_new_connections(
    server: tuple[str, list[dict[str, Any]]],
) -> None:
    url, seen = server
    t = Transport(url, connect_timeout=2.0, read_timeout=2.0)
    try:
        t.request("GET", "/a", headers={})
        t.close()
        assert t.request("GET", "/b", headers={}).status == 200
    finally:
        t.close()
    assert [s["target"] for s in seen] == ["/a", "/b"]


def test_through_the_environments_proxy_the_target_is_the_absolute_url(
    server: tuple[str, list[dict[str, Any]]], monkeypatch: pytest.MonkeyPatch
) -> None:
    url, seen = server
    monkeypatch.setenv("HTTP_PROXY", url)
    t = Transport("http://ttapi.invalid:8081/base", connect_timeout=2.0, read_timeout=2.0)
    try:
        t.request("GET", "/midjourney/v1/fetch", headers={}, params={"jobId": "j"})
    finally:
        t.close()
    assert [s["target"] for s in seen] == [
        "http://ttapi.invalid:8081/base/midjourney/v1/fetch?jobId=j"
    ]
