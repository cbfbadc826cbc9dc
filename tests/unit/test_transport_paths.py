"""What a TTAPI request puts on the wire: its path below the base URL's, its query, headers and
body; the same after `close()`, and through the environment's proxy (absolute form)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from tests.support.scripted import Reply, ScriptedServer
from worker.ttapi.transport import USER_AGENT, Transport


@pytest.fixture
def server() -> Iterator[tuple[str, list[dict[str, Any]]]]:
    """The project's recording loopback server, answering every request 200."""
    scripted = ScriptedServer().start()
    scripted.push(*[Reply(200, {"status": "SUCCESS"}) for _ in range(3)])
    try:
        yield scripted.url, scripted.requests
    finally:
        scripted.stop()


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
    assert (get["method"], get["path"]) == ("GET", "/base/midjourney/v1/fetch?jobId=a+b%26c")
    assert get["headers"]["TT-API-KEY"] == "k"
    assert get["headers"]["User-Agent"] == USER_AGENT
    assert get["headers"]["Host"] == url.removeprefix("http://")
    assert (post["method"], post["path"]) == ("POST", "/base/midjourney/v1/imagine")
    assert post["body"] == {"x": 1}
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
    assert [s["path"] for s in seen] == ["/a", "/b"]


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
    assert [s["path"] for s in seen] == [
        "http://ttapi.invalid:8081/base/midjourney/v1/fetch?jobId=j"
    ]
