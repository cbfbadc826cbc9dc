"""Per account (and per video lane, with `MJ_VIDEO_CAP`), what an operator asks first: slots
in use / effective / cap, waiting jobs, 429/499 in the last five minutes, why it is out of
rotation, the last `/info`, its owner.

Read from Redis only (the guard, `info`, `disabled`, the minute counters), so a process
without TTAPI keys can show every account a worker registered.
"""

from __future__ import annotations

from typing import Any

from worker.capacity import metrics
from worker.capacity.lanes import base_of, lanes
from worker.keys import Keys
from worker.ops.view import OpsView
from worker.text import text


def owner_key(keys: Keys, label: str) -> str:
    """Where the engine notes the node holding the account's engine lease (string, TTL)."""
    return keys.owner(label)


def account_row(view: OpsView, label: str) -> dict[str, Any]:
    """One account (or one of its lanes: its own slots, waiters and engine lease, and the
    account's rotation, balance and answers) as a JSON-ready dict (no key, only its label)."""
    state = view.guard.state(label)
    account = base_of(label)
    pipe = view.redis.pipeline(transaction=False)
    pipe.hgetall(view.keys.info(account))
    pipe.get(view.keys.disabled(account))
    pipe.get(owner_key(view.keys, label))
    info, disabled, owner = pipe.execute()
    info = {text(k): text(v) for k, v in (info or {}).items()}
    effective = state.effective_cap
    return {
        "account": label,
        "lane": label.removeprefix(account).removeprefix("~") or None,
        "configured_here": account in view.configured,
        "in_use": len(state.holders),
        "cap": state.cap,
        "effective_cap": effective if effective is not None and effective < state.cap else None,
        "waiting": len(state.waiters),
        "cooldown_ms": state.cooldown_ms,
        "recent_429": metrics.recent(view.redis, account, 429, keys=view.keys),
        "recent_499": metrics.recent(view.redis, account, 499, keys=view.keys),
        "in_rotation": disabled is None,
        "disabled_reason": None if disabled is None else text(disabled),
        "owner": text(owner).split("|")[0] if owner else "",  # the node, not its token
        "balance": float(info["balance"]) if info.get("balance") else None,
        "info_at": float(info["at"]) if _number(info.get("at")) else None,
    }


def account_rows(view: OpsView) -> list[dict[str, Any]]:
    """Every known account: configured here first, then those other processes registered, then
    their video lanes when `MJ_VIDEO_CAP` gives video a cap of its own."""
    labels = lanes(view.labels(), view.settings.mj_video_cap)
    return [account_row(view, label) for label in labels]


def limit_of(row: dict[str, Any]) -> int:
    """The places the account may use now: the effective cap a 499 taught, else the cap."""
    return int(row["effective_cap"] if row["effective_cap"] is not None else row["cap"])


def _number(value: str | None) -> bool:
    try:
        return value is not None and float(value) >= 0
    except ValueError:
        return False


__all__ = ["account_row", "account_rows", "limit_of", "owner_key"]
