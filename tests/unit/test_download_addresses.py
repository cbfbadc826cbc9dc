"""The address rule of `mj.download`: only public addresses, checked where the socket goes."""

from __future__ import annotations

import shutil
import socket
import ssl
import subprocess
from collections.abc import Iterator
from ipaddress import ip_address
from pathlib import Path
from typing import Any

import pytest
import requests

from config.settings import ConfigError, load_settings
from tests.support.scripted import Reply, ScriptedServer
from worker.jobs.download import TRANSIENT_ERRORS, download_result
from worker.jobs.download.addresses import AddressGuard, Resolved, refusal
from worker.jobs.download.errors import AddressRefused
from worker.jobs.download.transport import guarded_session

PNG = {"Content-Type": "image/png"}


def is_literal(host: str) -> bool:
    try:
        ip_address(host)
    except ValueError:
        return False
    return True


class FakeResolver:
    """A DNS that knows a few names (port kept from the request) and counts its lookups."""

    def __init__(self, names: dict[str, list[str]]) -> None:
        self.names = names
        self.lookups: list[str] = []

    def __call__(self, host: str, port: int) -> list[Resolved]:
        self.lookups.append(host)
        if host not in self.names and not is_literal(host):
            raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")
        out: list[Resolved] = []
        for text in self.names.get(host, [host]):
            v6 = ip_address(text).version == 6
            family = socket.AF_INET6 if v6 else socket.AF_INET
            out.append((family, (text, port, 0, 0) if v6 else (text, port)))
        return out


@pytest.mark.parametrize(
    ("address", "rule"),
    [
        ("127.0.0.1", "loopback"),
        ("127.8.9.10", "loopback"),
        ("10.1.2.3", "private"),
        ("172.16.0.1", "private"),
        ("192.168.1.1", "private"),
        ("169.254.169.254", "link-local"),
        ("0.0.0.0", "unspecified"),
        ("224.0.0.1", "multicast"),
        ("240.0.0.1", "reserved"),
        ("100.64.0.1", "non-global"),
        ("::1", "loopback"),
        ("::", "unspecified"),
        ("fe80::1", "link-local"),
        ("fe80::1%2", "link-local"),
        ("fec0::1", "site-local"),
        ("fc00::1", "private"),
        ("ff02::1", "multicast"),
        ("::ffff:127.0.0.1", "loopback"),
        ("::ffff:10.0.0.1", "private"),
        ("::ffff:169.254.169.254", "link-local"),
        ("64:ff9b::7f00:1", "loopback"),
        ("2002:7f00:1::", "loopback"),
        ("2002:a9fe:a9fe::", "link-local"),
        ("::7f00:1", "reserved"),
    ],
)
def test_an_address_that_is_not_public_breaks_a_named_rule(address: str, rule: str) -> None:
    assert refusal(ip_address(address)) == rule


@pytest.mark.parametrize(
    "address",
    ["8.8.8.8", "93.184.216.34", "2606:4700:4700::1111", "::ffff:8.8.8.8", "64:ff9b::808:808"],
)
def test_a_public_address_breaks_no_rule(address: str) -> None:
    assert refusal(ip_address(address)) is None


def test_a_loopback_url_is_refused_by_default_before_any_request_and_is_final(
    scripted: ScriptedServer, tmp_path: Path
) -> None:
    scripted.push(Reply(200, b"x", headers=PNG))
    result = {"job_id": "job-1", "image_url": f"{scripted.url}/img/job-1/0.png"}
    with pytest.raises(AddressRefused) as info:
        download_result(result, tmp_path)
    message = str(info.value)
    assert "download from 127.0.0.1 refused" in message
    assert "resolves to 127.0.0.1 (loopback)" in message and "MJ_DOWNLOAD_ALLOW_PRIVATE" in message
    assert not isinstance(info.value, TRANSIENT_ERRORS)
    assert type(info.value)(message).message == message  # Celery rebuilds it from its message
    assert scripted.requests == [] and list(tmp_path.rglob("*.png")) == []


def test_a_name_is_judged_by_the_address_it_resolves_to(tmp_path: Path) -> None:
    result = {"job_id": "job-1", "image_url": "http://localhost:9/x.png"}
    with pytest.raises(AddressRefused, match=r"download from localhost refused: .*loopback"):
        download_result(result, tmp_path)


def test_the_refusal_names_the_host_but_never_the_urls_password_or_query(
    scripted: ScriptedServer, tmp_path: Path
) -> None:
    url = scripted.url.replace("//", "//user:hunter2@") + "/x.png?signature=s3cr3t"
    with pytest.raises(AddressRefused) as info:
        download_result({"job_id": "job-1", "image_url": url}, tmp_path)
    assert "127.0.0.1" in str(info.value)
    assert "hunter2" not in str(info.value) and "s3cr3t" not in str(info.value)


