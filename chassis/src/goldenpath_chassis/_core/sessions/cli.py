"""`python -m <package> sessions revoke --subject SUB`: sign a user out everywhere (SEC-2).

An incident responder's command for a stolen account: every browser session of the user opened
until now is refused, on every replica, without knowing any session's id. It writes the same
record as `DELETE /v1/auth/session?everywhere=true`, in the Redis the replicas share. Bearer
tokens are the identity provider's: revoke the user's tokens there as well.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from ..settings import ChassisSettings

if TYPE_CHECKING:
    from ..domain import Subcommands
    from ..service import Service

EXIT_FAILED = 1


async def _revoke_subject(args: argparse.Namespace, settings: ChassisSettings) -> float:
    # Imported here, so that `--help` stays fast.
    from ..redis import redis_from_url  # noqa: PLC0415
    from ..security.revocation import SessionRevocations  # noqa: PLC0415

    assert settings.redis.url is not None  # checked by the caller
    revocations = SessionRevocations(
        namespace=settings.service_name,
        session_max_age_seconds=settings.sessions.max_age_seconds,
    )
    redis = redis_from_url(
        settings.redis.url.get_secret_value(),
        socket_connect_timeout=settings.redis.timeout_seconds,
        socket_timeout=settings.redis.timeout_seconds,
    )
    revocations.use_redis(redis)
    try:
        return await revocations.revoke_subject(args.subject, tenant=args.tenant)
    finally:
        await redis.aclose()


def _revoke(args: argparse.Namespace, settings: ChassisSettings) -> int:
    from ..security.revocation import RevocationUnavailableError  # noqa: PLC0415

    if settings.redis.url is None:
        # Without Redis each serving process keeps its own records: no command can reach them.
        print(
            "sessions: REDIS_URL is not set, so sessions are revoked only in each serving "
            "process's memory, which this command cannot reach; restarting the service ends "
            "them all.",
            file=sys.stderr,
        )
        return EXIT_FAILED
    if (settings.jwt.tenant_claim is None) != (args.tenant is None):
        print(
            "sessions: --tenant is required when AUTH_JWT_TENANT_CLAIM is set, and refused "
            "otherwise.",
            file=sys.stderr,
        )
        return EXIT_FAILED
    try:
        moment = asyncio.run(_revoke_subject(args, settings))
    except RevocationUnavailableError:
        print("sessions: Redis cannot be reached; nothing was revoked.", file=sys.stderr)
        return EXIT_FAILED
    tenant = "" if args.tenant is None else f" of tenant {args.tenant!r}"
    print(
        f"sessions: revoked every session of subject {args.subject!r}{tenant} opened before "
        f"{datetime.fromtimestamp(moment, UTC):%Y-%m-%dT%H:%M:%S.%fZ}, on every replica.",
        file=sys.stderr,
    )
    return 0


def register_session_commands(commands: Subcommands, service: Service) -> None:
    parser = commands.add_parser("sessions", help="revoke browser sessions")
    actions = parser.add_subparsers(dest="sessions_action", metavar="ACTION", required=True)
    revoke = actions.add_parser(
        "revoke",
        help="sign a user out everywhere: refuse every session they opened until now",
        description="Every browser session of the user opened until now is refused on every "
        "replica (through REDIS_URL). Example: "
        f"python -m {service.package} sessions revoke --subject USER_ID.",
    )
    revoke.add_argument("--subject", required=True, help="the user's id (their tokens' `sub`)")
    revoke.add_argument(
        "--tenant", help="the user's tenant (required when AUTH_JWT_TENANT_CLAIM is set)"
    )
    revoke.set_defaults(handler=_revoke)
