"""The deployment files keep their public shape: compose services and Procfile processes.

`docker-compose.yml` is checked against the Compose Specification's JSON schema, vendored in
tests/schemas/ (no Docker engine and no network needed).
"""

from __future__ import annotations

import json
import re
import shlex
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml

from config.settings import Settings

ROOT = Path(__file__).resolve().parents[2]
SERVICES = ("redis", "worker", "beat", "webhook", "flower")
APP_SERVICES = ("worker", "beat", "webhook")
SCHEMA = Path(__file__).resolve().parents[1] / "support" / "schemas" / "compose-spec.json"


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


def test_compose_is_valid_under_the_compose_specification_schema(
    compose: dict[str, Any],
) -> None:
    schema = json.loads(SCHEMA.read_text())
    jsonschema.validate(compose, schema, cls=jsonschema.Draft7Validator)


def test_the_schema_check_catches_a_misspelt_service_option(compose: dict[str, Any]) -> None:
    schema = json.loads(SCHEMA.read_text())
    broken = json.loads(json.dumps(compose))
    broken["services"]["worker"]["stop_grace_periode"] = "90s"
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(broken, schema, cls=jsonschema.Draft7Validator)


@pytest.mark.parametrize(
    ("service", "pattern"),
    [
        ("redis", r"redis:7\.4\.\d+-alpine"),
        ("redis-replica-1", r"redis:7\.4\.\d+-alpine"),
        ("sentinel-1", r"redis:7\.4\.\d+-alpine"),
        ("flower", r"mj-worker:\d+\.\d+\.\d+"),
    ],
)
def test_compose_images_are_pinned_to_a_release(
    compose: dict[str, Any],
    service: str,
    pattern: str,
) -> None:
    assert re.fullmatch(pattern, compose["services"][service]["image"])


@pytest.mark.parametrize("service", [*APP_SERVICES, "flower"])
def test_every_service_that_needs_settings_reads_an_optional_env_file(
    compose: dict[str, Any],
    service: str,
) -> None:
    assert compose["services"][service]["env_file"] == [{"path": ".env", "required": False}]


def test_redis_gets_no_env_file_so_no_key_reaches_its_container(
    compose: dict[str, Any],
) -> None:
    assert "env_file" not in compose["services"]["redis"]


def test_the_worker_health_is_a_celery_ping_of_its_own_node_and_it_stops_gracefully(
    compose: dict[str, Any],
) -> None:
    worker = compose["services"]["worker"]
    kind, check = worker["healthcheck"]["test"]
    assert kind == "CMD-SHELL"
    assert check.startswith("celery -A worker inspect ping -d celery@$$HOSTNAME")
    assert worker["stop_grace_period"] == "90s"


def test_the_beat_health_is_the_age_of_its_schedule_file_on_a_volume(
    compose: dict[str, Any],
    tmp_path: Path,
) -> None:
    import os
    import subprocess
    import sys
    import time

    beat = compose["services"]["beat"]
    schedule = command(beat)[command(beat).index("--schedule") + 1]
    folder = str(Path(schedule).parent)
    assert f"beat-state:{folder}" in beat["volumes"] and "beat-state" in compose["volumes"]
    kind, *argv = beat["healthcheck"]["test"]
    assert kind == "CMD" and argv[:2] == ["python", "-c"]

    def healthy(age_s: float) -> bool:
        path = tmp_path / "celerybeat-schedule"
        path.write_text("x")
        os.utime(path, (time.time() - age_s, time.time() - age_s))
        code = argv[2].replace(folder, str(tmp_path))
        return subprocess.run([sys.executable, "-c", code], timeout=30).returncode == 0

    assert healthy(30) and not healthy(3600)


def test_the_webhook_health_asks_healthz(compose: dict[str, Any]) -> None:
    test = compose["services"]["webhook"]["healthcheck"]["test"]
    assert "http://127.0.0.1:8000/healthz" in " ".join(test)


def test_downloads_and_schedules_are_volumes_of_the_app_services(
    compose: dict[str, Any],
) -> None:
    worker = compose["services"]["worker"]
    assert worker["environment"]["MJ_DOWNLOAD_DIR"] == "/data/downloads"
    assert "downloads:/data/downloads" in worker["volumes"] and "downloads" in compose["volumes"]
    for name in APP_SERVICES:
        mounts = compose["services"][name]["volumes"]
        assert "./schedules:/etc/mj-worker/schedules:ro" in mounts


def test_the_compose_file_says_how_to_protect_flower_and_the_webhook() -> None:
    text = (ROOT / "docker-compose.yml").read_text()
    assert "FLOWER_BASIC_AUTH" in text and "--basic-auth" in text
    assert "TLS" in text


