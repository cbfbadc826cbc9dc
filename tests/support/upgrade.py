"""The release before this one, checked out beside the tree under test, for upgrade tests.

`RELEASE_BEFORE` is the last commit of the release before issue 24 (the project has no tags).
`checkout` writes that commit's tree into a directory (`git archive` from the repository the
tests run in: in CI a fresh clone of main, whose history holds it); a `CeleryProcess` with
`root=` that directory runs its code on the same interpreter and virtualenv, which
`unmet_requirements` checks first (the old code's dependencies must be installed here too).
"""

from __future__ import annotations

import ast
import gc
import importlib.metadata
import io
import subprocess
import tarfile
import tomllib
from pathlib import Path

from packaging.requirements import Requirement

from worker.devtools.embedded import PACKAGE_ROOT

RELEASE_BEFORE = "99457b4"
# The job result's keys as the release before wrote them (its `worker.jobs.spec.job_result`;
# tests/e2e/test_e2e_upgrade.py reads them from its checkout and checks this copy).
RESULT_KEYS_BEFORE = frozenset(
    {
        "job_id", "action", "status", "prompt", "image_url", "discord_image", "images",
        "components", "seed", "width", "height", "account", "parent_job_id", "submitted_at",
        "finished_at", "task_id", "kind", "mode", "quota", "videos",
    }
)  # fmt: skip


def reachable(commit: str, repo: Path = PACKAGE_ROOT) -> str:
    """Why `commit` cannot be checked out from `repo` ("" when it can)."""
    try:
        found = subprocess.run(
            ["git", "-C", str(repo), "rev-parse", "--verify", "--quiet", f"{commit}^{{commit}}"],
            capture_output=True,
            text=True,
            timeout=30,
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        return f"git is not usable here ({exc})"
    if found.returncode != 0:
        return f"commit {commit} is not in the history of {repo} (a shallow clone?)"
    return ""


def checkout(commit: str, dest: Path, repo: Path = PACKAGE_ROOT) -> Path:
    """Write `commit`'s tree into `dest` (created); returns `dest`."""
    tree = subprocess.run(
        ["git", "-C", str(repo), "archive", "--format=tar", commit],
        capture_output=True,
        check=True,
        timeout=120,
    ).stdout
    dest.mkdir(parents=True, exist_ok=True)
    with tarfile.open(fileobj=io.BytesIO(tree)) as archive:
        archive.extractall(dest, filter="data")
    return dest


def unmet_requirements(root: Path) -> list[str]:
    """The runtime dependencies of the project at `root` that this virtualenv does not meet."""
    project = tomllib.loads((root / "pyproject.toml").read_text())["project"]
    unmet = []
    for line in project["dependencies"]:
        wanted = Requirement(line)
        try:
            have = importlib.metadata.version(wanted.name)
        except importlib.metadata.PackageNotFoundError:
            unmet.append(f"{line} (not installed)")
            continue
        if not wanted.specifier.contains(have, prereleases=True):
            unmet.append(f"{line} (installed: {have})")
    return unmet


def result_keys(root: Path) -> set[str]:
    """The keys of the job result as the project at `root` writes it: the dict literal that
    `worker/jobs/spec.py`'s `job_result` returns."""
    source = (root / "worker" / "jobs" / "spec.py").read_text()
    # No garbage collection while the tree is built: in CI, CPython 3.11.7's AST constructor
    # raised "SystemError: AST constructor recursion depth mismatch" while a collection ran a
    # `__del__` (an earlier test's AsyncResult, reconnecting to a Redis long gone) in the middle
    # of it; the constructor's error path is CPython's gh-106905.
    collecting = gc.isenabled()
    gc.disable()
    try:
        tree = ast.parse(source)
    finally:
        if collecting:
            gc.enable()
    for node in ast.walk(tree):
        if isinstance(node, ast.FunctionDef) and node.name == "job_result":
            for ret in ast.walk(node):
                if isinstance(ret, ast.Return) and isinstance(ret.value, ast.Dict):
                    return {k.value for k in ret.value.keys if isinstance(k, ast.Constant)}
    raise LookupError(f"no job_result returning a dict literal in {root}")
