"""obstore against boto3 for result storage, measured: `python -m tests.bench.storage_clients`.

Each client runs in a fresh process of its own against moto's S3 server (another process, on
loopback), so a client's CPU (its Rust threads included, for obstore) is the process's:
importing it, 100 puts of a 1 MiB image, a 30 MiB clip streamed from an iterator of 64 KiB
chunks (multipart, 5 MiB parts), 1,000 presigned GET links. Prints one JSON line per client.
docs/storage.md has the numbers of a run and what they decided.
"""

from __future__ import annotations

import json
import os
import resource
import subprocess
import sys
import time
from collections.abc import Callable, Iterator

from worker.devtools.embedded import free_port

IMAGE = os.urandom(1024 * 1024)
CLIP_MB, PART, PUTS, SIGNS = 30, 5 * 1024 * 1024, 100, 1000


def _cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def _chunks() -> Iterator[bytes]:
    chunk = os.urandom(64 * 1024)
    for _ in range(CLIP_MB * 16):
        yield chunk


def _timed(fn: Callable[[], object]) -> tuple[float, float]:
    cpu, wall = _cpu(), time.perf_counter()
    fn()
    return _cpu() - cpu, time.perf_counter() - wall


def run_client(name: str, endpoint: str) -> dict[str, float | str]:
    """Measure one client (in this process)."""
    cpu0 = _cpu()
    if name == "obstore":
        from datetime import timedelta

        import obstore
        from obstore.store import S3Store

        store = S3Store("bench", endpoint=endpoint, client_options={"allow_http": True})
        put = lambda key, data: obstore.put(store, key, data)  # noqa: E731
        stream = lambda key: obstore.put(  # noqa: E731
            store, key, _chunks(), use_multipart=True, chunk_size=PART, max_concurrency=2
        )
        sign = lambda key: obstore.sign(store, "GET", key, timedelta(hours=1))  # noqa: E731
    else:
        import boto3
        from boto3.s3.transfer import TransferConfig

        client = boto3.client("s3", endpoint_url=endpoint)
        put = lambda key, data: client.put_object(Bucket="bench", Key=key, Body=data)  # noqa: E731
        config = TransferConfig(multipart_chunksize=PART, max_concurrency=2)

        class _Reader:  # boto3's upload_fileobj wants a file: the chunks behind .read()
            def __init__(self) -> None:
                self.it, self.buf = _chunks(), b""

            def read(self, n: int = -1) -> bytes:
                while n < 0 or len(self.buf) < n:
                    try:
                        self.buf += next(self.it)
                    except StopIteration:
                        break
                out, self.buf = (self.buf, b"") if n < 0 else (self.buf[:n], self.buf[n:])
                return out

        stream = lambda key: client.upload_fileobj(_Reader(), "bench", key, Config=config)  # noqa: E731
        sign = lambda key: client.generate_presigned_url(  # noqa: E731
            "get_object", Params={"Bucket": "bench", "Key": key}, ExpiresIn=3600
        )
    put("warm", b"x")
    setup_cpu = _cpu() - cpu0
    puts_cpu, puts_s = _timed(lambda: [put(f"img/{i}.png", IMAGE) for i in range(PUTS)])
    clip_cpu, clip_s = _timed(lambda: stream("clip.mp4"))
    sign_cpu, _ = _timed(lambda: [sign(f"img/{i % PUTS}.png") for i in range(SIGNS)])
    rss_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return {
        "client": name,
        "import_and_first_put_cpu_ms": round(setup_cpu * 1000, 1),
        "put_1mib_cpu_ms": round(puts_cpu * 1000 / PUTS, 2),
        "put_1mib_wall_ms": round(puts_s * 1000 / PUTS, 2),
        "clip_30mib_cpu_ms": round(clip_cpu * 1000, 1),
        "clip_30mib_wall_s": round(clip_s, 2),
        "presign_cpu_us": round(sign_cpu * 1e6 / SIGNS, 1),
        "max_rss_mb": round(rss_mb, 1),
    }


def main() -> None:
    """Start moto, measure each client in a process of its own, print the results."""
    if len(sys.argv) == 4 and sys.argv[1] == "--one":
        print(json.dumps(run_client(sys.argv[2], sys.argv[3])))
        return
    port = free_port()
    server = subprocess.Popen(
        [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        import requests

        endpoint = f"http://127.0.0.1:{port}"
        for _ in range(100):
            try:
                requests.put(f"{endpoint}/bench", timeout=1)
                break
            except requests.ConnectionError:
                time.sleep(0.1)
        env = {
            **os.environ,
            "AWS_ACCESS_KEY_ID": "bench",
            "AWS_SECRET_ACCESS_KEY": "bench",
            "AWS_REGION": "us-east-1",
        }
        for name in ("obstore", "boto3"):
            out = subprocess.run(
                [sys.executable, "-m", "tests.bench.storage_clients", "--one", name, endpoint],
                env=env,
                capture_output=True,
                text=True,
                check=True,
            )
            print(out.stdout.strip())
    finally:
        server.terminate()
        server.wait(10)


if __name__ == "__main__":
    main()