def test_a_name_with_one_private_address_among_public_ones_is_refused_without_connecting() -> None:
    dns = FakeResolver({"mixed.test": ["8.8.8.8", "10.0.0.7"]})
    with (
        guarded_session(AddressGuard(resolve=dns)) as session,
        pytest.raises(AddressRefused, match=r"mixed\.test refused: it resolves to 10\.0\.0\.7"),
    ):
        session.get("http://mixed.test/x.png", timeout=(0.5, 0.5))
    assert dns.lookups == ["mixed.test"]


def test_the_connection_goes_to_the_checked_address_with_a_single_lookup(
    scripted: ScriptedServer,
) -> None:
    port = scripted.httpd.server_address[1]
    dns = FakeResolver({"media.test": ["127.0.0.1"]})  # unknown to the system's resolver
    scripted.push(Reply(200, b"ok", headers=PNG))
    with guarded_session(AddressGuard(allow_private=True, resolve=dns)) as session:
        resp = session.get(f"http://media.test:{port}/a.png", timeout=5)
    assert resp.status_code == 200 and resp.content == b"ok"
    assert dns.lookups == ["media.test"]  # no second lookup a rebinding DNS could answer
    assert scripted.requests[0]["headers"]["Host"] == f"media.test:{port}"


def test_a_name_that_does_not_resolve_is_a_connection_error_worth_a_retry() -> None:
    dns = FakeResolver({})  # the store turns requests' ConnectionError into ConnectError
    with (
        guarded_session(AddressGuard(resolve=dns)) as session,
        pytest.raises(requests.ConnectionError, match=r"Failed to resolve 'nowhere\.test'"),
    ):
        session.get("http://nowhere.test/x.png", timeout=(0.5, 0.5))
    assert dns.lookups == ["nowhere.test"]


# --- HTTPS: the socket goes to the checked address, TLS still checks the name ----------------


@pytest.fixture
def certificate(tmp_path: Path) -> Iterator[tuple[Path, Path]]:
    """A self-signed certificate (and key) for `media.test`, made with the openssl tool."""
    if shutil.which("openssl") is None:
        pytest.skip("needs the openssl command")
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    subprocess.run(
        [
            *("openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1"),
            *("-keyout", str(key), "-out", str(cert), "-subj", "/CN=media.test"),
            *("-addext", "subjectAltName=DNS:media.test"),
        ],
        check=True,
        capture_output=True,
    )
    yield cert, key


@pytest.fixture
def tls_server(certificate: tuple[Path, Path]) -> Iterator[ScriptedServer]:
    """The scripted server, speaking TLS with the `media.test` certificate."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(*certificate)
    server = ScriptedServer()
    server.httpd.socket = context.wrap_socket(server.httpd.socket, server_side=True)
    server.start()
    try:
        yield server
    finally:
        server.stop()


def https_get(server: ScriptedServer, ca: Path, names: dict[str, list[str]], host: str) -> Any:
    port = server.httpd.server_address[1]
    guard = AddressGuard(allow_private=True, resolve=FakeResolver(names))
    with guarded_session(guard) as session:
        session.verify = str(ca)
        return session.get(f"https://{host}:{port}/a.png", timeout=5)


def test_https_to_a_checked_address_still_verifies_the_certificate_for_the_name(
    tls_server: ScriptedServer, certificate: tuple[Path, Path]
) -> None:
    tls_server.push(Reply(200, b"tls", headers=PNG))
    resp = https_get(tls_server, certificate[0], {"media.test": ["127.0.0.1"]}, "media.test")
    assert resp.content == b"tls"
    assert tls_server.requests[0]["headers"]["Host"].startswith("media.test:")


def test_https_refuses_a_certificate_made_for_another_name(
    tls_server: ScriptedServer, certificate: tuple[Path, Path]
) -> None:
    with pytest.raises(requests.exceptions.SSLError):
        https_get(tls_server, certificate[0], {"other.test": ["127.0.0.1"]}, "other.test")
    assert tls_server.requests == []


# --- the setting -----------------------------------------------------------------------------


def test_private_addresses_are_refused_unless_mj_download_allow_private_is_set(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    assert load_settings().mj_download_allow_private is False
    monkeypatch.setenv("MJ_DOWNLOAD_ALLOW_PRIVATE", "true")
    assert load_settings().mj_download_allow_private is True
    monkeypatch.setenv("MJ_DOWNLOAD_ALLOW_PRIVATE", "perhaps")
    with pytest.raises(ConfigError, match="MJ_DOWNLOAD_ALLOW_PRIVATE"):
        load_settings()


def test_the_download_task_does_not_retry_a_refused_address(
    monkeypatch: pytest.MonkeyPatch, scripted: ScriptedServer, tmp_path: Path
) -> None:
    import tasks

    monkeypatch.setattr(tasks.app.mj_settings, "mj_download_dir", str(tmp_path))
    monkeypatch.setattr(tasks.app.mj_settings, "mj_download_allow_private", False)
    result = {"job_id": "job-1", "image_url": f"{scripted.url}/img/job-1/0.png"}
    outcome = tasks.download.apply(args=[result])
    assert outcome.state == "FAILURE" and isinstance(outcome.result, AddressRefused)
    assert outcome.result.message.startswith("download from 127.0.0.1 refused")
    assert scripted.requests == []
