"""Row 47: Redis restarted under a stream of POSTs, for longer than the API rides out."""

from __future__ import annotations

import threading
import time
from collections import Counter
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path

from tests.faults.api_web import TENANT, Answer, ApiProcess, listed, post_job, wait_jobs
from tests.faults.harness import Harness, Plan
from tests.faults.registry import KEY_A, all_done, scenario
from tests.faults.row import Row
from worker.api.idempotency import job_id_for
from worker.api.tokens import TokenStore
from worker.keys import KEYS

CLIENTS = 6
PACE_S = 1.0  # each client sends a POST a second (and waits for its answer)
OUTAGE_S = 8.0  # longer than the API rides out (about 5 s): some POSTs must be told 503


@dataclass
class Sent:
    """One request of a client: its prompt, its key (odd clients send none), its answers."""

    prompt: str
    key: str | None
    answers: list[Answer]


def _half_made(h: Harness) -> list[str]:
    """Idempotency-Keys whose job has no entry (what must never be left)."""
    found = []
    for name in h.redis.scan_iter(KEYS.api_idem(TENANT, "*")):
        job_id = h.redis.hget(name, "job")
        if not h.redis.exists(KEYS.api_job(str(job_id))):
            found.append(str(job_id))
    return found


@scenario(47, "api-redis-restart", "Redis stopped for 8 s under POSTs from 6 clients, then back")
def api_redis_restart(workdir: Path) -> Row:
    """Every POST is answered 202 or a clear 503; nothing is half-made (no key without its
    job's entry, no job run without its entry, no job run for a keyless 503 that said nothing
    was made); each keyed 503, retried with its key, gets its job; all done, none paid twice."""
    started = time.monotonic()
    with Harness(Plan(keys=[KEY_A], fast_s=2.0, nodes=1), workdir) as h, ExitStack() as procs:
        token = TokenStore(h.redis, KEYS).create(TENANT).secret
        web = ApiProcess(h.stack.env, workdir / "web.log")
        procs.callback(web.stop)
        web.start()
        stop = threading.Event()
        sent: list[Sent] = []

        def post(s: Sent) -> None:
            s.answers.append(
                post_job(web.url, token, {"kind": "imagine", "prompt": s.prompt}, s.key)
            )

        def client(c: int) -> None:
            i = 0
            while not stop.is_set():
                key = f"order-{h.tag}-{c}-{i}" if c % 2 == 0 else None
                request = Sent(f"api-outage {h.tag} lighthouse {c}-{i}", key, [])
                sent.append(request)
                post(request)
                i += 1
                stop.wait(PACE_S)

        def answered_after(t: float) -> int:
            return sum(bool(s.answers) and s.answers[0].started > t for s in sent)

        threads = [threading.Thread(target=client, args=(c,)) for c in range(CLIENTS)]
        for t in threads:
            t.start()
        warm = h.wait_until(lambda: answered_after(0) >= 2 * CLIENTS, 30)
        down_at = time.monotonic()
        h.redis_server.stop()
        time.sleep(OUTAGE_S)
        h.redis_server.start()
        up_at = time.monotonic()
        h.wait_until(lambda: answered_after(up_at) >= 2 * CLIENTS, 60)
        stop.set()
        for t in threads:
            t.join(60)
        first = [s.answers[0] for s in sent]
        half = _half_made(h)  # before any retry: what the outage itself left
        for s in sent:  # a client retries a 503 with its key, as the 503 says (and a 409:
            deadline = time.monotonic() + 30  # a key its dead request still holds, a while)
            while s.key is not None and s.answers[-1].status in (503, 409):
                if time.monotonic() > deadline:
                    break
                if s.answers[-1].status == 409:
                    time.sleep(float(s.answers[-1].headers.get("retry-after", "1")))
                post(s)
        made = {
            s.prompt: str(s.answers[-1].body["id"]) for s in sent if s.answers[-1].status == 202
        }
        outcomes = wait_jobs(web.url, token, made, 90)
        runs = Counter(str(j["prompt"]) for j in h.stats()["jobs"].values())
        ours = {s.prompt for s in sent}
        keyless = [s for s in sent if s.key is None and s.answers[0].status == 503]
        said = {s.prompt: str(s.answers[0].body.get("detail", "")) for s in keyless}
        maybe = {p for p, detail in said.items() if "may still run" in detail}
        nothing = set(said) - maybe  # "nothing was made" / "a POST made nothing"
        entries = set(listed(web.url, token)) if len(made) <= 100 else set(made.values())
        ridden = sum(down_at < a.started < up_at and a.status == 202 for a in first)
        codes = Counter(a.status for a in first)
        retried = sum(len(s.answers) > 1 for s in sent)
        slots = h.settle_slots(15)
        return h.row(
            "api-redis-restart",
            outcomes,
            started,
            slots=slots,
            extra=f"first answers {dict(codes)}, 202s sent in the outage {ridden}, keyless 503s "
            f"{len(nothing)} + {len(maybe)} may run, retried {retried}",
            checks={
                "POSTs before the outage": warm,
                "some were told 503": codes[503] > 0,
                "every answer 202 or a clear 503": all(
                    a.status == 202 or a.clear_503 for a in first
                ),
                "retries 202 (or 409 while a key is held)": all(
                    a.status in (202, 409) or a.clear_503 for s in sent for a in s.answers[1:]
                ),
                "no key without its job's entry": half == [],
                "no job ran without its entry": all(
                    p in made or p in maybe for p in ours if runs[p]
                ),
                "no keyless 503 ran": not any(runs[p] for p in nothing),
                "each keyed retry got its job": all(
                    s.answers[-1].status == 202
                    and s.answers[-1].body.get("id") == job_id_for(TENANT, s.key)
                    for s in sent
                    if s.key is not None
                ),
                "every 202 listed": set(made.values()) <= entries,
                "all done": all_done(outcomes),
                "0 double submits": max((runs[p] for p in ours), default=0) <= 1,
                "mjw web alive": web.alive(),
            },
        )


__all__ = ["api_redis_restart"]
