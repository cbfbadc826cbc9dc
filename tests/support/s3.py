"""A real S3 protocol endpoint on loopback for the storage tests, and a proxy that breaks it.

`S3Server` is moto in server mode (`moto.server.ThreadedMotoServer`: werkzeug serving moto's
S3 over HTTP on 127.0.0.1) with one bucket: no MinIO server installs from the package
registries here, and no client is mocked — obstore speaks HTTP to it. moto keeps its objects
in this process, so a server stopped and started again on the same port still has them.

moto does not check signatures, of requests or of presigned links: the tests check a
presigned link's signature themselves (`presigned_signature_ok`, botocore's SigV4 query
signer, an implementation independent of obstore's).

`FaultyProxy` sits between the workers and the server: `down()` closes its port (connections
refused, as a store that is away), `up()` opens it again on the same port, `fail_writes`
answers 500 to that share of writes (PUT, POST) without passing them on, `slow_writes_s`
holds each write that long first (so a kill can land mid-upload; `counts["in_flight"]`).
"""

from __future__ import annotations

import contextlib
import http.client
import json
import logging
import random
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

import requests

from worker.devtools.embedded import free_port

ACCESS_KEY, SECRET_KEY, REGION = "mjtestkey", "mjtestsecret", "us-east-1"


class S3Server:
    """moto's S3 on a loopback port, with `bucket` made at start."""

    def __init__(self, bucket: str = "mj-results", port: int = 0) -> None:
        self.bucket = bucket
        self.port = port or free_port()
        self._server: Any = None

    @property
    def endpoint(self) -> str:
        """The endpoint URL (`AWS_ENDPOINT_URL`)."""
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> S3Server:
        """Serve (again, on the same port); make the bucket if it is not there."""
        from moto.server import ThreadedMotoServer

        logging.getLogger("werkzeug").setLevel(logging.WARNING)  # a line per request otherwise
        self._server = ThreadedMotoServer(ip_address="127.0.0.1", port=self.port, verbose=False)
        self._server.start()
        requests.put(f"{self.endpoint}/{self.bucket}", timeout=10)  # 409 if it exists: fine
        return self

    def stop(self) -> None:
        """Stop serving (the objects stay in this process)."""
        if self._server is not None:
            self._server.stop()
            self._server = None

    def client(self) -> Any:
        """A boto3 client on the server, for the tests' own looks at the bucket."""
        import boto3

        return boto3.client(
            "s3",
            endpoint_url=self.endpoint,
            aws_access_key_id=ACCESS_KEY,
            aws_secret_access_key=SECRET_KEY,
            region_name=REGION,
        )

    def make_public(self) -> None:
        """Let anyone read the bucket's objects (a bucket policy), as for public links."""
        statement = {
            "Effect": "Allow",
            "Principal": "*",
            "Action": "s3:GetObject",
            "Resource": f"arn:aws:s3:::{self.bucket}/*",
        }
        policy = json.dumps({"Version": "2012-10-17", "Statement": [statement]})
        self.client().put_bucket_policy(Bucket=self.bucket, Policy=policy)

    def keys(self, prefix: str = "") -> list[str]:
        """Every object name in the bucket under `prefix`, sorted."""
        found = self.client().list_objects_v2(Bucket=self.bucket, Prefix=prefix)
        return sorted(o["Key"] for o in found.get("Contents", []))

    def body(self, key: str) -> bytes:
        """An object's bytes."""
        return bytes(self.client().get_object(Bucket=self.bucket, Key=key)["Body"].read())

    def head(self, key: str) -> dict[str, Any]:
        """An object's Content-Type, metadata and ETag."""
        return dict(self.client().head_object(Bucket=self.bucket, Key=key))


def storage_env(endpoint: str, bucket: str, prefix: str = "results") -> dict[str, str]:
    """The environment a worker needs to store into `bucket` at `endpoint`."""
    return {
        "MJ_STORAGE_URL": f"s3://{bucket}/{prefix}",
        "AWS_ENDPOINT_URL": endpoint,
        "AWS_ACCESS_KEY_ID": ACCESS_KEY,
        "AWS_SECRET_ACCESS_KEY": SECRET_KEY,
        "AWS_REGION": REGION,
    }


