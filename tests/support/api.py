"""The HTTP API in-process for unit tests: fakeredis, a fake way into Celery, a TestClient."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import fakeredis
from fastapi.testclient import TestClient

from config.settings import Settings
from worker.adapter.api_jobs import PENDING, StepState
from worker.api.app import create_api_app
from worker.api.core import Api
from worker.api.limits import BodyLimit
from worker.api.tokens import TokenStore
from worker.jobs.effects import Effect, Effects
from worker.jobs.runtime import Runtime

KEY = "sk-api-test-key-0001"


@dataclass
class FakeCelery:
    """Records what would be published; states are what the test says (PENDING otherwise)."""

    published: list[tuple[str, dict[str, Any], list[str], list[str]]] = field(default_factory=list)
    shown: dict[str, StepState] = field(default_factory=dict)
    revoked: list[str] = field(default_factory=list)
    takes: set[str] = field(default_factory=set)
    fail_next: Exception | None = None
    attempted: list[list[str]] = field(default_factory=list)  # every publish's ids, failed too
    after_publish: Any = None  # called after a publish (a test breaks Redis there)
    carried: list[Effect] = field(default_factory=list)  # effects of the API's job steps

    def accepts(self, kind: str) -> set[str]:
        return self.takes

    def publish(self, first: str, kwargs: dict[str, Any], then: Any, ids: Any) -> None:
        self.attempted.append(list(ids))
        if self.fail_next is not None:
            exc, self.fail_next = self.fail_next, None
            raise exc
        self.published.append((first, kwargs, list(then), list(ids)))
        if self.after_publish is not None:
            self.after_publish()

    def states(self, ids: Any) -> list[StepState]:
        return [self.shown.get(i, PENDING) for i in ids]

    def revoke(self, ids: Any) -> None:
        self.revoked.extend(ids)

    def carry(self, effects: Effects) -> None:
        self.carried.extend(effects)


@dataclass
class ApiHarness:
    """One API over fakeredis: its runtime, fake Celery, client and a token per tenant."""

    rt: Runtime
    celery: FakeCelery
    api: Api
    client: TestClient
    tokens: TokenStore
    server: fakeredis.FakeServer

    def token(self, tenant: str = "web") -> dict[str, str]:
        """Authorization headers of a fresh token of `tenant`."""
        return {"Authorization": "Bearer " + self.tokens.create(tenant).secret}

    def post(self, body: dict[str, Any], headers: dict[str, str], **kw: Any) -> Any:
        return self.client.post("/v1/jobs", json=body, headers=headers, **kw)


def make_api(**settings: Any) -> ApiHarness:
    """A fresh API (settings overrides as keyword arguments)."""
    server = fakeredis.FakeServer()
    client = fakeredis.FakeRedis(server=server, decode_responses=True)
    rt = Runtime.build(Settings(ttapi_api_key=KEY, **settings), client)
    celery = FakeCelery()
    api = Api.build(rt, celery)
    app = BodyLimit(create_api_app(api))
    tokens = TokenStore(rt.redis, rt.keys)
    return ApiHarness(rt, celery, api, TestClient(app), tokens, server)
