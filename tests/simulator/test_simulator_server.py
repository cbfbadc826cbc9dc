"""The simulator's HTTP front: clients that vanish are not errors."""

from __future__ import annotations

import socket
import struct
from urllib.parse import urlsplit

import pytest
import requests

from tests.support.simulators import KEY
from worker.devtools.simulator import Simulator


def test_a_client_reset_mid_request_prints_no_traceback(
    sim: Simulator, capfd: pytest.CaptureFixture[str]
) -> None:
    # A worker killed while its keep-alive connection is open resets it: the fault run's
    # output must not fill with the server thread's tracebacks.
    url = urlsplit(sim.url)
    for _ in range(3):
        sock = socket.create_connection((url.hostname, url.port))
        sock.sendall(b"GET /midjourney/v1/fetch?jobId=x HTTP/1.1\r\nHost: x\r\n")  # unfinished
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        sock.close()  # RST, not FIN
    # A full request after them is served (the reset ones were accepted before it).
    answer = requests.get(
        f"{sim.url}/midjourney/v1/fetch", params={"jobId": "x"}, headers={"TT-API-KEY": KEY}
    )
    assert answer.status_code in (200, 404)
    assert "Traceback" not in capfd.readouterr().err