def presigned_signature_ok(url: str) -> bool:
    """Whether a presigned GET link carries the SigV4 signature botocore computes for it with
    the tests' secret (same time, expiry and host): moto itself never checks."""
    from botocore.auth import S3SigV4QueryAuth
    from botocore.awsrequest import AWSRequest
    from botocore.credentials import Credentials

    parts = urlsplit(url)
    query = {k: v[0] for k, v in parse_qs(parts.query).items()}
    signature = query.pop("X-Amz-Signature")
    expires = int(query["X-Amz-Expires"])
    bare = f"{parts.scheme}://{parts.netloc}{parts.path}"
    request = AWSRequest(method="GET", url=bare)
    request.context["timestamp"] = query["X-Amz-Date"]  # add_auth would take the time now
    auth = S3SigV4QueryAuth(Credentials(ACCESS_KEY, SECRET_KEY), "s3", REGION, expires=expires)
    auth._modify_request_before_signing(request)
    canonical = auth.canonical_request(request)
    ours = auth.signature(auth.string_to_sign(request, canonical), request)
    return bool(ours == signature)


GATE_MAX_S = 60.0  # a held write goes on after this even if nobody releases it


@dataclass
class FaultyProxy:
    """A loopback HTTP proxy in front of `upstream` (host, port) that can fail on purpose."""

    upstream: tuple[str, int]
    fail_writes: float = 0.0
    slow_writes_s: float = 0.0  # each write waits this long before it goes on (a far store)
    port: int = field(default_factory=free_port)
    seed: int = 7
    counts: dict[str, int] = field(
        default_factory=lambda: {"writes": 0, "failed": 0, "in_flight": 0}
    )

    def __post_init__(self) -> None:
        self._server: ThreadingHTTPServer | None = None
        self._random = random.Random(self.seed)
        self._lock = threading.Lock()
        self.gate = threading.Event()  # writes go on while it is set (`hold`, `release`)
        self.gate.set()

    def hold(self) -> None:
        """Writes wait at the proxy (in flight, counted) until `release`: a kill then lands
        mid-upload for certain, not by timing."""
        self.gate.clear()

    def release(self) -> None:
        """Let the held writes, and every later one, go on."""
        self.gate.set()

    @property
    def endpoint(self) -> str:
        """What the workers take for the store's endpoint."""
        return f"http://127.0.0.1:{self.port}"

    def up(self) -> FaultyProxy:
        """Listen (again) on the same port."""
        proxy = self

        class Handler(_Forward):
            owner = proxy

        ThreadingHTTPServer.allow_reuse_address = True
        self._server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        self._server.daemon_threads = True
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        return self

    def down(self) -> None:
        """Close the port: every connection is refused until `up()`."""
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def flight(self, change: int) -> None:
        """Count a write starting (+1) or ending (-1)."""
        with self._lock:
            self.counts["in_flight"] += change

    def should_fail(self, method: str) -> bool:
        """Whether this request is a write that fails (counted)."""
        if method not in ("PUT", "POST"):
            return False
        with self._lock:
            self.counts["writes"] += 1
            failed = self._random.random() < self.fail_writes
            self.counts["failed"] += failed
            return failed


class _Forward(BaseHTTPRequestHandler):
    """Passes one request to the upstream server and its answer back, whole."""

    owner: FaultyProxy
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: object) -> None:
        """Quiet."""

    def _serve(self) -> None:
        # A client that died mid-request (a killed worker) gets no answer.
        with contextlib.suppress(BrokenPipeError, ConnectionResetError):
            self._forward()

    def _forward(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        if self.owner.should_fail(self.command):
            self._answer(500, b"<Error><Code>InternalError</Code></Error>", {})
            return
        write = self.command in ("PUT", "POST")
        if write:
            self.owner.flight(+1)
            self.owner.gate.wait(GATE_MAX_S)
            time.sleep(self.owner.slow_writes_s)  # the far store's own slowness, on purpose
        conn = http.client.HTTPConnection(*self.owner.upstream, timeout=60)
        try:
            conn.request(self.command, self.path, body=body, headers=dict(self.headers.items()))
            resp = conn.getresponse()
            data = resp.read()
            headers = {k: v for k, v in resp.getheaders() if k.lower() not in _HOP}
            self._answer(resp.status, data, headers)
        finally:
            conn.close()
            if write:
                self.owner.flight(-1)

    def _answer(self, status: int, data: bytes, headers: dict[str, str]) -> None:
        self.send_response(status)
        for name, value in headers.items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(data)

    do_GET = do_PUT = do_POST = do_HEAD = do_DELETE = _serve


_HOP = {"content-length", "transfer-encoding", "connection", "keep-alive", "server", "date"}
