"""SEC-3: API keys for service-to-service calls: hashed at rest, scoped, expiring, revocable."""

from __future__ import annotations

import hashlib
import subprocess
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import text

from goldenpath_chassis import ChassisSettings, Service, chassis_of
from goldenpath_chassis._core.api_keys.exceptions import (
    ApiKeyNotFoundError,
    InvalidApiKeyRequestError,
)
from goldenpath_chassis._core.api_keys.service import ApiKeyService
from goldenpath_chassis._core.security.api_keys import API_KEY_PATTERN
from goldenpath_chassis.testing.auth import TokenFactory

from tests.support.example_command import example_command

pytestmark = pytest.mark.integration

# The example service's package; its command line is run from the chassis's directory.


@pytest.fixture
def settings(service: Service, database_url: str, auth_settings: dict[str, str]) -> ChassisSettings:
    """No verification cache here: revocation shows at once (the cache has its own test)."""
    return service.load_settings(
        app_env="test",
        database_url=database_url,
        auth_api_key_cache_seconds=0,
        **auth_settings,
    )


@pytest.fixture
async def keys(app: FastAPI, service: Service) -> AsyncIterator[ApiKeyService]:
    async with chassis_of(app).resources.database.sessionmaker() as session:
        yield ApiKeyService(session, declared_scopes=service.scopes)


def secret_of(key: str) -> str:
    """The random half of a key (it may itself contain underscores)."""
    match = API_KEY_PATTERN.fullmatch(key)
    assert match is not None
    return match.group(2)


def key_header(key: str) -> dict[str, str]:
    return {"X-API-Key": key}


async def test_sec3_a_key_is_shown_once_and_stored_only_as_a_hash(
    keys: ApiKeyService, app: FastAPI
) -> None:
    api_key, plaintext = await keys.create(name="billing", scopes=["widgets:read"])
    assert API_KEY_PATTERN.fullmatch(plaintext)
    assert api_key.key_id in plaintext
    async with chassis_of(app).resources.database.engine.connect() as connection:
        rows = (await connection.execute(text("SELECT * FROM api_keys"))).mappings().all()
    assert len(rows) == 1
    secret = secret_of(plaintext)
    assert all(secret not in str(value) for value in rows[0].values())
    assert rows[0]["secret_hash"] == hashlib.sha256(plaintext.encode()).hexdigest()


async def test_sec3_a_key_authenticates_within_its_scopes(
    keys: ApiKeyService, anonymous_client: httpx.AsyncClient
) -> None:
    _, reader = await keys.create(name="reporting", scopes=["widgets:read"])
    assert (
        await anonymous_client.get("/v1/widgets", headers=key_header(reader))
    ).status_code == 200
    whoami = (await anonymous_client.get("/v1/auth/session", headers=key_header(reader))).json()
    assert whoami["method"] == "api_key"
    denied = await anonymous_client.post(
        "/v1/widgets", json={"name": "x"}, headers=key_header(reader)
    )
    assert denied.status_code == 403
    assert denied.json()["type"] == "urn:problem-type:insufficient-scope"
    # Keys serve machines: they cannot open a browser session.
    session = await anonymous_client.post("/v1/auth/session", headers=key_header(reader))
    assert session.status_code == 403


async def test_sec3_a_key_is_accepted_as_a_bearer_credential(
    keys: ApiKeyService, anonymous_client: httpx.AsyncClient, tokens: TokenFactory
) -> None:
    """RFC 6750 clients (Prometheus's `authorization: credentials_file`) carry a key as a bearer
    credential; it is the same key, with the same scopes, and a JWT still works beside it."""
    api_key, reader = await keys.create(name="prometheus", scopes=["widgets:read"])
    as_bearer = {"Authorization": f"Bearer {reader}"}
    assert (await anonymous_client.get("/v1/widgets", headers=as_bearer)).status_code == 200
    whoami = (await anonymous_client.get("/v1/auth/session", headers=as_bearer)).json()
    assert whoami == {"subject": api_key.key_id, "scopes": ["widgets:read"], "method": "api_key"}
    denied = await anonymous_client.post("/v1/widgets", json={"name": "x"}, headers=as_bearer)
    assert denied.status_code == 403
    assert denied.json()["type"] == "urn:problem-type:insufficient-scope"
    # A key still cannot open a browser session, whichever header carries it.
    assert (await anonymous_client.post("/v1/auth/session", headers=as_bearer)).status_code == 403

    token = tokens.headers("widgets:read")
    jwt = (await anonymous_client.get("/v1/auth/session", headers=token)).json()
    assert jwt["method"] == "bearer"

    await keys.revoke(api_key.key_id)
    revoked = await anonymous_client.get("/v1/widgets", headers=as_bearer)
    assert revoked.status_code == 401
    assert "revoked" in revoked.json()["detail"]
    challenge = revoked.headers["www-authenticate"]
    assert challenge.startswith('Bearer realm="api", error="invalid_token"')


