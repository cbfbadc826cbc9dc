"""Hints to the engine that holds an account: a list per account, read by that engine only.

Any process may write one (`RPUSH {label}:wake`): the entry of a job queued where a slot is
free (`fill`), a process that handed a slot to a waiter but submits nothing itself
(`submit|job`), a poll asked for from outside the engine (`poll|job|seq|due_ms`, due on Redis's
clock), a finished job whose files are to be copied to the store (`store|job`). The engine
holding the account's lease pops them and acts; after any hint it fills the account once more,
so a hint lost or merged costs nothing but a little time.

The text of every hint is written here; the guard's `enqueue.lua` pushes `fill` and
`submit|job` itself (atomically with the queueing), and tests/unit/test_hint_formats.py holds
its literals to this module's. Hints stay in flight across an upgrade: their text never changes.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from worker.jobs.effects import Effect, EffectKind
from worker.keys import Keys


class HintKind(StrEnum):
    """What a hint asks the account's engine; the values are the words written in the list
    (hints written by the release before are read by this one: they never change)."""

    FILL = "fill"  # hand the account's free slots out (now, or at a due time)
    SUBMIT = "submit"  # submit a job just handed a slot
    POLL = "poll"  # fetch a job (its poll step) at a due time
    STORE = "store"  # copy a finished job's files to the store (worker.jobs.storing)


@dataclass(frozen=True)
class Hint:
    """One parsed hint: its `kind`, the job, its poll step and due time."""

    kind: HintKind
    job_id: str = ""
    seq: int = 0
    due_ms: int = 0


def submit_hints(job_ids: list[str]) -> list[str]:
    """Hints to submit jobs just handed a slot on the account."""
    return [f"{HintKind.SUBMIT}|{job_id}" for job_id in job_ids]


def poll_hint(job_id: str, seq: int, due_ms: int) -> str:
    """A hint to fetch `job_id` (poll step `seq`) at `due_ms` (ms on Redis's clock)."""
    return f"{HintKind.POLL}|{job_id}|{seq}|{due_ms}"


def fill_hint(due_ms: int = 0) -> str:
    """A hint to hand the account's free slots out (at `due_ms`, or now)."""
    return f"{HintKind.FILL}|{due_ms}" if due_ms else str(HintKind.FILL)


def store_hint(job_id: str) -> str:
    """A hint to copy the files of `job_id`, a finished job, to the store."""
    return f"{HintKind.STORE}|{job_id}"


def push(client: Any, keys: Keys, label: str, hints: list[str]) -> None:
    """Hand `hints` to the account's engine (one command, any process)."""
    if hints:
        client.rpush(keys.wake(label), *hints)


def ask_poll(client: Any, keys: Keys, label: str, job_id: str, seq: int, due_s: float) -> None:
    """Ask the account's engine to fetch `job_id` (poll step `seq`) at `due_s` (Redis's clock,
    in seconds)."""
    push(client, keys, label, [poll_hint(job_id, seq, int(due_s * 1000))])


def ask_fill(client: Any, keys: Keys, label: str, due_s: float = 0.0) -> None:
    """Ask the account's engine to hand its free slots out at `due_s` (Redis's clock, in
    seconds), or now."""
    push(client, keys, label, [fill_hint(int(due_s * 1000))])


def ask_submit(client: Any, keys: Keys, label: str, job_ids: list[str]) -> None:
    """Ask the account's engine to submit jobs just handed a slot on it."""
    push(client, keys, label, submit_hints(job_ids))


def _due_ms(delay_s: float, now_s: float) -> int:
    return int((now_s + delay_s) * 1000) if delay_s > 0 else 0


# The hint that asks an account's engine for an engine effect (`effects.ENGINE_KINDS`), from a
# process that is not that engine: (account, text). A submit's delay is the engine's own
# backoff, which a hint does not carry (the engine submits at once).
_ASKS: dict[EffectKind, Callable[[Any, float], tuple[str, str]]] = {
    EffectKind.SUBMIT: lambda e, now: (e.label, submit_hints([e.job_id])[0]),
    EffectKind.POLL: lambda e, now: (
        e.account,
        poll_hint(e.job_id, e.seq, int((now + max(e.delay_s, 0.0)) * 1000)),
    ),
    EffectKind.FILL: lambda e, now: (e.label, fill_hint(_due_ms(e.delay_s, now))),
    EffectKind.STORE: lambda e, now: (e.account, store_hint(e.job_id)),
}


def ask(effect: Effect, now_s: float) -> tuple[str, str]:
    """The account whose engine carries `effect` out and the hint that asks it to ("" for an
    effect of no account); `now_s` is Redis's clock, due times are on it."""
    return _ASKS[effect.kind](effect, now_s)


def _job(kind: HintKind) -> Callable[[str], Hint | None]:
    return lambda rest: Hint(kind, job_id=rest) if rest else None


def _poll(rest: str) -> Hint:
    job_id, seq, due = rest.rsplit("|", 2)
    return Hint(HintKind.POLL, job_id=job_id, seq=int(seq), due_ms=int(due))


# How each kind's text after its first `|` reads (a ValueError: not a hint of ours).
_READERS: dict[HintKind, Callable[[str], Hint | None]] = {
    HintKind.FILL: lambda rest: Hint(HintKind.FILL, due_ms=int(rest or 0)),
    HintKind.SUBMIT: _job(HintKind.SUBMIT),
    HintKind.POLL: _poll,
    HintKind.STORE: _job(HintKind.STORE),
}


def parse(item: Any) -> Hint | None:
    """A hint as written by the functions above; None for anything else (ignored)."""
    text = item.decode() if isinstance(item, bytes) else str(item)
    word, _, rest = text.partition("|")
    try:
        return _READERS[HintKind(word)](rest)
    except ValueError:
        return None


__all__ = [
    "Hint",
    "HintKind",
    "ask",
    "ask_fill",
    "ask_poll",
    "ask_submit",
    "fill_hint",
    "parse",
    "poll_hint",
    "push",
    "store_hint",
]
