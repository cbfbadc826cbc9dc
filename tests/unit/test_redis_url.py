"""`REDIS_URL` parsed once: a plain URL passes through, a sentinel:// URL gives each consumer
its own form."""

from __future__ import annotations

import pytest

from config.redis_url import parse_redis_url
from config.settings import ConfigError, load_settings
from worker.adapter.app import create_app

SENTINELS = "sentinel://:s3cret@h1:26379;sentinel://h2:26380;sentinel://h3/3"


def test_a_plain_url_is_every_consumers_form_unchanged() -> None:
    target = parse_redis_url("redis://:pw@cache:6379/2")
    assert not target.is_sentinel
    assert target.celery_url() == "redis://:pw@cache:6379/2"
    assert target.transport_options(1.0) == {}


def test_the_db_and_password_written_anywhere_go_on_every_sentinel_part() -> None:
    target = parse_redis_url(SENTINELS, master="cache", sentinel_password="sp")
    assert target.sentinels == (("h1", 26379), ("h2", 26380), ("h3", 26379))
    assert (target.db, target.password, target.master) == (3, "s3cret", "cache")
    # kombu and Celery's SentinelBackend read the db and password from the first part only
    assert target.celery_url() == (
        "sentinel://:s3cret@h1:26379/3;sentinel://:s3cret@h2:26380/3;sentinel://:s3cret@h3:26379/3"
    )
    assert target.transport_options(0.5) == {
        "master_name": "cache",
        "sentinel_kwargs": {"socket_timeout": 0.5, "socket_connect_timeout": 0.5, "password": "sp"},
    }


def test_a_password_with_url_characters_survives_the_rewrite() -> None:
    target = parse_redis_url("sentinel://:p%40ss%3Aw@h1;sentinel://h2/1")
    assert target.password == "p@ss:w"
    assert target.celery_url().startswith("sentinel://:p%40ss%3Aw@h1:26379/1;")


@pytest.mark.parametrize(
    ("url", "says"),
    [
        ("sentinels://h1:26379", "TLS to sentinels"),
        ("sentinel://h1:26379;rediss://h2:6379", "TLS to sentinels"),
        ("sentinel://h1:26379/0?ssl_cert_reqs=required", "takes no query"),
        ("sentinel://h1:26379/1;sentinel://h2:26379/2", "different dbs"),
        ("sentinel://:a@h1;sentinel://:b@h2", "different passwords"),
        ("sentinel://h1:26379/x", "must be a number"),
        ("sentinel://h1:99999", "port"),
        ("sentinel://h1;redis://h2", "every ;-separated part"),
        ("memcache://h1", "must be a redis://"),
    ],
)
def test_a_sentinel_url_that_would_be_read_wrong_is_refused(url: str, says: str) -> None:
    with pytest.raises(ValueError, match=says):
        parse_redis_url(url)


def test_settings_take_a_sentinel_url_with_its_master_and_hide_its_passwords(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("REDIS_URL", SENTINELS)
    monkeypatch.setenv("MJ_REDIS_SENTINEL_MASTER", "cache")
    monkeypatch.setenv("MJ_REDIS_SENTINEL_PASSWORD", "sentinels-only")
    settings = load_settings()
    assert settings.redis_target().master == "cache"
    assert settings.redis_target().sentinel_password == "sentinels-only"
    assert "sentinels-only" not in repr(settings)
    assert "s3cret" not in repr(settings.redis_target())
    assert settings.redis_target().masked.startswith("sentinel://:***@h1:26379;")


def test_a_bad_sentinel_url_stops_start_up_without_echoing_its_password(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("REDIS_URL", "sentinel://:s3cret@h1;sentinel://:other@h2")
    with pytest.raises(ConfigError, match="REDIS_URL: the sentinel parts") as caught:
        load_settings()
    assert "s3cret" not in str(caught.value) and "other" not in str(caught.value)


def test_min_replicas_is_one_under_sentinel_and_zero_on_one_redis(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    assert load_settings().redis_min_replicas() == 0
    assert load_settings(redis_url=SENTINELS).redis_min_replicas() == 1
    assert load_settings(redis_url=SENTINELS, mj_redis_min_replicas=2).redis_min_replicas() == 2
    monkeypatch.setenv("MJ_REDIS_MIN_REPLICAS", "")
    assert load_settings(redis_url=SENTINELS).redis_min_replicas() == 1


def test_the_celery_app_gets_every_part_with_the_db_and_the_sentinel_options() -> None:
    app = create_app(load_settings(redis_url=SENTINELS, mj_redis_sentinel_master="cache"))
    assert app.conf.broker_url.count("/3") == 3 and app.conf.result_backend == app.conf.broker_url
    for options in (app.conf.broker_transport_options, app.conf.result_backend_transport_options):
        assert options["master_name"] == "cache"
        assert options["socket_timeout"] and options["sentinel_kwargs"]["socket_timeout"]
        assert options["visibility_timeout"] == load_settings().mj_visibility_timeout_s
