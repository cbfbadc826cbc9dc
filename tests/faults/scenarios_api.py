"""Rows where the HTTP API's front door breaks: its process killed between publishing and
answering, one Idempotency-Key sent twenty times at once, and Redis restarted under POSTs."""

from __future__ import annotations

import threading
import time
from collections import Counter
from contextlib import ExitStack
from pathlib import Path

from tests.faults.api_web import TENANT, Answer, ApiProcess, listed, post_job, wait_jobs
from tests.faults.harness import Harness, Plan
from tests.faults.registry import KEY_A, all_done, scenario
from tests.faults.row import Row
from worker.api.idempotency import job_id_for
from worker.api.tokens import TokenStore
from worker.keys import KEYS


def _runs(h: Harness) -> Counter[str]:
    """How many TTAPI jobs (imagines and their follow-ups) ran for each prompt."""
    return Counter(str(j["prompt"]) for j in h.stats()["jobs"].values())


#: The messages a job step takes when it is published once and never waits for a slot: its
#: entry (its report runs in the engine that saw it end, no message: docs/engine.md); a
#: second publish of the same task id adds one.
ONE_PUBLISH = 1


def _messages(h: Harness, task_id: str) -> int:
    """How many messages of this task id the nodes took (their logs, every life)."""
    return h.log_text().count(f"[{task_id}] received")


@scenario(45, "api-kill", "mjw web SIGKILLed between publishing a job and answering its POST")
def api_kill(workdir: Path) -> Row:
    """The client's retry with the same key finds that job (202, the same id), which ran once:
    one imagine and one upsample at TTAPI, though its canvas was published twice."""
    started = time.monotonic()
    with Harness(Plan(keys=[KEY_A], fast_s=2.0, nodes=1), workdir) as h, ExitStack() as procs:
        token = TokenStore(h.redis, KEYS).create(TENANT).secret
        mark = workdir / "published"
        env = {**h.stack.env, "MJ_FAULTS_PUBLISHED_MARK": str(mark)}
        paused = ApiProcess(env, workdir / "web-paused.log", module="tests.faults.web_paused")
        procs.callback(paused.stop)
        paused.start()
        prompt, key = f"api-kill {h.tag} lighthouse", f"order-{h.tag}"
        body = {"kind": "imagine", "prompt": prompt, "then": ["upsample2"]}
        first: list[Answer] = []

        def send() -> None:  # never answered: the process dies under it
            first.append(post_job(paused.url, token, body, key))

        client = threading.Thread(target=send)
        client.start()
        published = h.wait_until(mark.exists, 30)
        paused.kill()  # after the publish, before the answer: the mark says so
        client.join(30)
        web = ApiProcess(h.stack.env, workdir / "web.log")
        procs.callback(web.stop)
        web.start()
        retries = [post_job(web.url, token, body, key)]
        deadline = time.monotonic() + 60
        while retries[-1].status == 409 and time.monotonic() < deadline:
            time.sleep(float(retries[-1].headers.get("retry-after", "1")))
            retries.append(post_job(web.url, token, body, key))
        final = retries[-1]
        job_id = str(final.body.get("id", ""))
        outcomes = wait_jobs(web.url, token, {prompt: job_id}, 60)
        runs = _runs(h)
        slots = h.settle_slots(15)
        return h.row(
            "api-kill",
            outcomes,
            started,
            slots=slots,
            extra=f"retries {[a.status for a in retries]}, messages {_messages(h, job_id)}, "
            f"TTAPI jobs for it {runs[prompt]}",
            checks={
                "killed after publishing, before answering": published
                and bool(first)
                and first[0].status is None,
                "the retry found the job": final.status == 202
                and job_id == job_id_for(TENANT, key) == mark.read_text(),
                "its canvas was published twice": _messages(h, job_id) == ONE_PUBLISH + 1,
                "paid once (imagine + upsample)": runs[prompt] == 2,
                "one job listed": listed(web.url, token) == [job_id],
                "done": all_done(outcomes),
            },
        )


@scenario(46, "api-same-key", "20 identical POSTs with one Idempotency-Key at once, 2 processes")
def api_same_key(workdir: Path) -> Row:
    """One job, published once; every other POST gets it (202, the same id) or a 409."""
    started = time.monotonic()
    with Harness(Plan(keys=[KEY_A], fast_s=2.0, nodes=1), workdir) as h, ExitStack() as procs:
        token = TokenStore(h.redis, KEYS).create(TENANT).secret
        webs = [ApiProcess(h.stack.env, workdir / f"web{i}.log") for i in range(2)]
        for web in webs:
            procs.callback(web.stop)
            web.start()
        prompt, key = f"api-same-key {h.tag} lighthouse", f"order-{h.tag}"
        body = {"kind": "imagine", "prompt": prompt}
        gate = threading.Barrier(20)
        answers: list[Answer] = []

        def client(i: int) -> None:
            gate.wait()
            answers.append(post_job(webs[i % 2].url, token, body, key))

        threads = [threading.Thread(target=client, args=(i,)) for i in range(20)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(90)
        job_id = job_id_for(TENANT, key)
        outcomes = wait_jobs(webs[0].url, token, {prompt: job_id}, 60)
        codes = Counter(a.status for a in answers)
        replayed = sum(a.headers.get("idempotent-replayed") == "true" for a in answers)
        slots = h.settle_slots(15)
        return h.row(
            "api-same-key",
            outcomes,
            started,
            slots=slots,
            extra=f"answers {dict(codes)}, replayed {replayed}, messages {_messages(h, job_id)}",
            checks={
                "20 answers": len(answers) == 20,
                "each 202 with that job, or 409": all(
                    (a.status == 202 and a.body.get("id") == job_id) or a.status == 409
                    for a in answers
                ),
                "one made it": codes[202] - replayed == 1,
                "published once": _messages(h, job_id) == ONE_PUBLISH,
                "one job listed": listed(webs[1].url, token) == [job_id],
                "paid once": _runs(h)[prompt] == 1,
                "done": all_done(outcomes),
            },
        )


__all__ = ["api_kill", "api_same_key"]
