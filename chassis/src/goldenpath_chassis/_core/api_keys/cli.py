"""`python -m <package> api-keys create|list|revoke`: manage service-to-service API keys.

`create` prints the key once on stdout (so `KEY=$(... api-keys create ...)` captures it) and
its details on stderr; only its SHA-256 digest is stored, so it can never be shown again.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import TYPE_CHECKING

from ..settings import ChassisSettings
from ..terminal_text import one_line

if TYPE_CHECKING:
    from ..domain import Subcommands
    from ..service import Service
    from .models import ApiKey
    from .service import ApiKeyService

DEFAULT_LIFETIME_DAYS = 90


@asynccontextmanager
async def _service(settings: ChassisSettings, service: Service) -> AsyncIterator[ApiKeyService]:
    from ..command_database import command_session  # noqa: PLC0415
    from .service import ApiKeyService  # noqa: PLC0415

    async with command_session(settings, service) as session:
        yield ApiKeyService(
            session, declared_scopes=service.scopes, tenant_claim=settings.jwt.tenant_claim
        )


async def _create(args: argparse.Namespace, settings: ChassisSettings) -> int:
    from .service import lifetime_in_days  # noqa: PLC0415

    lifetime = lifetime_in_days(args.expires_in_days)
    async with _service(settings, args.service) as service:
        api_key, plaintext = await service.create(
            name=args.name,
            scopes=args.scopes,
            lifetime=lifetime,
            owner_of=args.owner_of,
            tenant=args.tenant,
        )
    print(plaintext)
    print(
        f"api-keys: created {api_key.key_id} ({one_line(api_key.name)}), scopes: "
        f"{api_key.scopes or '(none)'}, expires {api_key.expires_at:%Y-%m-%d}, "
        f"owner {_owner_of(api_key)}. Store the key now: it is not shown again.",
        file=sys.stderr,
    )
    return 0


def _owner_of(api_key: ApiKey) -> str:
    # Escaped: a replacement inherits the owner of a key made before control characters were
    # refused.
    return one_line(api_key.owner or f"key:{api_key.key_id}")


async def _list(args: argparse.Namespace, settings: ChassisSettings) -> int:
    async with _service(settings, args.service) as service:
        api_keys = await service.list()
    for api_key in api_keys:
        state = "revoked" if api_key.revoked_at else "active"
        scopes = one_line(api_key.scopes.replace(" ", ",")) or "-"
        # Escaped, as every stored value: a key made before names were checked must not add a
        # column or a line, nor reach the terminal with an escape sequence.
        print(
            f"{api_key.key_id}\t{state}\texpires {api_key.expires_at:%Y-%m-%d}\t"
            f"{scopes}\t{_owner_of(api_key)}\t{one_line(api_key.name)}"
        )
    return 0


async def _revoke(args: argparse.Namespace, settings: ChassisSettings) -> int:
    async with _service(settings, args.service) as service:
        api_key = await service.revoke(args.key_id)
    print(f"api-keys: revoked {api_key.key_id} ({one_line(api_key.name)})", file=sys.stderr)
    return 0


def _run(args: argparse.Namespace, settings: ChassisSettings) -> int:
    from ..command_database import run_on_database  # noqa: PLC0415
    from ..errors import DomainError  # noqa: PLC0415

    return run_on_database(
        "api-keys",
        args.action(args, settings),
        args.service,
        refused=DomainError,
        reason=lambda error: error.detail,
    )


def register_api_key_commands(commands: Subcommands, service: Service) -> None:
    parser = commands.add_parser("api-keys", help="create, list and revoke API keys")
    actions = parser.add_subparsers(dest="api_keys_action", metavar="ACTION", required=True)

    create = actions.add_parser("create", help="create a key and print it once")
    create.add_argument("--name", required=True, help="who or what uses the key")
    create.add_argument(
        "--scope", dest="scopes", action="append", default=[], metavar="SCOPE",
        help=f"a scope to grant (repeat for more): {", ".join(service.scopes)}",
    )  # fmt: skip
    create.add_argument(
        "--expires-in-days", type=int, default=DEFAULT_LIFETIME_DAYS,
        help=f"lifetime in days (default {DEFAULT_LIFETIME_DAYS})",
    )  # fmt: skip
    # A key owns what it creates; these make it act for another owner instead (SEC-6).
    acting = create.add_mutually_exclusive_group()
    acting.add_argument(
        "--owner-of", metavar="KEY_ID",
        help="replace this key (revoked or expired too): the new key reaches its objects",
    )  # fmt: skip
    acting.add_argument(
        "--tenant", help="act for this tenant's objects (needs AUTH_JWT_TENANT_CLAIM)"
    )
    create.set_defaults(handler=_run, action=_create)

    listing = actions.add_parser("list", help="list keys (never their secrets)")
    listing.set_defaults(handler=_run, action=_list)

    revoke = actions.add_parser("revoke", help="revoke a key by its id, or by the key itself")
    revoke.add_argument(
        "key_id", metavar="KEY_ID",
        help="the 12-character id shown by create and list, or the whole key (ak_...)",
    )  # fmt: skip
    revoke.set_defaults(handler=_run, action=_revoke)