@pytest.mark.parametrize(
    ("credential", "reason"),
    [
        ("ak_aaaaaaaaaaaa_" + "A" * 43, "unknown API key"),
        ("ak_not-a-key", "malformed API key"),
        ("eyJhbGciOiJSUzI1NiJ9.e30.c2ln", None),  # not a key: verified, and refused, as a JWT
    ],
)
async def test_sec3_a_bad_bearer_key_is_401_naming_why(
    anonymous_client: httpx.AsyncClient, credential: str, reason: str | None
) -> None:
    response = await anonymous_client.get(
        "/v1/widgets", headers={"Authorization": f"Bearer {credential}"}
    )
    assert response.status_code == 401
    assert response.json()["type"] == "urn:problem-type:invalid-credentials"
    detail = response.json()["detail"]
    if reason is None:
        assert "API key" not in detail, detail
    else:
        assert reason in detail, detail


@pytest.mark.parametrize(
    "key",
    [
        "not-a-key",
        "ak_aaaaaaaaaaaa_" + "A" * 43,  # well-formed, unknown
        "ak_AAAAAAAAAAAA_" + "A" * 43,  # wrong alphabet
        "ak_aaaaaaaaaaaa_" + "A" * 44,
        "ak_aaaaaaaaaaaa_" + "A" * 10_000,
    ],
)
async def test_sec3_unknown_or_malformed_keys_are_401(
    anonymous_client: httpx.AsyncClient, key: str
) -> None:
    response = await anonymous_client.get("/v1/widgets", headers=key_header(key))
    assert response.status_code == 401
    assert response.json()["type"] == "urn:problem-type:invalid-credentials"


async def test_sec3_a_key_cannot_sign_anyone_out_everywhere(
    keys: ApiKeyService, anonymous_client: httpx.AsyncClient
) -> None:
    """A key's id is no user's `sub`: it must not end the sessions of a user it might spell."""
    _, key = await keys.create(name="billing", scopes=["widgets:read"])
    response = await anonymous_client.delete(
        "/v1/auth/session?everywhere=true", headers=key_header(key)
    )
    assert response.status_code == 403, response.text
    assert response.json()["detail"] == "An API key has no sessions to sign out everywhere."


async def test_sec3_a_key_with_the_right_id_but_wrong_secret_is_401(
    keys: ApiKeyService, anonymous_client: httpx.AsyncClient
) -> None:
    api_key, _ = await keys.create(name="victim", scopes=["widgets:read"])
    guess = f"ak_{api_key.key_id}_" + "B" * 43
    response = await anonymous_client.get("/v1/widgets", headers=key_header(guess))
    assert response.status_code == 401
    assert "unknown API key" in response.json()["detail"]


async def test_sec3_a_revoked_key_stops_working(
    keys: ApiKeyService, anonymous_client: httpx.AsyncClient
) -> None:
    api_key, key = await keys.create(name="leaked", scopes=["widgets:read"])
    assert (await anonymous_client.get("/v1/widgets", headers=key_header(key))).status_code == 200
    await keys.revoke(api_key.key_id)
    response = await anonymous_client.get("/v1/widgets", headers=key_header(key))
    assert response.status_code == 401
    assert "revoked" in response.json()["detail"]


async def test_sec3_an_expired_key_stops_working(
    app: FastAPI, service: Service, anonymous_client: httpx.AsyncClient
) -> None:
    created_earlier = datetime.now(UTC) - timedelta(days=2)
    async with chassis_of(app).resources.database.sessionmaker() as session:
        keys = ApiKeyService(session, declared_scopes=service.scopes, clock=lambda: created_earlier)
        _, key = await keys.create(
            name="temporary", scopes=["widgets:read"], lifetime=timedelta(days=1)
        )
    response = await anonymous_client.get("/v1/widgets", headers=key_header(key))
    assert response.status_code == 401
    assert "expired" in response.json()["detail"]


async def test_sec3_key_requests_are_checked(keys: ApiKeyService) -> None:
    with pytest.raises(InvalidApiKeyRequestError):
        await keys.create(name=" ", scopes=[])
    with pytest.raises(InvalidApiKeyRequestError):
        await keys.create(name="x", scopes=["Not A Scope"])
    with pytest.raises(InvalidApiKeyRequestError):
        await keys.create(name="x", scopes=[], lifetime=timedelta(days=99999))
    with pytest.raises(ApiKeyNotFoundError):
        await keys.revoke("nosuchkey000")


