"""The deployment files keep the shape CONTRACT.md promises (docker-compose.yml, Procfile)."""

from __future__ import annotations

import shlex
from pathlib import Path
from typing import Any

import pytest
import yaml

ROOT = Path(__file__).resolve().parent.parent
SERVICES = ("redis", "worker", "beat", "webhook", "flower")


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    data = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    assert isinstance(data, dict)
    return data


@pytest.fixture(scope="module")
def procfile() -> dict[str, str]:
    lines = (ROOT / "Procfile").read_text().splitlines()
    entries = [line.split(":", 1) for line in lines if line.strip() and not line.startswith("#")]
    return {name.strip(): command.strip() for name, command in entries}


def command(service: dict[str, Any]) -> list[str]:
    """A service's command as a list, whichever form the file uses."""
    raw = service["command"]
    return list(raw) if isinstance(raw, list) else shlex.split(raw)


def test_compose_has_every_service_of_the_contract(compose: dict[str, Any]) -> None:
    assert set(SERVICES) <= set(compose["services"])


def test_compose_redis_keeps_an_append_only_file_on_a_volume_and_never_evicts(
    compose: dict[str, Any],
) -> None:
    redis = compose["services"]["redis"]
    args = " ".join(command(redis))
    assert "--appendonly yes" in args
    assert "--maxmemory-policy noeviction" in args
    volume = redis["volumes"][0].split(":")
    assert volume[1] == "/data" and volume[0] in compose["volumes"]
    assert "redis-cli" in redis["healthcheck"]["test"]


@pytest.mark.parametrize(("service", "start"), [
    ("worker", ["celery", "-A", "worker", "worker"]),
    ("beat", ["celery", "-A", "worker", "beat"]),
    ("webhook", ["waitress-serve"]),
])
def test_compose_app_services_run_the_contract_commands_once_redis_is_healthy(
    compose: dict[str, Any], service: str, start: list[str],
) -> None:
    spec = compose["services"][service]
    assert command(spec)[:len(start)] == start
    assert spec["depends_on"]["redis"]["condition"] == "service_healthy"
    assert spec["restart"] == "unless-stopped"
    assert spec["build"] == "."
    env = spec["environment"]
    assert env["REDIS_URL"] == "redis://redis:6379/0"
    assert {"TTAPI_API_KEY", "TTAPI_API_KEYS", "MJ_HOOK_BASE_URL"} <= set(env)
    assert not any(value.startswith("sk-") for value in env.values())  # no key in the file


def test_compose_webhook_serves_the_receiver_on_port_8000_published_as_port(
    compose: dict[str, Any],
) -> None:
    webhook = compose["services"]["webhook"]
    args = command(webhook)
    assert "worker.webhook:app_from_env" in args and "--port=8000" in args
    assert webhook["ports"] == ["${PORT:-8000}:8000"]


def test_compose_flower_watches_the_same_broker(compose: dict[str, Any]) -> None:
    flower = compose["services"]["flower"]
    assert flower["image"].startswith("mher/flower")
    args = command(flower)
    assert args[:2] == ["celery", "--broker=redis://redis:6379/0"] and "flower" in args
    assert any(str(p).endswith("5555:5555") for p in flower["ports"])


def test_the_dockerfile_installs_the_project_on_python_312_slim() -> None:
    text = (ROOT / "Dockerfile").read_text()
    assert "FROM python:3.12-slim" in text
    assert "pip install ." in text


def test_the_procfile_has_worker_beat_and_web_with_web_on_port(
    procfile: dict[str, str],
) -> None:
    assert set(procfile) == {"worker", "beat", "web"}
    assert procfile["worker"].startswith("celery -A worker worker")
    assert procfile["beat"].startswith("celery -A worker beat")
    web = shlex.split(procfile["web"])
    assert web[0] == "waitress-serve" and "--port=$PORT" in web
    assert web[web.index("--call") + 1] == "worker.webhook:app_from_env"


def test_the_web_entry_point_is_a_zero_argument_factory() -> None:
    import inspect

    from worker.webhook import app_from_env

    assert not inspect.signature(app_from_env).parameters
