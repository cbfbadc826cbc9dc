"""TTAPI accounts as the configuration names them: a secret key and a short public label.

A label is `acct-` and 8 hex of the key's SHA-256, unless the entry names it: `acct-1a2b3c4d=KEY`
gives a key the label of the key it replaces (a key rotated on the same TTAPI account), so the
account's slots, line and jobs carry on under it. One label, one key.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, field

from pydantic import SecretStr

# `acct-1a2b3c4d=KEY`: a key that keeps the label of the key it replaces (the same TTAPI account).
_KEEPS_LABEL = re.compile(r"^(acct-[0-9a-f]{8})=(.+)$")


@dataclass(frozen=True)
class Account:
    """One TTAPI account: a secret key and the short, stable, non-secret label that names it."""

    label: str
    key: SecretStr = field(repr=False, compare=False)

    @classmethod
    def from_key(cls, key: str) -> Account:
        """Build an account whose label is a hash prefix of the key (stable, not reversible)."""
        return cls(label=account_label(key), key=SecretStr(key))

    @classmethod
    def from_entry(cls, entry: str) -> Account:
        """One entry of TTAPI_API_KEYS: a key, or `acct-1a2b3c4d=KEY`, a key rotated on the
        same TTAPI account that keeps the old key's label (and with it the account's jobs)."""
        named = _KEEPS_LABEL.match(entry)
        if named is None:
            return cls.from_key(entry)
        return cls(label=named.group(1), key=SecretStr(named.group(2).strip()))


def account_label(key: str) -> str:
    """Return the public name of the account that owns `key`: `acct-` and 8 hex of its SHA-256."""
    return "acct-" + hashlib.sha256(key.encode()).hexdigest()[:8]


def parse_accounts(entries: list[str]) -> list[Account]:
    """The accounts of the configuration's key entries, duplicates dropped, order kept
    (ValueError, naming no key, when two keys claim one label)."""
    seen: dict[str, Account] = {}
    for account in (Account.from_entry(e.strip()) for e in entries if e.strip()):
        known = seen.get(account.label)
        if known is None:
            seen[account.label] = account
        elif known.key.get_secret_value() != account.key.get_secret_value():
            raise ValueError(
                f"TTAPI_API_KEYS: account {account.label} is given two keys (a key rotated "
                f"on the same account replaces the old one: {account.label}=NEWKEY alone)"
            )
    return list(seen.values())


__all__ = ["Account", "account_label", "parse_accounts"]