async def test_sec3_a_key_gets_only_scopes_the_service_declares(
    app: FastAPI, keys: ApiKeyService
) -> None:
    """Code that builds the service itself, not only the command, has the scopes checked: it
    cannot leave them out (a key with an undeclared scope would only ever get 403)."""
    async with chassis_of(app).resources.database.sessionmaker() as session:
        with pytest.raises(TypeError, match="declared_scopes"):
            ApiKeyService(session)  # type: ignore[call-arg]
        with pytest.raises(TypeError, match="not one string"):
            ApiKeyService(session, declared_scopes="widgets:read")
    with pytest.raises(InvalidApiKeyRequestError) as refused:
        await keys.create(name="typo", scopes=["widgets:read", "widgets:raed"])
    assert refused.value.detail.startswith("Not scopes of this service: widgets:raed (its scopes:")
    assert await keys.list() == []  # nothing created


def manage(
    database_url: str, *args: str, environment: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    return example_command(database_url, "api-keys", *args, environment=environment)


async def test_sec3_the_management_command_creates_lists_and_revokes_keys(
    database_url: str, anonymous_client: httpx.AsyncClient
) -> None:
    created = manage(database_url, "create", "--name", "billing", "--scope", "widgets:read")
    assert created.returncode == 0, created.stderr
    key = created.stdout.strip()
    assert API_KEY_PATTERN.fullmatch(key)  # stdout holds the key and nothing else
    assert "not shown again" in created.stderr
    assert (await anonymous_client.get("/v1/widgets", headers=key_header(key))).status_code == 200

    listed = manage(database_url, "list")
    key_id = key.split("_")[1]
    assert key_id in listed.stdout
    assert secret_of(key) not in listed.stdout  # never the secret

    revoked = manage(database_url, "revoke", key_id)
    assert revoked.returncode == 0, revoked.stderr
    assert (await anonymous_client.get("/v1/widgets", headers=key_header(key))).status_code == 401
    unknown = manage(database_url, "revoke", "nosuchkey000")
    assert unknown.returncode == 1
    assert "No API key" in unknown.stderr


async def test_sec3_the_management_command_creates_a_replacement_key(
    database_url: str, keys: ApiKeyService
) -> None:
    """`--owner-of` gives the new key the old one's objects (SEC-6); `list` shows each owner."""
    old, _ = await keys.create(name="billing", scopes=["widgets:read"])
    created = manage(
        database_url, "create", "--name", "billing", "--scope", "widgets:read",
        "--owner-of", old.key_id,
    )  # fmt: skip
    assert created.returncode == 0, created.stderr
    assert f"owner key:{old.key_id}" in created.stderr
    new_id = created.stdout.strip().split("_")[1]
    listed = manage(database_url, "list").stdout.splitlines()
    owners = {line.split("\t")[0]: line.split("\t")[4] for line in listed}
    assert owners == {old.key_id: f"key:{old.key_id}", new_id: f"key:{old.key_id}"}


async def test_sec3_revoking_by_the_whole_key_never_prints_its_secret(
    database_url: str, keys: ApiKeyService, anonymous_client: httpx.AsyncClient
) -> None:
    """An operator revoking a leaked key pastes the key itself: its id is revoked, and neither
    the answer nor a refusal (what the command prints, into a job's log) repeats the secret."""
    api_key, key = await keys.create(name="leaked", scopes=["widgets:read"])
    revoked = manage(database_url, "revoke", key)
    assert revoked.returncode == 0, revoked.stderr
    assert secret_of(key) not in revoked.stdout + revoked.stderr
    assert f"revoked {api_key.key_id} (leaked)" in revoked.stderr
    assert (await anonymous_client.get("/v1/widgets", headers=key_header(key))).status_code == 401
    with pytest.raises(ApiKeyNotFoundError) as unknown:
        await keys.revoke("ak_nosuchkey000_" + secret_of(key))
    assert unknown.value.detail == "No API key with id 'nosuchkey000'."
    for garbled in (key + "x", "ak_" + secret_of(key)):  # neither a key nor an id
        with pytest.raises(InvalidApiKeyRequestError) as refused:
            await keys.revoke(garbled)
        assert secret_of(key) not in refused.value.detail
        assert refused.value.detail.startswith("Not a key id"), refused.value.detail


def test_sec3_the_management_command_explains_an_unusable_database(tmp_path: Path) -> None:
    unmigrated = f"sqlite+aiosqlite:///{tmp_path}/empty.sqlite3"
    listed = manage(unmigrated, "list")
    assert listed.returncode == 1
    assert "the database cannot be used" in listed.stderr
    assert "migrate" in listed.stderr
    assert "Traceback" not in listed.stderr


@pytest.mark.parametrize(
    ("args", "reason"),
    [
        (  # a typo: the key would only ever get 403
            ("--scope", "widgets:raed"),
            "Not scopes of this service: widgets:raed (its scopes: metrics:read, widgets:admin, "
            "widgets:read, widgets:write).",
        ),
        (  # too many days for a timedelta: was an OverflowError's traceback
            ("--scope", "widgets:read", "--expires-in-days", "1000000000"),
            "The lifetime must be positive and at most 3650 days.",
        ),
        (("--expires-in-days", "-1000000000"), "The lifetime must be positive"),
    ],
)
def test_sec3_the_management_command_refuses_a_key_that_could_not_work(
    database_url: str, args: tuple[str, ...], reason: str
) -> None:
    created = manage(database_url, "create", "--name", "typo", *args)
    assert created.returncode == 1, created.stderr
    assert created.stdout == ""  # no key
    assert created.stderr.startswith(f"api-keys: {reason}"), created.stderr
    assert len(created.stderr.splitlines()) == 1  # one line, no traceback
    assert "typo" not in manage(database_url, "list").stdout  # nothing created


# What could spoof `list`'s columns or rows, or rewrite an operator's terminal: a tab, a line
# break, ESC's sequence to clear the screen, a C1 control (CSI), a line separator (a row for
# `str.splitlines`), a right-to-left override and a zero-width space.
SPOOFING = ["\t", "\n", "\x1b[2J", "\x9b", "\u2028", "\u202e", "\u200b"]


@pytest.mark.parametrize(
    ("field", "spoof"),
    [("name", spoof) for spoof in SPOOFING] + [("tenant", "\t"), ("tenant", "\x1b[2J")],
)
async def test_sec3_the_management_command_refuses_control_characters_in_a_name_or_tenant(
    database_url: str, keys: ApiKeyService, field: str, spoof: str
) -> None:
    code = f"U+{ord(spoof[0]):04X}"
    values = {"name": "sync", "tenant": "acme"} | {field: f"billing{spoof}admin"}
    created = manage(
        database_url, "create", "--name", values["name"], "--tenant", values["tenant"],
        "--scope", "widgets:read", environment={"AUTH_JWT_TENANT_CLAIM": "org"},
    )  # fmt: skip
    assert created.returncode == 1, created.stderr
    assert created.stdout == ""  # no key
    assert created.stderr.startswith(f"api-keys: The {field} holds {code}: "), created.stderr
    line = created.stderr.removesuffix("\n")
    assert spoof not in line  # named, never echoed
    assert len(line.splitlines()) == 1
    assert await keys.list() == []  # nothing created


async def test_sec3_list_escapes_what_keys_made_before_the_check_hold(
    database_url: str, app: FastAPI, keys: ApiKeyService
) -> None:
    """Rows stored before names and tenants were checked cannot spoof `list` either: each key
    stays one line of six columns, its control characters escaped (and `\\` doubled)."""
    spoofed, _ = await keys.create(name="spoofed", scopes=["widgets:read"])
    plain, _ = await keys.create(name="plain", scopes=["widgets:read"])
    # A forged row after a tab, then a line break, a terminal title set by ESC ] ... BEL, and
    # a right-to-left override.
    name = "x\tactive\texpires 2099-01-01\twidgets:admin\tkey:admin\tadmin\n\x1b]0;owned\x07\u202e"
    async with chassis_of(app).resources.database.engine.begin() as connection:
        await connection.execute(
            text("UPDATE api_keys SET name = :name, owner = :owner WHERE key_id = :key_id"),
            {"name": name + "\\", "owner": "tenant:acme\u2028b", "key_id": spoofed.key_id},
        )
    listed = manage(database_url, "list")
    assert listed.returncode == 0, listed.stderr
    rows = [line.split("\t") for line in listed.stdout.splitlines()]
    assert len(rows) == 2
    assert all(len(row) == 6 for row in rows), rows
    columns = {row[0]: (row[4], row[5]) for row in rows}
    assert columns[plain.key_id] == (f"key:{plain.key_id}", "plain")
    assert columns[spoofed.key_id] == (
        "tenant:acme\\u2028b",
        "x\\tactive\\texpires 2099-01-01\\twidgets:admin\\tkey:admin\\tadmin\\n"
        "\\x1b]0;owned\\x07\\u202e\\\\",
    )
    assert not any(character in listed.stdout for character in "\x1b\x07\u202e\u2028")

    revoked = manage(database_url, "revoke", spoofed.key_id)
    assert revoked.returncode == 0, revoked.stderr
    assert "\x1b" not in revoked.stderr
    assert len(revoked.stderr.splitlines()) == 1
