"""Redirects of a download: followed by hand, at most five, http(s) only, each hop checked."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from tests.support.scripted import Reply, ScriptedServer
from tests.unit.test_download_addresses import FakeResolver
from worker.devtools.simulator.images import png_bytes
from worker.jobs.download import TRANSIENT_ERRORS, download_result
from worker.jobs.download.addresses import Address, AddressGuard
from worker.jobs.download.errors import AddressRefused, RedirectRefused
from worker.jobs.download.fetch import MAX_REDIRECTS, open_following
from worker.jobs.download.transport import guarded_session

PNG = png_bytes("redirected")
IMAGE = {"Content-Type": "image/png"}


def moved(location: str, status: int = 302) -> Reply:
    return Reply(status, "moved", headers={"Location": location})


def result_for(server: ScriptedServer) -> dict[str, str]:
    return {"job_id": "job-1", "image_url": f"{server.url}/img/job-1/0.png"}


@pytest.mark.parametrize("status", [301, 302, 303, 307, 308])
def test_a_redirect_is_followed_and_the_file_is_stored_under_the_results_url(
    scripted: ScriptedServer, tmp_path: Path, status: int
) -> None:
    scripted.push(moved("/cdn/final.png", status), Reply(200, PNG, headers=IMAGE))
    result = result_for(scripted)
    out = download_result(result, tmp_path, allow_private=True)
    assert Path(out["files"][0]["path"]).read_bytes() == PNG
    assert out["files"][0]["url"] == result["image_url"]
    assert [r["path"] for r in scripted.requests] == ["/img/job-1/0.png", "/cdn/final.png"]


def test_five_redirects_are_followed(scripted: ScriptedServer, tmp_path: Path) -> None:
    assert MAX_REDIRECTS == 5
    hops = [moved(f"{scripted.url}/hop/{n}") for n in range(MAX_REDIRECTS)]
    scripted.push(*hops, Reply(200, PNG, headers=IMAGE))
    out = download_result(result_for(scripted), tmp_path, allow_private=True)
    assert out["files"][0]["bytes"] == len(PNG) and len(scripted.requests) == 6


def test_a_sixth_redirect_is_refused_at_once_and_is_final(
    scripted: ScriptedServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    sleeps: list[float] = []
    monkeypatch.setattr(time, "sleep", sleeps.append)
    scripted.push(*(moved(f"/loop/{n}") for n in range(10)))
    with pytest.raises(RedirectRefused, match="more than 5 redirects") as info:
        download_result(result_for(scripted), tmp_path, allow_private=True)
    assert "download from 127.0.0.1" in str(info.value)
    assert not isinstance(info.value, TRANSIENT_ERRORS)
    assert len(scripted.requests) == 6 and sleeps == []
    assert list(tmp_path.rglob("*.png")) == []


@pytest.mark.parametrize(
    "location", ["file:///etc/passwd", "ftp://127.0.0.1/x.png", "gopher://127.0.0.1:6379/_INFO"]
)
def test_a_redirect_to_a_scheme_other_than_http_or_https_is_refused_and_is_final(
    scripted: ScriptedServer, tmp_path: Path, location: str
) -> None:
    scripted.push(moved(location))
    with pytest.raises(RedirectRefused, match="only http and https") as info:
        download_result(result_for(scripted), tmp_path, allow_private=True)
    scheme = location.split(":")[0]
    assert f"redirected to a {scheme}: URL" in str(info.value)
    assert "passwd" not in str(info.value) and "INFO" not in str(info.value)
    assert not isinstance(info.value, TRANSIENT_ERRORS) and len(scripted.requests) == 1


def test_a_redirect_without_a_location_is_refused_and_its_body_is_not_stored(
    scripted: ScriptedServer, tmp_path: Path
) -> None:
    scripted.push(Reply(302, "<html>moved somewhere</html>"))
    with pytest.raises(RedirectRefused, match="HTTP 302 without a Location"):
        download_result(result_for(scripted), tmp_path, allow_private=True)
    assert list(tmp_path.rglob("*.png")) == []


class TrustsFirstHop(AddressGuard):
    """The real rule, except for `first.test` (standing in for a public CDN)."""

    def refusal(self, host: str, address: Address) -> str | None:
        return None if host == "first.test" else super().refusal(host, address)


def test_each_hop_is_checked_again_so_a_redirect_to_a_private_address_is_refused(
    scripted: ScriptedServer,
) -> None:
    port = scripted.httpd.server_address[1]
    dns = FakeResolver({"first.test": ["127.0.0.1"], "inside.test": ["10.0.0.5"]})
    scripted.push(moved(f"http://inside.test:{port}/admin"))
    with (
        guarded_session(TrustsFirstHop(resolve=dns)) as session,
        pytest.raises(AddressRefused, match=r"inside\.test refused: it resolves to 10\.0\.0\.5"),
    ):
        open_following(session, f"http://first.test:{port}/a.png", timeout=(2, 2))
    assert dns.lookups == ["first.test", "inside.test"] and len(scripted.requests) == 1


def test_a_redirect_to_a_loopback_literal_is_refused_at_that_hop(
    scripted: ScriptedServer,
) -> None:
    port = scripted.httpd.server_address[1]
    dns = FakeResolver({"first.test": ["127.0.0.1"]})
    scripted.push(moved(f"http://127.0.0.1:{port}/private"))
    with (
        guarded_session(TrustsFirstHop(resolve=dns)) as session,
        pytest.raises(AddressRefused, match=r"resolves to 127\.0\.0\.1 \(loopback\)"),
    ):
        open_following(session, f"http://first.test:{port}/a.png", timeout=(2, 2))
    assert [r["path"] for r in scripted.requests] == ["/a.png"]
