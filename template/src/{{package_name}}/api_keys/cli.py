"""`python -m <package> api-keys create|list|revoke`: manage service-to-service API keys.

`create` prints the key once on stdout (so `KEY=$(... api-keys create ...)` captures it) and
its details on stderr; only its SHA-256 digest is stored, so it can never be shown again.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from datetime import timedelta
from typing import TYPE_CHECKING

from ..core.errors import DomainError
from ..core.settings import Settings
from .repository import open_repository
from .service import DEFAULT_LIFETIME, ApiKeyService

if TYPE_CHECKING:
    from ..cli import Subcommands

EXIT_FAILED = 1


async def _create(args: argparse.Namespace, settings: Settings) -> int:
    async with open_repository(settings) as repository:
        record, plaintext = await ApiKeyService(repository).create(
            name=args.name, scopes=args.scopes, lifetime=timedelta(days=args.expires_in_days)
        )
    print(plaintext)
    print(
        f"api-keys: created {record.key_id} ({record.name}), scopes: "
        f"{' '.join(sorted(record.scopes)) or '(none)'}, expires {record.expires_at:%Y-%m-%d}. "
        "Store the key now: it is not shown again.",
        file=sys.stderr,
    )
    return 0


async def _list(_: argparse.Namespace, settings: Settings) -> int:
    async with open_repository(settings) as repository:
        records = await ApiKeyService(repository).list()
    for record in records:
        state = "revoked" if record.revoked_at else "active"
        expires = f"{record.expires_at:%Y-%m-%d}" if record.expires_at else "never"
        scopes = ",".join(sorted(record.scopes)) or "-"
        print(f"{record.key_id}\t{state}\texpires {expires}\t{scopes}\t{record.name}")
    return 0


async def _revoke(args: argparse.Namespace, settings: Settings) -> int:
    async with open_repository(settings) as repository:
        record = await ApiKeyService(repository).revoke(args.key_id)
    print(f"api-keys: revoked {record.key_id} ({record.name})", file=sys.stderr)
    return 0


def _run(args: argparse.Namespace, settings: Settings) -> int:
    try:
        code: int = asyncio.run(args.action(args, settings))
    except DomainError as error:
        print(f"api-keys: {error.detail}", file=sys.stderr)
        return EXIT_FAILED
    return code


def register_api_key_commands(commands: Subcommands) -> None:
    parser = commands.add_parser("api-keys", help="create, list and revoke API keys")
    actions = parser.add_subparsers(dest="api_keys_action", metavar="ACTION", required=True)

    create = actions.add_parser("create", help="create a key and print it once")
    create.add_argument("--name", required=True, help="who or what uses the key")
    create.add_argument(
        "--scope", dest="scopes", action="append", default=[], metavar="SCOPE",
        help="a scope to grant (repeat for more), e.g. items:read",
    )  # fmt: skip
    create.add_argument(
        "--expires-in-days", type=int, default=DEFAULT_LIFETIME.days,
        help=f"lifetime in days (default {DEFAULT_LIFETIME.days})",
    )  # fmt: skip
    create.set_defaults(handler=_run, action=_create)

    listing = actions.add_parser("list", help="list keys (never their secrets)")
    listing.set_defaults(handler=_run, action=_list)

    revoke = actions.add_parser("revoke", help="revoke a key by its id")
    revoke.add_argument("key_id", help="the 12-character id shown by create and list")
    revoke.set_defaults(handler=_run, action=_revoke)
