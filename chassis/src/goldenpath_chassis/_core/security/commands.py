"""`python -m <package> dev-token`: a token the local service accepts, for trying the API.

The token is signed with the project's development key (`var/dev-keys/`), which the service
uses when no `AUTH_JWT_PUBLIC_KEY` or `AUTH_JWT_JWKS_URL` is set. Production refuses both: there
the identity provider signs tokens and the service only holds its public keys.
"""

from __future__ import annotations

import argparse
import sys
from typing import TYPE_CHECKING

from ..settings import ChassisSettings

if TYPE_CHECKING:
    from ..domain import Subcommands
    from ..service import Service

EXIT_USAGE = 64
MAX_TTL_SECONDS = 7 * 24 * 3600


def _mint(args: argparse.Namespace, settings: ChassisSettings) -> int:
    # Imported here, so that `--help` stays fast.
    from .dev_keys import (  # noqa: PLC0415
        development_audience,
        development_issuer,
        load_or_create_development_key,
    )

    if settings.is_production:
        print(
            "dev-token: refusing in production; tokens come from the identity provider there.",
            file=sys.stderr,
        )
        return EXIT_USAGE
    if settings.jwt.public_key is not None or settings.jwt.jwks_url is not None:
        print(
            "dev-token: AUTH_JWT_PUBLIC_KEY or AUTH_JWT_JWKS_URL is set, so the service would "
            "not accept a development token; unset them to use the development key.",
            file=sys.stderr,
        )
        return EXIT_USAGE
    if not 1 <= args.ttl_seconds <= MAX_TTL_SECONDS:
        print(f"dev-token: --ttl-seconds must be 1 to {MAX_TTL_SECONDS}.", file=sys.stderr)
        return EXIT_USAGE
    # A misspelt scope would mint a token every route refuses with 403, for no visible reason.
    declared = args.service.scopes
    unknown = sorted(set(args.scopes) - set(declared))
    if unknown:
        print(
            f"dev-token: not scopes of this service: {', '.join(unknown)} "
            f"(its scopes: {', '.join(sorted(declared)) or 'none'}).",
            file=sys.stderr,
        )
        return EXIT_USAGE
    claim = settings.jwt.tenant_claim
    if (claim is None) != (args.tenant is None):
        print(
            "dev-token: --tenant is required when AUTH_JWT_TENANT_CLAIM is set, and refused "
            "otherwise.",
            file=sys.stderr,
        )
        return EXIT_USAGE
    key = load_or_create_development_key()
    token = key.mint(
        subject=args.subject,
        scopes=args.scopes,
        issuer=settings.jwt.issuer or development_issuer(settings.service_name),
        audience=settings.jwt.audience or development_audience(settings.service_name),
        ttl_seconds=args.ttl_seconds,
        claims=None if claim is None else {claim: args.tenant},
    )
    print(token)
    return 0


def register_dev_token_command(commands: Subcommands, service: Service) -> None:
    scopes = service.scopes
    example = " ".join(f"--scope {scope}" for scope in list(scopes)[:2])
    listing = "; ".join(f"{scope}: {text}" for scope, text in scopes.items())
    parser = commands.add_parser(
        "dev-token",
        help="print a development bearer token (never in production)",
        description="Mint a token signed with the local development key. Example: "
        f"TOKEN=$(python -m {service.package} dev-token {example}). Scopes: {listing}.",
    )
    parser.add_argument(
        "--scope",
        dest="scopes",
        action="append",
        default=[],
        metavar="SCOPE",
        help=f"a scope to grant (repeat for more): {', '.join(service.scopes)}",
    )
    parser.add_argument("--subject", default="developer", help="the token's `sub` (user id)")
    parser.add_argument("--ttl-seconds", type=int, default=3600, help="lifetime (default 3600)")
    parser.add_argument(
        "--tenant", help="the tenant claim's value (when AUTH_JWT_TENANT_CLAIM is set)"
    )
    parser.set_defaults(handler=_mint)
