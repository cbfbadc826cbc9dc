"""Who asked and how urgent: every job task's `tenant` and `priority`, checked before anything
happens, inherited by follow-ups, capped by the tenant's `max_priority`, and shown in the job
result and the states' `info`."""

from __future__ import annotations

import json

import pytest

from config.settings import ConfigError, Settings, load_settings
from config.tenants import TenantSettings, capped
from tests.support.engine import FAST, KEY_A, build_engine, submits
from tests.support.inline import InlineEngine
from tests.support.simulators import SimFactory
from worker.devtools.simulator import Simulator
from worker.jobs.callers import Caller, caller_of
from worker.jobs.outcome import Failed
from worker.jobs.record import JobRecord, RecordState, encode
from worker.ttapi import errors


@pytest.fixture
def sim(make_sim: SimFactory) -> Simulator:
    return make_sim(keys=[KEY_A], capacity=3, fast_s=FAST)


@pytest.fixture
def eng(sim: Simulator) -> InlineEngine:
    return build_engine(
        sim,
        capacity=3,
        mj_tenants={"web": {"weight": 3}, "nightly": {"max_priority": "normal"}},
    )


def imagine(eng: InlineEngine, **caller: str) -> str:
    return eng.submit("imagine", {"prompt": "a cat", "mode": "fast"}, **caller)


def settings(**values: object) -> Settings:
    return Settings(ttapi_api_key="sk-x", **values)  # type: ignore[arg-type]


def test_a_job_that_names_nobody_runs_for_the_default_tenant_at_normal_priority() -> None:
    assert caller_of(settings()) == Caller("default", "normal")


@pytest.mark.parametrize(
    ("tenant", "priority", "words"),
    [
        ("has space", None, "tenant: 'has space' is not a tenant name"),
        ("x" * 65, None, "is not a tenant name"),
        ("", None, "is not a tenant name"),
        (7, None, "tenant: 7 is not a tenant name"),
        ("web", "urgent", "priority: must be one of high, normal, low (got 'urgent')"),
        ("web", 1, "priority: must be one of high, normal, low"),
    ],
)
def test_a_bad_tenant_or_priority_is_refused_naming_the_field(
    tenant: object, priority: object, words: str
) -> None:
    with pytest.raises(errors.InvalidRequest, match=words.replace("(", r"\(").replace(")", r"\)")):
        caller_of(settings(), tenant, priority)


def test_a_tenant_asking_above_its_max_priority_runs_at_it() -> None:
    conf = settings(mj_tenants={"nightly": {"max_priority": "low"}})
    assert caller_of(conf, "nightly", "high") == Caller("nightly", "low")
    assert caller_of(conf, "nightly", "low") == Caller("nightly", "low")
    # a tenant not named shares "default"'s settings (here: none, so high is allowed)
    assert caller_of(conf, "other", "high") == Caller("other", "high")
    conf = settings(mj_tenants={"default": {"max_priority": "normal"}})
    assert caller_of(conf, "other", "high") == Caller("other", "normal")


def test_the_strict_mode_refuses_a_tenant_not_named() -> None:
    conf = settings(mj_tenants={"web": {}}, mj_tenants_strict=True)
    assert caller_of(conf, "web") == Caller("web", "normal")
    with pytest.raises(errors.InvalidRequest, match="tenant: 'mallory' is not in MJ_TENANTS"):
        caller_of(conf, "mallory")
    with pytest.raises(errors.InvalidRequest, match="'default' is not in MJ_TENANTS"):
        caller_of(conf)


def test_a_follow_up_inherits_its_parents_caller_and_may_not_name_another_tenant() -> None:
    parent = {"job_id": "t1", "tenant": "web", "priority": "high"}
    assert caller_of(settings(), parent=parent) == Caller("web", "high")
    assert caller_of(settings(), "web", "low", parent) == Caller("web", "low")
    with pytest.raises(errors.InvalidRequest, match="parent's tenant 'web', not 'nightly'"):
        caller_of(settings(), "nightly", None, parent)
    # a parent from the release before (no tenant in its result) was the default tenant's
    assert caller_of(settings(), "web", None, {"job_id": "t0"}) == Caller("web", "normal")


def test_priority_classes_cap_in_order() -> None:
    assert capped("high", "normal") == "normal"
    assert capped("low", "high") == "low"
    assert capped("normal", "normal") == "normal"


