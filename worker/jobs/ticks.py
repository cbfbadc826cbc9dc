"""Polls batched per account: one message fetches every job of an account that is due.

A job's next fetch is a member `job_id|seq` of its account's `polls` sorted set, scored by when
it is due (ms on Redis's clock). One *tick* message per account is scheduled for the earliest
due poll; the tick takes what is due (up to `batch`, including polls due within `window_s`, a
fetch a little early being harmless) and the next tick is scheduled for what remains. So ten
jobs of an account, polled every few seconds, cost a message per tick rather than per fetch.

`tick` (a string under the same `{label}` tag) holds the due time of the scheduled tick, with a
TTL past it: a lost tick message lapses, and the next poll scheduled (the pump revives stalled
jobs through here too) publishes a new one. Duplicate ticks are harmless: each takes what is
due, and `seq` makes a poll step run at most once.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

import redis

from worker.jobs.maintenance import stall_s
from worker.keys import KEYS, Keys
from worker.policy import POLL_BATCH

if TYPE_CHECKING:
    from worker.runtime import Runtime

log = logging.getLogger(__name__)

# KEYS: polls, tick.  ARGV: member, due_ms, now_ms, grace_ms.  Returns 1 when a tick must be
# published for due_ms (none is scheduled at or before it).
_SCHEDULE = """
redis.call('ZADD', KEYS[1], ARGV[2], ARGV[1])
local due = tonumber(ARGV[2])
local t = redis.call('GET', KEYS[2])
if t and tonumber(t) <= due then return 0 end
local ttl = math.max(due - tonumber(ARGV[3]), 0) + tonumber(ARGV[4])
redis.call('SET', KEYS[2], ARGV[2], 'PX', math.max(1, math.floor(ttl)))
return 1
"""

# KEYS: polls, tick.  ARGV: this tick's due_ms, now_ms, window_ms, batch, grace_ms.
# Returns {next tick's due_ms to publish, or -1; taken members...}.
_TAKE = """
local now = tonumber(ARGV[2])
local taken = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', now + tonumber(ARGV[3]),
  'LIMIT', 0, tonumber(ARGV[4]))
if #taken > 0 then redis.call('ZREM', KEYS[1], unpack(taken)) end
local out = {-1}
local head = redis.call('ZRANGE', KEYS[1], 0, 0, 'WITHSCORES')
local t = redis.call('GET', KEYS[2])
if head[1] then
  local due = math.max(tonumber(head[2]), now)
  if (not t) or t == ARGV[1] or tonumber(t) > due then
    local at = string.format('%d', due)
    redis.call('SET', KEYS[2], at, 'PX', math.floor(due - now + tonumber(ARGV[5])))
    out[1] = at
  end
elseif t == ARGV[1] then
  redis.call('DEL', KEYS[2])
end
for _, m in ipairs(taken) do out[#out + 1] = m end
return out
"""


@dataclass(frozen=True)
class Taken:
    """What one tick took: the (job id, poll seq) pairs due, and when the next tick is due."""

    polls: list[tuple[str, int]]
    next_due_ms: int | None


class PollTicks:
    """Per-account due polls and the one tick message that serves them."""

    def __init__(
        self,
        client: redis.Redis,
        *,
        window_s: float,
        batch: int,
        grace_s: float,
        keys: Keys = KEYS,
    ) -> None:
        self.window_ms = max(0, round(window_s * 1000))
        self.batch = max(1, batch)
        self.grace_ms = max(1, round(grace_s * 1000))
        self.keys = keys
        self._schedule = client.register_script(_SCHEDULE)
        self._take = client.register_script(_TAKE)

    def schedule(self, label: str, job_id: str, seq: int, due: float, now: float) -> int | None:
        """Note poll `seq` of `job_id` due at `due` (epoch s); the due ms of a tick to publish
        now, or None when one already comes in time."""
        due_ms, now_ms = int(due * 1000), int(now * 1000)
        keys = [self.keys.polls(label), self.keys.tick(label)]
        member = f"{job_id}|{seq}"
        args: list[str | int] = [member, due_ms, now_ms, self.grace_ms]
        return due_ms if int(self._schedule(keys=keys, args=args)) else None

    def take(self, label: str, tick_due_ms: int, now: float) -> Taken:
        """Take the account's due polls (this tick is the one due at `tick_due_ms`)."""
        keys = [self.keys.polls(label), self.keys.tick(label)]
        args = [tick_due_ms, int(now * 1000), self.window_ms, self.batch, self.grace_ms]
        reply = self._take(keys=keys, args=args)
        polls = []
        for member in reply[1:]:
            job_id, _, seq = str(member).rpartition("|")
            polls.append((job_id, int(seq)))
        nxt = int(reply[0])
        return Taken(polls, None if nxt < 0 else nxt)


def run_tick(
    ticks: PollTicks,
    label: str,
    due_ms: int,
    now: float,
    *,
    next_tick: Callable[[int], None],
    poll: Callable[[str, int], None],
) -> int:
    """Run the tick due at `due_ms`: hand the next tick's due ms to `next_tick`, then `poll`
    each job taken (one failing poll does not cost the others theirs). Returns how many."""
    taken = ticks.take(label, due_ms, now)
    if taken.next_due_ms is not None:
        next_tick(taken.next_due_ms)
    for job_id, seq in taken.polls:
        try:
            poll(job_id, seq)
        except Exception:
            log.exception("job %s: poll %s failed; the pump revives it", job_id, seq)
    return len(taken.polls)


def poll_ticks(rt: Runtime) -> PollTicks:
    """The ticks a process's Runtime polls through: fetch up to MJ_POLL_MIN_S early, at most
    POLL_BATCH per message, and a lost tick lapses once the pump would call a poll stalled."""
    return PollTicks(
        rt.redis,
        window_s=rt.timing.bounds.min_s,
        batch=POLL_BATCH,
        grace_s=stall_s(rt),
        keys=rt.keys,
    )


__all__ = ["PollTicks", "Taken", "poll_ticks", "run_tick"]
