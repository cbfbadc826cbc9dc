"""Under `REDIS_URL=sentinel://…`, every consumer reaches the master the sentinels name, in the
right db and with the password, before and after a failover (a real master, replica and three
sentinels on loopback: tests/support/sentinel.py)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import redis

from config.settings import Settings, load_settings
from tests.support.sentinel import MASTER_NAME, SentinelSet
from worker.adapter.app import create_app
from worker.adapter.heartbeat import fast_client
from worker.cli.reach import RedisUnreachable, check_redis
from worker.jobs.runtime import redis_client
from worker.ops.view import OpsView

pytestmark = pytest.mark.slow
DB = 3
PASSWORD = "data-p@ss"
SENTINEL_PASSWORD = "sentinels-own"


@pytest.fixture(scope="module")
def sentinels(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SentinelSet]:
    """A master, one replica and three sentinels, both sides password-protected."""
    found = SentinelSet(
        tmp_path_factory.mktemp("sentinel"),
        replicas=1,
        db=DB,
        password=PASSWORD,
        sentinel_password=SENTINEL_PASSWORD,
    ).start()
    try:
        yield found
    finally:
        found.stop()


def settings_for(found: SentinelSet) -> Settings:
    return load_settings(
        redis_url=found.url,
        mj_redis_sentinel_master=MASTER_NAME,
        mj_redis_sentinel_password=SENTINEL_PASSWORD,
    )


def written(found: SentinelSet, *names: str) -> dict[str, str | None]:
    """What the current master holds under `names`, in db DB."""
    client = redis.Redis(port=found.master().port, password=PASSWORD, db=DB, decode_responses=True)
    return {name: client.get(name) for name in names}


def writes_of_every_consumer(settings: Settings, tag: str) -> list[str]:
    """Write one key through each consumer: kombu (the broker), Celery's result backend,
    redis-py (job steps), the operator view, the heartbeat's fast client."""
    app = create_app(settings)
    try:
        with app.connection_for_write() as conn:
            conn.default_channel.client.set(f"kombu-{tag}", "1")
        app.backend.set(f"backend-{tag}", "1")
    finally:
        app.close()
    redis_client(settings).set(f"steps-{tag}", "1")
    OpsView.from_url(settings).redis.set(f"ops-{tag}", "1")
    fast_client(settings.redis_target(), 2.0).set(f"beat-{tag}", "1")
    return [f"{who}-{tag}" for who in ("kombu", "backend", "steps", "ops", "beat")]


def test_the_db_and_password_of_the_url_reach_kombu_celerys_backend_and_redis_py(
    sentinels: SentinelSet,
) -> None:
    # The URL carries the password on its first part and the db on its last one only.
    assert sentinels.url.startswith(f"sentinel://:{PASSWORD}@") and sentinels.url.endswith("/3")
    names = writes_of_every_consumer(settings_for(sentinels), "first")
    assert written(sentinels, *names) == dict.fromkeys(names, "1")
    check_redis(settings_for(sentinels).redis_target())


def test_every_consumer_follows_the_master_the_sentinels_promote(sentinels: SentinelSet) -> None:
    settings = settings_for(sentinels)
    old = sentinels.master()
    old.kill()
    new = sentinels.wait_promoted(old)
    try:
        names = writes_of_every_consumer(settings, "after")
        assert written(sentinels, *names) == dict.fromkeys(names, "1")
        assert sentinels.master() is new
    finally:
        old.start()  # back as a replica of the new master, for the tests that follow


def test_a_wrong_master_name_is_one_clear_line(sentinels: SentinelSet) -> None:
    wrong = load_settings(
        redis_url=sentinels.url,
        mj_redis_sentinel_master="nosuch",
        mj_redis_sentinel_password=SENTINEL_PASSWORD,
    )
    with pytest.raises(RedisUnreachable, match="no sentinel named a master") as caught:
        check_redis(wrong.redis_target(), timeout=1.0)
    assert PASSWORD not in str(caught.value)


def test_sentinels_that_want_a_password_refuse_a_client_without_it(
    sentinels: SentinelSet, tmp_path: Path
) -> None:
    bare = load_settings(redis_url=sentinels.url, mj_redis_sentinel_master=MASTER_NAME)
    with pytest.raises(RedisUnreachable):
        check_redis(bare.redis_target(), timeout=1.0)
