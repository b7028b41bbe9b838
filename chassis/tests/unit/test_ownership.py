"""SEC-6 on its own: who owns what, the owner filter a repository adds, and the tenant claim.

Through the API and the service layer, against real databases: tests/integration/test_ownership.py.
"""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import Select, String, select
from sqlalchemy.dialects import postgresql
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column
from structlog.testing import capture_logs

from goldenpath_chassis._core.security.dev_keys import generate_signing_key
from goldenpath_chassis._core.security.jwt import JwtVerifier, StaticKeySource, TokenRejectedError
from goldenpath_chassis._core.security.session import SessionCodec
from goldenpath_chassis.security import Ownership, Principal
from goldenpath_chassis.testing.auth import TEST_AUDIENCE, TEST_ISSUER

pytestmark = pytest.mark.unit

NOTES = Ownership(domain="notes", admin_scope="notes:admin")


class Base(DeclarativeBase):
    pass


class Note(Base):
    __tablename__ = "notes"
    id: Mapped[int] = mapped_column(primary_key=True)
    owner: Mapped[str] = mapped_column(String(300))


def principal(subject: str, *scopes: str, **options: object) -> Principal:
    return Principal(subject, frozenset(scopes), **{"method": "bearer", **options})  # type: ignore[arg-type]


def where_clause(statement: Select[Any]) -> str:
    compiled = statement.compile(
        dialect=postgresql.dialect(),  # type: ignore[no-untyped-call]
        compile_kwargs={"literal_binds": True},
    )
    return str(compiled).split("WHERE", 1)[1].strip()


def test_sec6_owners_of_users_keys_and_tenants_never_collide() -> None:
    user = principal("ab12cd34ef56")
    key = principal("ab12cd34ef56", method="api_key")
    session = principal("ab12cd34ef56", method="session", session_id="s1")
    assert user.owner == session.owner == "user:ab12cd34ef56"  # a user's token and its session
    assert key.owner == "key:ab12cd34ef56"  # a token whose `sub` is a key's id is not that key
    assert principal("alice", tenant="acme").owner == "tenant:acme"
    assert principal("bob", method="session", tenant="acme").owner == "tenant:acme"


def test_sec6_the_criterion_filters_by_the_owner_unless_the_admin_scope_is_held() -> None:
    own = NOTES.access(principal("alice", "notes:read"), "read")
    assert not own.all_owners
    statement = select(Note).where(Note.id == 1, own.criterion(Note.owner))
    assert where_clause(statement) == "notes.id = 1 AND notes.owner = 'user:alice'"

    admin = NOTES.access(principal("root", "notes:read", "notes:admin"), "read")
    assert admin.all_owners
    # SQLAlchemy drops the `true` from a conjunction: the admin's query has no owner filter.
    statement = select(Note).where(Note.id == 1, admin.criterion(Note.owner))
    assert where_clause(statement) == "notes.id = 1"
    assert where_clause(select(Note).where(admin.own_only().criterion(Note.owner))) == (
        "notes.owner = 'user:root'"
    )


def test_sec6_only_another_owners_objects_are_logged() -> None:
    admin = NOTES.access(principal("root", "notes:admin"), "delete")
    with capture_logs() as logs:
        admin.reached([Note(id=1, owner="user:root"), Note(id=2, owner="user:alice")])
    assert logs == [
        {
            "event": "ownership_crossed",
            "log_level": "warning",
            "domain": "notes",
            "action": "delete",
            "object_id": "2",
            "object_owner": "user:alice",
            "principal": "root",
            "method": "bearer",
            "tenant": None,
            "scope": "notes:admin",
        }
    ]


def test_sec6_an_ownership_needs_a_scope_name() -> None:
    with pytest.raises(ValueError, match="not a scope name"):
        Ownership(domain="notes", admin_scope="Notes Admin")
    with pytest.raises(ValueError, match="domain"):
        Ownership(domain="", admin_scope="notes:admin")


async def test_sec6_the_tenant_claim_is_required_when_configured_and_bounded() -> None:
    key = generate_signing_key()
    keys = StaticKeySource(key.public_pem, algorithms=("EdDSA",))
    verifier = JwtVerifier(keys, issuer=TEST_ISSUER, audience=TEST_AUDIENCE, tenant_claim="org")

    def mint(**claims: object) -> str:
        return key.mint(issuer=TEST_ISSUER, audience=TEST_AUDIENCE, claims=claims)

    assert (await verifier.verify(mint(org="acme"))).tenant == "acme"
    for claims, reason in (
        ({}, "missing claim org"),
        ({"org": 7}, "org must be a string"),
        ({"org": " "}, "org must be a string"),
        ({"org": "a" * 256}, "org must be a string"),
    ):
        with pytest.raises(TokenRejectedError, match=reason):
            await verifier.verify(mint(**claims))
    without_claim = JwtVerifier(keys, issuer=TEST_ISSUER, audience=TEST_AUDIENCE)
    assert (await without_claim.verify(mint(org="acme"))).tenant is None


async def test_sec6_a_subject_longer_than_openid_connects_bound_is_refused() -> None:
    key = generate_signing_key()
    keys = StaticKeySource(key.public_pem, algorithms=("EdDSA",))
    verifier = JwtVerifier(keys, issuer=TEST_ISSUER, audience=TEST_AUDIENCE)
    longest = "s" * 255
    token = key.mint(issuer=TEST_ISSUER, audience=TEST_AUDIENCE, subject=longest)
    assert (await verifier.verify(token)).subject == longest
    too_long = key.mint(issuer=TEST_ISSUER, audience=TEST_AUDIENCE, subject=longest + "s")
    with pytest.raises(TokenRejectedError, match="sub is too long"):
        await verifier.verify(too_long)


def test_sec6_a_session_keeps_its_tenant() -> None:
    codec = SessionCodec("x" * 32, max_age_seconds=60)
    cookie, _ = codec.issue(subject="alice", scopes=["notes:read"], tenant="acme")
    read = codec.read(cookie)
    assert read is not None
    assert (read.subject, read.tenant) == ("alice", "acme")
    plain, _ = codec.issue(subject="alice", scopes=[])
    assert (codec.read(plain) or read).tenant is None
