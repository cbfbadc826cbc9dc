"""`mjw tokens create TENANT [--name N] [--json]`, `mjw tokens list`, `mjw tokens revoke ID`:
the HTTP API's tokens (`worker.api.tokens`).

`create` prints the token and its webhook secret once: Redis keeps only the token's SHA-256
(and the secret, which signs the callbacks). `--json` prints one object with `id`, `token` and
`webhook_secret`.
"""

from __future__ import annotations

import argparse
import json
from datetime import UTC, datetime
from typing import Any

from worker.cli.errors import JobError, UsageError


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """`create`, `list`, `revoke`."""
    sub = parser.add_subparsers(dest="tokens_command", required=True, metavar="ACTION")
    create = sub.add_parser("create", help="make a token for TENANT (shown once)")
    create.add_argument("tenant", metavar="TENANT", help="1-64 of A-Z a-z 0-9 _ . -")
    create.add_argument("--name", default="", help="a note: who or what uses it")
    create.add_argument("--json", action="store_true", help="one JSON object")
    listing = sub.add_parser("list", help="every token (never the token itself)")
    listing.add_argument("--json", action="store_true", help="JSON lines")
    revoke = sub.add_parser("revoke", help="revoke a token by its id (tok_...) at once")
    revoke.add_argument("token_id", metavar="ID")


def run(args: argparse.Namespace, rt: Any) -> int:
    """Carry out one action on the tokens in `rt`'s Redis."""
    from worker.api.tokens import TokenStore

    store = TokenStore(rt.redis, rt.keys)
    if args.tokens_command == "create":
        try:
            issued = store.create(args.tenant, args.name)
        except ValueError as exc:
            raise UsageError(str(exc)) from None
        doc = {
            "id": issued.token.id,
            "tenant": issued.token.tenant,
            "token": issued.secret,
            "webhook_secret": issued.token.webhook_secret,
        }
        if args.json:
            print(json.dumps(doc))
        else:
            print(f"token id:       {doc['id']} (tenant {doc['tenant']})")
            print(f"token:          {doc['token']}")
            print(f"webhook secret: {doc['webhook_secret']}")
            print("Both are shown this once; the token is stored only as a hash.")
        return 0
    if args.tokens_command == "list":
        for token in store.list():
            row = token.public()
            if args.json:
                print(json.dumps(row))
            else:
                when = datetime.fromtimestamp(token.created_at, UTC).strftime("%Y-%m-%d %H:%M")
                state = "revoked" if token.revoked_at else "live"
                print(f"{token.id}  {token.tenant:<20} {state:<8} {when}  {token.name}")
        return 0
    if store.revoke(args.token_id) is None:
        raise JobError(f"no token {args.token_id}")
    print(f"revoked {args.token_id}")
    return 0


__all__ = ["add_arguments", "run"]
