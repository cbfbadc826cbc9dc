"""Settings: every contract variable, keys as secrets with stable labels, clear start-up errors."""

from __future__ import annotations

import pytest

from config.settings import Account, ConfigError, account_label, load_settings
from worker.adapter.app import create_app

KEY1, KEY2 = "sk-config-key-one-111", "sk-config-key-two-222"


def test_defaults_match_the_contract() -> None:
    s = load_settings()
    assert s.redis_url.startswith("redis://127.0.0.1:")  # set by conftest for the test run
    assert (s.ttapi_base_url, s.ttapi_max_in_progress, s.port) == ("https://api.ttapi.io", 10, 8000)
    assert (s.mj_poll_min_s, s.mj_poll_max_s, s.mj_hook_base_url) == (1.0, 15.0, None)


def test_one_key_and_a_key_list_are_both_accepted_without_duplicates(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("TTAPI_API_KEY", KEY1)
    monkeypatch.setenv("TTAPI_API_KEYS", f" {KEY2}, {KEY1} ,")
    accounts = load_settings().accounts()
    assert [a.label for a in accounts] == [account_label(KEY1), account_label(KEY2)]


def test_an_account_label_is_stable_short_and_not_the_key() -> None:
    account = Account.from_key(KEY1)
    assert account.label == account_label(KEY1) == Account.from_key(KEY1).label
    assert account.label.startswith("acct-") and len(account.label) == 13
    assert KEY1 not in repr(account) and KEY1 not in str(load_settings(ttapi_api_key=KEY1))


@pytest.mark.parametrize(
    ("env", "value", "says"),
    [
        ("MJ_POLL_MIN_S", "-1", "MJ_POLL_MIN_S: Input should be greater than 0"),
        ("MJ_POLL_MAX_S", "abc", "MJ_POLL_MAX_S: Input should be a valid number"),
        ("TTAPI_MAX_IN_PROGRESS", "0", "TTAPI_MAX_IN_PROGRESS"),
        ("TTAPI_BASE_URL", "ftp://x", "TTAPI_BASE_URL: must start with http"),
        ("REDIS_URL", "localhost:6379", "REDIS_URL: must be a redis://"),
        ("PORT", "70000", "PORT"),
        ("MJ_RESULT_EXPIRES_S", "60", "MJ_RESULT_EXPIRES_S"),
    ],
)
def test_a_bad_value_fails_at_start_up_naming_the_variable(
    monkeypatch: pytest.MonkeyPatch, env: str, value: str, says: str
) -> None:
    monkeypatch.setenv(env, value)
    with pytest.raises(ConfigError, match=says):
        load_settings()


def test_poll_bounds_must_be_ordered(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MJ_POLL_MIN_S", "5")
    monkeypatch.setenv("MJ_POLL_MAX_S", "1")
    with pytest.raises(ConfigError, match="MJ_POLL_MAX_S must be at least MJ_POLL_MIN_S"):
        load_settings()


def test_a_key_is_never_echoed_in_a_config_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TTAPI_API_KEYS", KEY1)
    monkeypatch.setenv("PORT", "nope")
    with pytest.raises(ConfigError) as info:
        load_settings()
    assert KEY1 not in str(info.value)


def test_no_key_configured_is_a_clear_error_when_accounts_are_needed() -> None:
    with pytest.raises(ConfigError, match="TTAPI_API_KEY or TTAPI_API_KEYS"):
        load_settings().require_accounts()


def test_the_app_refuses_a_visibility_timeout_below_its_longest_countdown() -> None:
    with pytest.raises(ConfigError, match="MJ_VISIBILITY_TIMEOUT_S"):
        create_app(load_settings(mj_visibility_timeout_s=60, mj_poll_max_s=90))


def test_the_app_is_configured_as_the_design_requires() -> None:
    conf = create_app(load_settings()).conf
    assert conf.task_serializer == "json" and conf.accept_content == ["json"]
    assert conf.task_acks_late and conf.task_reject_on_worker_lost
    assert conf.worker_prefetch_multiplier == 1
    assert conf.result_expires >= 86400
    assert conf.broker_transport_options["visibility_timeout"] == 3600
    assert conf.broker_connection_retry_on_startup


@pytest.mark.parametrize(("value", "cap"), [(None, None), ("", None), (" ", None), ("3", 3)])
def test_mj_video_cap_is_empty_for_a_shared_cap_or_a_number_of_its_own(
    monkeypatch: pytest.MonkeyPatch, value: str | None, cap: int | None
) -> None:
    if value is not None:
        monkeypatch.setenv("MJ_VIDEO_CAP", value)
    assert load_settings().mj_video_cap == cap


@pytest.mark.parametrize(
    ("value", "says"),
    [
        ("0", "MJ_VIDEO_CAP: Input should be greater than or equal to 1"),
        ("two", "MJ_VIDEO_CAP: Input should be a valid integer"),
        ("1001", "MJ_VIDEO_CAP: Input should be less than or equal to 1000"),
    ],
)
def test_a_bad_mj_video_cap_fails_at_start_up_naming_it(
    monkeypatch: pytest.MonkeyPatch, value: str, says: str
) -> None:
    monkeypatch.setenv("MJ_VIDEO_CAP", value)
    with pytest.raises(ConfigError, match=says):
        load_settings()
