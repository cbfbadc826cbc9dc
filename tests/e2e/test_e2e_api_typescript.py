"""The README's TypeScript client (clients/typescript) for real: its committed types are what
openapi-typescript makes of today's /v1/openapi.json, and its example posts a pipeline to a live
`mjw web` (a worker and the simulator behind it) and follows it to its end.

The test installs the client's packages itself (`npm ci`, once; node_modules is not committed)
and compiles it with `tsc`. Without node and npm, or when npm cannot reach its registry, it is
skipped, saying why; any other failure (the client does not compile, the types are stale, the
job does not end) fails it.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import requests

from tests.support.api import make_api
from tests.support.stack import Stack
from tests.support.web import ROOT, Web, running_web

pytestmark = pytest.mark.e2e
CLIENT = ROOT / "clients" / "typescript"
KEY = "sk-e2e-api-typescript-0001"
REGENERATE = (
    "cd clients/typescript && npm ci && "
    "MJW_SPEC=http://127.0.0.1:8000/v1/openapi.json npm run generate (against a running mjw web)"
)


def _run(
    argv: list[str], timeout: float, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        argv,
        cwd=CLIENT,
        env={**os.environ, **(env or {})},
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


@pytest.fixture(scope="module")
def built() -> Path:
    """The client installed (`npm ci`, when its lock file is newer than what is installed) and
    compiled to dist/."""
    node, npm = shutil.which("node"), shutil.which("npm")
    if node is None or npm is None:
        pytest.skip("the TypeScript client needs node (>= 18) and npm on PATH")
    major = _run([node, "-p", "process.versions.node.split('.')[0]"], 30).stdout.strip()
    if not major.isdigit() or int(major) < 18:
        pytest.skip(f"the TypeScript client needs node >= 18 (found {major or 'none'})")
    stamp = CLIENT / "node_modules" / ".package-lock.json"
    lock = CLIENT / "package-lock.json"
    if not stamp.exists() or stamp.stat().st_mtime < lock.stat().st_mtime:
        done = _run([npm, "ci", "--no-audit", "--no-fund"], 600)
        if done.returncode != 0:
            pytest.skip(f"npm ci could not install the client's packages: {done.stderr[-500:]}")
    compiled = _run([npm, "run", "-s", "build"], 300)
    assert compiled.returncode == 0, compiled.stdout + compiled.stderr
    return CLIENT


def test_the_committed_types_are_what_the_spec_makes(built: Path, tmp_path: Path) -> None:
    spec = tmp_path / "openapi.json"
    spec.write_text(json.dumps(make_api().client.get("/v1/openapi.json").json()))
    tool = str(built / "node_modules" / ".bin" / "openapi-typescript")
    argv = [tool, str(spec), "-o", "src/schema.d.ts", "--default-non-nullable", "false"]
    checked = _run([*argv, "--check"], 120)
    assert checked.returncode == 0, (
        f"clients/typescript/src/schema.d.ts is not the spec's: {REGENERATE}\n"
        + checked.stdout
        + checked.stderr
    )


@pytest.fixture
def web(make_stack: Callable[..., Stack]) -> Iterator[tuple[Web, Stack]]:
    stack = make_stack(keys=[KEY], capacity=2, fast_s=1.0)
    with running_web(stack.env) as w:
        yield w, stack


def test_the_typescript_client_posts_a_pipeline_and_follows_it_to_its_end(
    built: Path, web: tuple[Web, Stack]
) -> None:
    api, stack = web
    prompt = "a paper boat from typescript"
    env = {"MJW_URL": api.url, "MJW_TOKEN": api.token, "MJW_PROMPT": prompt}
    ran = _run(["node", "dist/post-and-poll.js"], 120, env=env)
    assert ran.returncode == 0, ran.stdout + ran.stderr
    job = json.loads(ran.stdout.strip().splitlines()[-1])
    assert job["status"] == "succeeded" and job["metadata"] == {"from": "post-and-poll.ts"}
    assert [s["name"] for s in job["steps"]] == ["imagine", "upsample2"]
    assert job["result"]["action"] == "upsample2" and job["result"]["image_url"]
    seen = requests.get(f"{api.url}/v1/jobs/{job['id']}", headers=api.bearer, timeout=15).json()
    assert seen["status"] == "succeeded"
    ran_at_ttapi = [j for j in stack.sim.stats()["jobs"].values() if j["prompt"] == prompt]
    assert len(ran_at_ttapi) == 2  # posted twice with one key: one imagine, one upsample