def test_env_example_names_only_real_settings_and_every_contract_variable() -> None:
    text = (ROOT / ".env.example").read_text()
    named = set(re.findall(r"^#? ?([A-Z][A-Z0-9_]+)=", text, flags=re.MULTILINE))
    settings = {name.upper() for name in Settings.model_fields}
    # Besides the settings: Flower's own, and the S3 client's usual variables (result storage).
    aws = {"AWS_ENDPOINT_URL", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_REGION"}
    assert named - settings == {"FLOWER_BASIC_AUTH", *aws}
    assert {
        "TTAPI_API_KEY",
        "TTAPI_API_KEYS",
        "TTAPI_BASE_URL",
        "TTAPI_MAX_IN_PROGRESS",
        "MJ_HOOK_BASE_URL",
        "PORT",
        "REDIS_URL",
        "MJ_LOG_FORMAT",
    } <= named
    assert re.search(r"^TTAPI_API_KEY=$", text, flags=re.MULTILINE)  # no value shipped


def test_git_ignores_the_env_file_with_the_keys() -> None:
    ignored = (ROOT / ".gitignore").read_text().splitlines()
    assert ".env" in ignored


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


@pytest.mark.parametrize(
    ("service", "start"),
    [
        ("worker", ["celery", "-A", "worker", "worker"]),
        ("beat", ["celery", "-A", "worker", "beat"]),
        ("webhook", ["mjw", "web"]),
    ],
)
def test_compose_app_services_run_the_contract_commands_once_redis_is_healthy(
    compose: dict[str, Any],
    service: str,
    start: list[str],
) -> None:
    spec = compose["services"][service]
    assert command(spec)[: len(start)] == start
    assert spec["depends_on"]["redis"]["condition"] == "service_healthy"
    assert spec["restart"] == "unless-stopped"
    assert spec["build"] == "."
    env = spec["environment"]
    assert env["REDIS_URL"] == "${REDIS_URL:-redis://redis:6379/0}"
    assert {"TTAPI_API_KEY", "TTAPI_API_KEYS", "MJ_HOOK_BASE_URL"} <= set(env)
    assert not any(value.startswith("sk-") for value in env.values())  # no key in the file


def test_compose_web_serves_hooks_on_8000_as_port_and_the_private_side_on_loopback_only(
    compose: dict[str, Any],
) -> None:
    webhook = compose["services"]["webhook"]
    assert command(webhook) == ["mjw", "web", "--port", "8000"]
    assert webhook["environment"]["MJ_ADMIN_BIND"] == "0.0.0.0:8001"
    assert webhook["ports"] == ["${PORT:-8000}:8000", "127.0.0.1:8001:8001"]


def test_compose_publishes_only_the_webhook_port_on_every_interface(
    compose: dict[str, Any],
) -> None:
    public = [
        (name, str(port))
        for name, spec in compose["services"].items()
        for port in spec.get("ports", [])
        if not str(port).startswith("127.0.0.1:")
    ]
    assert public == [("webhook", "${PORT:-8000}:8000")]


def test_flower_has_a_healthcheck_on_its_own_healthcheck_path(compose: dict[str, Any]) -> None:
    test = compose["services"]["flower"]["healthcheck"]["test"]
    assert "http://127.0.0.1:5555/healthcheck" in " ".join(test)


def test_compose_flower_watches_the_same_broker_through_the_apps_configuration(
    compose: dict[str, Any],
) -> None:
    flower = compose["services"]["flower"]
    assert (
        flower["build"] == "."
        and flower["environment"] == compose["services"]["worker"]["environment"]
    )
    assert command(flower)[:4] == ["celery", "-A", "worker", "flower"]
    assert not any(a.startswith("--broker") for a in command(flower))  # REDIS_URL, as the app's
    assert any(str(p).endswith("5555:5555") for p in flower["ports"])


def test_the_dockerfile_installs_the_project_on_a_pinned_python_312_slim() -> None:
    text = (ROOT / "Dockerfile").read_text()
    assert re.search(r"^FROM python:3\.12\.\d+-slim-\w+$", text, flags=re.MULTILINE)
    assert 'pip install ".[flower]"' in text
    assert "chown mj:mj /var/lib/mj-beat /data/downloads" in text  # volumes start writable


def test_the_procfile_has_worker_beat_and_web_with_web_serving_both_sides(
    procfile: dict[str, str],
) -> None:
    assert set(procfile) == {"worker", "beat", "web"}
    assert procfile["worker"].startswith("celery -A worker worker")
    assert procfile["beat"].startswith("celery -A worker beat")
    assert shlex.split(procfile["web"]) == ["mjw", "web"]  # PORT and MJ_ADMIN_BIND from env


def test_the_web_entry_point_is_a_zero_argument_factory() -> None:
    import inspect

    from worker.webhook.receiver import app_from_env

    assert not inspect.signature(app_from_env).parameters


def test_compose_stores_results_in_a_pinned_minio_whose_bucket_is_made_before_the_app(
    compose: dict[str, Any],
) -> None:
    services = compose["services"]
    assert re.fullmatch(r"minio/minio:RELEASE\.[\dT:-]+Z", services["minio"]["image"])
    assert re.fullmatch(r"minio/mc:RELEASE\.[\dT:-]+Z", services["minio-setup"]["image"])
    assert command(services["minio-setup"]) == ["mb", "--ignore-existing", "store/mj-results"]
    # Multipart uploads a killed copy leaves behind are cleaned up (MinIO's stale uploads).
    assert services["minio"]["environment"]["MINIO_API_STALE_UPLOADS_EXPIRY"] == "24h"
    assert services["minio"]["ports"] == ["127.0.0.1:9000:9000", "127.0.0.1:9001:9001"]
    for name in APP_SERVICES:
        env = services[name]["environment"]
        assert env["MJ_STORAGE_URL"] == "${MJ_STORAGE_URL-s3://mj-results/results}"
        assert env["AWS_ENDPOINT_URL"] == "${AWS_ENDPOINT_URL:-http://minio:9000}"
        wait = services[name]["depends_on"]["minio-setup"]
        assert wait == {"condition": "service_completed_successfully"}


# -- profile `ha`: two replicas, three sentinels, every process following the master ---------
HA_URL = "sentinel://sentinel-1:26379;sentinel://sentinel-2:26379;sentinel://sentinel-3:26379/0"
REPLICAS = ("redis-replica-1", "redis-replica-2")
SENTINELS = ("sentinel-1", "sentinel-2", "sentinel-3")


def test_the_ha_profile_adds_two_replicas_of_redis_and_three_sentinels(
    compose: dict[str, Any],
) -> None:
    services = compose["services"]
    profiled = {name for name, spec in services.items() if spec.get("profiles") == ["ha"]}
    assert profiled == {*REPLICAS, *SENTINELS}
    for name in REPLICAS:
        args = " ".join(command(services[name]))
        assert "--replicaof redis 6379" in args and f"--replica-announce-ip {name}" in args
        assert "--appendonly yes" in args and "--maxmemory-policy noeviction" in args
        assert services[name]["volumes"][0].split(":")[0] in compose["volumes"]
        assert "redis-cli" in services[name]["healthcheck"]["test"]
    assert "--replica-announce-ip redis" in " ".join(command(services["redis"]))  # once demoted


def test_each_sentinel_writes_a_config_that_watches_redis_with_a_quorum_of_two(
    compose: dict[str, Any], tmp_path: Path
) -> None:
    import os
    import subprocess

    for name in SENTINELS:
        spec = compose["services"][name]
        shell = command(spec)[2].replace("$$", "$").replace("/data/", f"{tmp_path}/")
        shell = shell.replace('exec redis-server "$conf" --sentinel', 'cat "$conf"')
        env = {**os.environ, **spec["environment"]}
        written = subprocess.run(["sh", "-c", shell], env=env, capture_output=True, text=True)
        lines = written.stdout.splitlines()
        assert "sentinel monitor mymaster redis 6379 2" in lines, written
        assert f"sentinel announce-ip {name}" in lines and "sentinel resolve-hostnames yes" in lines
        assert lines.index("sentinel resolve-hostnames yes") < lines.index(
            "sentinel monitor mymaster redis 6379 2"
        )  # a hostname in `monitor` needs resolve-hostnames first
        (tmp_path / "sentinel.conf").unlink()
        assert spec["volumes"][0].split(":")[0] in compose["volumes"]
        assert "get-master-addr-by-name mymaster" in " ".join(spec["healthcheck"]["test"])


def test_the_sentinel_url_the_compose_file_names_reaches_every_sentinel(
    compose: dict[str, Any],
) -> None:
    text = (ROOT / "docker-compose.yml").read_text()
    assert f"REDIS_URL={HA_URL}" in text
    target = Settings(redis_url=HA_URL).redis_target()
    assert [host for host, _ in target.sentinels] == list(SENTINELS)
    assert {port for _, port in target.sentinels} == {26379}
    assert target.master == compose["x-app"]["environment"]["MJ_REDIS_SENTINEL_MASTER"].split(":-")[
        1
    ].rstrip("}")


@pytest.mark.parametrize("service", [*APP_SERVICES, "flower"])
def test_every_app_process_takes_its_redis_url_from_env_and_waits_for_a_sentinel_under_ha(
    compose: dict[str, Any], service: str
) -> None:
    spec = compose["services"][service]
    assert spec["environment"]["REDIS_URL"].startswith("${REDIS_URL:-")
    assert spec["depends_on"]["sentinel-1"] == {"condition": "service_healthy", "required": False}
