"""Lanes: with `MJ_VIDEO_CAP` set, an account's video jobs have a slot guard of their own.

A lane is named like an account, `<label>~video`, and the engine, the pump and the guard treat
it as one: its own slots (capped at `MJ_VIDEO_CAP`), waiters, hints and lease. Only what
speaks to TTAPI or to a caller goes back to the account (`base_of`): the key, the client, the
rotation, the metrics' and the result's `account`. Without `MJ_VIDEO_CAP` there are no lanes:
video jobs share their account's cap, as TTAPI's pages suggest.
"""

from __future__ import annotations

from worker.ttapi.kinds import is_video_kind

VIDEO_SUFFIX = "~video"


def lane_of(account: str, kind: str, video_cap: int | None) -> str:
    """The guard label a job of `kind` on `account` takes its slot in."""
    if video_cap is not None and is_video_kind(kind) and not account.endswith(VIDEO_SUFFIX):
        return account + VIDEO_SUFFIX
    return account


def base_of(label: str) -> str:
    """The account a guard label (an account, or one of its lanes) belongs to."""
    return label.removesuffix(VIDEO_SUFFIX)


def lanes(accounts: list[str], video_cap: int | None) -> list[str]:
    """Every guard label: the accounts, then their video lanes (when MJ_VIDEO_CAP is set)."""
    if video_cap is None:
        return list(accounts)
    return [*accounts, *(account + VIDEO_SUFFIX for account in accounts)]


__all__ = ["VIDEO_SUFFIX", "base_of", "lane_of", "lanes"]