@pytest.mark.parametrize(
    ("raw", "words"),
    [
        ('{"we b": {}}', "MJ_TENANTS: 'we b' is not a tenant name"),
        ('{"web": {"wieght": 3}}', "MJ_TENANTS.WEB.WIEGHT: Extra inputs are not permitted"),
        ('{"web": {"weight": 0}}', "MJ_TENANTS.WEB.WEIGHT"),
        ('{"web": {"max_priority": "urgent"}}', "MJ_TENANTS.WEB.MAX_PRIORITY"),
        ("not json", "MJ_TENANTS: must be JSON"),
    ],
)
def test_a_bad_mj_tenants_is_refused_at_start_up_naming_the_variable(
    monkeypatch: pytest.MonkeyPatch, raw: str, words: str
) -> None:
    monkeypatch.setenv("MJ_TENANTS", raw)
    with pytest.raises(ConfigError, match=words.replace(".", r"\.")):
        load_settings()


def test_mj_tenants_reads_the_contracts_example(monkeypatch: pytest.MonkeyPatch) -> None:
    example = {"web": {"weight": 3}, "nightly": {"max_in_progress": 4, "daily_jobs": 2000}}
    monkeypatch.setenv("MJ_TENANTS", json.dumps(example))
    conf = load_settings()
    assert conf.tenant("web") == TenantSettings(weight=3)
    assert conf.tenant("nightly").max_in_progress == 4
    assert conf.tenant("nightly").daily_jobs == 2000
    assert conf.tenant("someone") == TenantSettings()  # no "default" entry: the defaults


@pytest.mark.slow
def test_tenant_and_priority_reach_the_result_and_the_states_info(
    eng: InlineEngine, sim: Simulator
) -> None:
    job = imagine(eng, tenant="web", priority="high")
    assert eng.run_until(eng.done(job), 10)
    result = eng.result(job)
    assert (result["tenant"], result["priority"]) == ("web", "high")
    shown = eng.dispatcher.states[job]
    assert shown and all((m["tenant"], m["priority"]) == ("web", "high") for _, m in shown)


@pytest.mark.slow
def test_a_follow_up_runs_for_its_parents_tenant_by_result_and_by_ttapi_id(
    eng: InlineEngine,
) -> None:
    first = imagine(eng, tenant="nightly", priority="low")
    assert eng.run_until(eng.done(first), 10)
    parent = eng.result(first)
    by_result = eng.submit("action", {"action": "upsample1"}, parent=parent)
    by_id = eng.submit("action", {"action": "upsample2"}, parent=parent["job_id"])
    assert eng.run_until(eng.done(by_result, by_id), 10)
    for job in (by_result, by_id):
        assert (eng.result(job)["tenant"], eng.result(job)["priority"]) == ("nightly", "low")


@pytest.mark.slow
def test_a_follow_up_naming_another_tenant_fails_before_any_submit(
    eng: InlineEngine, sim: Simulator
) -> None:
    first = imagine(eng, tenant="web")
    assert eng.run_until(eng.done(first), 10)
    paid = submits(sim)
    job = eng.submit("action", {"action": "upsample1"}, parent=eng.result(first), tenant="other")
    outcome = eng.outcomes[job]
    assert isinstance(outcome, Failed)
    assert "parent's tenant 'web', not 'other'" in str(outcome.error)
    assert eng.rt.records.load(job) is None and submits(sim) == paid


def test_a_bad_priority_fails_the_task_before_any_record(eng: InlineEngine, sim: Simulator) -> None:
    job = imagine(eng, priority="asap")
    assert isinstance(eng.outcomes[job], Failed)
    assert eng.rt.records.load(job) is None and submits(sim) == 0


def test_the_guards_class_keeps_its_stored_name_so_the_release_before_reads_new_records() -> None:
    stored = encode({"urgency": 1, "tenant": "web", "priority": "high"})
    assert stored == {"priority": "1", "tenant": "web", "caller_priority": "high"}
    back = JobRecord.from_hash("j", {"state": RecordState.WAITING, **stored})
    assert (back.urgency, back.tenant, back.priority) == (1, "web", "high")
    # a record written by the release before: its class only, no caller
    old = JobRecord.from_hash("j", {"state": RecordState.WAITING, "priority": "0"})
    assert (old.urgency, old.tenant, old.priority, old.extra) == (0, "default", "normal", {})
