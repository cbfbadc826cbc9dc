"""Inline images are bounded: an oversized one is refused before Redis and before HTTP.

A data URI travels inside the task message, and the job record keeps it for days under
`noeviction`: one large blend could run Redis out of memory. The limit is per image, decoded,
and the error names the field and the limit.
"""

from __future__ import annotations

import base64

import pytest

from tests.support.engine import FAST, KEY_A, account, build_engine
from tests.support.inline import InlineEngine
from tests.support.simulators import SimFactory
from worker.adapter.signatures import INLINE_STUB, _slim
from worker.devtools.simulator import Simulator

LIMIT = 64 * 1024


def data_uri(size: int) -> str:
    return "data:image/png;base64," + base64.b64encode(b"\x89PNG" + b"x" * size).decode()


@pytest.fixture
def sim(make_sim: SimFactory) -> Simulator:
    return make_sim(keys=[KEY_A], capacity=10, fast_s=FAST)


@pytest.fixture
def eng(sim: Simulator) -> InlineEngine:
    return build_engine(sim, capacity=10, mj_inline_image_max_bytes=LIMIT)


@pytest.mark.parametrize(
    ("kind", "params", "field"),
    [
        ("blend", {"images": [data_uri(100), data_uri(2 * LIMIT)]}, "images[1]"),
        ("describe", {"image": data_uri(2 * LIMIT)}, "image"),
    ],
)
def test_an_oversized_inline_image_is_refused_before_any_record_or_request(
    eng: InlineEngine, sim: Simulator, kind: str, params: dict[str, object], field: str
) -> None:
    job = eng.submit(kind, params)
    error = eng.error(job)
    assert error.startswith(f"invalid request: {field}: the image is ")
    assert f"limit of {LIMIT:,} bytes" in error and "MJ_INLINE_IMAGE_MAX_BYTES" in error
    assert eng.rt.records.load(job) is None
    assert account(sim)["requests"] == 0


def test_an_inline_image_under_the_limit_goes_through(eng: InlineEngine, sim: Simulator) -> None:
    job = eng.submit("blend", {"images": [data_uri(100), data_uri(LIMIT // 2)]})
    assert eng.run_until(eng.done(job), 10)
    assert eng.result(job)["status"] == "SUCCESS"


def test_a_stored_signature_leaves_inline_images_to_the_record() -> None:
    big, small = data_uri(4096), "data:image/png;base64,AAAA"
    assert _slim(big) == INLINE_STUB
    assert _slim([big, small]) == [INLINE_STUB, small]
    assert _slim("a long prompt " * 100) == "a long prompt " * 100
    assert _slim(small) == small
