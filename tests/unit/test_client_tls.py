"""Over TLS, only a failed handshake or an untrusted certificate proves a submit was not sent.

A TLS-terminating proxy in front of TTAPI (`tests/support/tls_proxy.py`) that aborts after it
forwarded the request leaves a job TTAPI created and a client that sees a TLS error: that error
must make the submit ambiguous (reconciled), never "not sent" (retried, paid twice).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from config.settings import Account
from tests.support.simulators import KEY, LABEL, SimFactory, account_stats
from tests.support.tls_proxy import TLSProxy
from worker.devtools.simulator import Simulator
from worker.ttapi import errors
from worker.ttapi.client import TTAPIClient


@pytest.fixture
def proxy(make_sim: SimFactory, tmp_path: Path) -> Iterator[tuple[TLSProxy, Simulator]]:
    sim = make_sim()
    with TLSProxy(sim.url, tmp_path, abort_rate=1.0, abort_paths=["/imagine"]) as tls:
        yield tls, sim


def test_a_tls_error_after_the_request_went_out_may_have_created_the_job(
    proxy: tuple[TLSProxy, Simulator], monkeypatch: pytest.MonkeyPatch
) -> None:
    tls, sim = proxy
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(tls.ca_path))  # how the client picks its CA
    client = TTAPIClient(Account.from_key(KEY), tls.url)
    assert client.info().max_queue  # TLS itself works through the proxy
    with pytest.raises(errors.TTAPIError) as caught:
        client.imagine("a job behind an aborting proxy")
    assert tls.aborted == 1
    assert account_stats(sim, LABEL)["submits"] == 1  # TTAPI created it
    assert caught.value.may_have_created, type(caught.value).__name__


def test_a_certificate_the_client_does_not_trust_means_nothing_was_sent(
    proxy: tuple[TLSProxy, Simulator], monkeypatch: pytest.MonkeyPatch
) -> None:
    tls, sim = proxy
    monkeypatch.delenv("REQUESTS_CA_BUNDLE", raising=False)
    monkeypatch.delenv("CURL_CA_BUNDLE", raising=False)
    client = TTAPIClient(Account.from_key(KEY), tls.url)  # certifi's CAs: not the proxy's
    with pytest.raises(errors.ConnectError) as caught:
        client.imagine("a job that never left")
    assert not caught.value.may_have_created
    assert account_stats(sim, LABEL)["submits"] == 0
