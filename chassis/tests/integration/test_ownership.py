"""SEC-6 on the example's widgets, through the API and the service layer, on a real database:
another owner's widget is a 404, names are unique per owner, the cache is per owner, the admin
scope crosses owners and every crossing is logged, and tenants share their objects.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, MutableMapping
from contextlib import AbstractAsyncContextManager
from pathlib import Path
from typing import Any

import httpx
import pytest
from asgi_lifespan import LifespanManager
from fastapi import FastAPI
from structlog.testing import capture_logs

from goldenpath_chassis import Service, chassis_of
from goldenpath_chassis._core.api_keys.exceptions import (
    ApiKeyNotFoundError,
    InvalidApiKeyRequestError,
)
from goldenpath_chassis._core.api_keys.service import ApiKeyService
from goldenpath_chassis.cache import JsonCodec
from goldenpath_chassis.security import Principal
from goldenpath_chassis.testing.asgi import asgi_client
from goldenpath_chassis.testing.auth import TokenFactory, bearer, claims_of
from goldenpath_chassis.testing.databases import delete_all_rows

from tests.example.widgets import (
    ADMIN_SCOPE,
    CACHE,
    WidgetCreate,
    WidgetNotFoundError,
    WidgetRead,
    WidgetService,
    WidgetUpdate,
)

pytestmark = pytest.mark.integration

ORIGIN = "https://testserver"  # HTTPS, so that the `Secure` session cookie travels

USER_SCOPES = ("widgets:read", "widgets:write")
Json = dict[str, Any]


def client_for(
    app: FastAPI, headers: dict[str, str]
) -> AbstractAsyncContextManager[httpx.AsyncClient]:
    return asgi_client(app, headers=headers)


async def create(client: httpx.AsyncClient, name: str) -> Json:
    response = await client.post("/v1/widgets", json={"name": name})
    assert response.status_code == 201, response.text
    body: Json = response.json()
    return body


def crossings(logs: list[MutableMapping[str, Any]]) -> list[tuple[str, str, str]]:
    return [
        (line["action"], line["object_id"], line["principal"])
        for line in logs
        if line["event"] == "ownership_crossed"
    ]


async def test_sec6_another_principal_can_neither_see_list_change_nor_delete_a_widget(
    app: FastAPI, tokens: TokenFactory
) -> None:
    async with (
        client_for(app, tokens.headers(*USER_SCOPES, subject="alice")) as alice,
        client_for(app, tokens.headers(*USER_SCOPES, subject="bob")) as bob,
    ):
        widget = await create(alice, "Alice's")
        url = f"/v1/widgets/{widget['id']}"
        missing = await bob.get(f"/v1/widgets/{uuid.uuid4()}")
        for response in (
            await bob.get(url),
            await bob.patch(url, json={"name": "Bob's now"}),
            await bob.delete(url),
        ):
            # Exactly what a widget that does not exist answers: its existence is not leaked.
            assert response.status_code == 404
            assert response.json()["type"] == missing.json()["type"]
        assert (await bob.get("/v1/widgets")).json()["items"] == []
        after = await alice.get(url)
        assert after.status_code == 200
        assert after.json() == widget  # unchanged, version 1
        assert [w["id"] for w in (await alice.get("/v1/widgets")).json()["items"]] == [widget["id"]]


async def test_sec6_an_api_key_and_a_user_are_different_owners(
    app: FastAPI, tokens: TokenFactory
) -> None:
    """What an API key creates is the key's, even for a token whose `sub` is the key's id."""
    async with chassis_of(app).resources.database.sessionmaker() as session:
        api_key, plaintext = await ApiKeyService(session, declared_scopes=USER_SCOPES).create(
            name="robot", scopes=USER_SCOPES
        )
    async with client_for(app, {"X-API-Key": plaintext}) as robot:
        widget = await create(robot, "The robot's")
        assert (await robot.get(f"/v1/widgets/{widget['id']}")).status_code == 200
    async with client_for(app, tokens.headers(*USER_SCOPES, subject=api_key.key_id)) as lookalike:
        assert (await lookalike.get(f"/v1/widgets/{widget['id']}")).status_code == 404


async def test_sec6_a_replacement_key_keeps_the_objects_of_the_key_it_replaces(
    app: FastAPI,
) -> None:
    """Rotating a key (they expire in 90 days by default) must not cost its caller its objects,
    nor push an operator to grant the admin scope, which reaches every owner's, to get them back."""
    async with chassis_of(app).resources.database.sessionmaker() as session:
        keys = ApiKeyService(session, declared_scopes=USER_SCOPES)
        first, first_key = await keys.create(name="billing", scopes=USER_SCOPES)
        async with client_for(app, {"X-API-Key": first_key}) as billing:
            widget = await create(billing, "Invoices")
        await keys.revoke(first.key_id)
        _, second_key = await keys.create(name="billing", scopes=USER_SCOPES, owner_of=first.key_id)
        _, third_key = await keys.create(name="billing", scopes=USER_SCOPES, owner_of=second_key)
        _, stranger_key = await keys.create(name="reporting", scopes=USER_SCOPES)
    url = f"/v1/widgets/{widget['id']}"
    for replacement in (second_key, third_key):  # a replacement's replacement too
        async with client_for(app, {"X-API-Key": replacement}) as billing:
            assert (await billing.get(url)).status_code == 200
            listed = (await billing.get("/v1/widgets")).json()["items"]
            assert [w["id"] for w in listed] == [widget["id"]]
    async with client_for(app, {"X-API-Key": third_key}) as billing:
        assert (await billing.patch(url, json={"price_cents": 5})).status_code == 200
    async with client_for(app, {"X-API-Key": stranger_key}) as stranger:
        assert (await stranger.get(url)).status_code == 404


async def test_sec6_a_key_made_for_a_tenant_reaches_that_tenants_objects_only(
    tenant_app: FastAPI, tokens: TokenFactory
) -> None:
    """A tenant's integration needs no admin scope, which would reach every tenant's objects."""
    headers = {
        "Authorization": f"Bearer {tokens(*USER_SCOPES, subject='alice', claims={'org': 'acme'})}"
    }
    async with client_for(tenant_app, headers) as alice:
        widget = await create(alice, "Acme's")
    async with chassis_of(tenant_app).resources.database.sessionmaker() as session:
        keys = ApiKeyService(session, declared_scopes=USER_SCOPES, tenant_claim="org")
        _, acme_key = await keys.create(name="acme-sync", scopes=USER_SCOPES, tenant="acme")
        _, globex_key = await keys.create(name="globex-sync", scopes=USER_SCOPES, tenant="globex")
    url = f"/v1/widgets/{widget['id']}"
    async with client_for(tenant_app, {"X-API-Key": acme_key}) as acme:
        assert (await acme.get(url)).status_code == 200
        made = await create(acme, "From the sync")
    async with client_for(tenant_app, headers) as alice:
        assert (await alice.get(f"/v1/widgets/{made['id']}")).status_code == 200
    async with client_for(tenant_app, {"X-API-Key": globex_key}) as globex:
        assert (await globex.get(url)).status_code == 404
        assert (await globex.get("/v1/widgets")).json()["items"] == []


async def test_sec6_a_key_acts_for_a_tenant_only_where_owners_are_tenants(app: FastAPI) -> None:
    async with chassis_of(app).resources.database.sessionmaker() as session:
        keys = ApiKeyService(session, declared_scopes=USER_SCOPES)
        with pytest.raises(InvalidApiKeyRequestError, match="AUTH_JWT_TENANT_CLAIM"):
            await keys.create(name="sync", scopes=USER_SCOPES, tenant="acme")
        tenants = ApiKeyService(session, declared_scopes=USER_SCOPES, tenant_claim="org")
        for blank_or_long in (" ", "x" * 256):
            with pytest.raises(InvalidApiKeyRequestError, match="1 to 255"):
                await tenants.create(name="sync", scopes=USER_SCOPES, tenant=blank_or_long)
        for padded in (" acme", "acme "):  # a token's claim is compared as it is
            with pytest.raises(InvalidApiKeyRequestError, match="no spaces around it"):
                await tenants.create(name="sync", scopes=USER_SCOPES, tenant=padded)
        with pytest.raises(ApiKeyNotFoundError):
            await keys.create(name="sync", scopes=USER_SCOPES, owner_of="nosuchkey000")


async def test_sec6_names_are_unique_per_owner(app: FastAPI, tokens: TokenFactory) -> None:
    async with (
        client_for(app, tokens.headers(*USER_SCOPES, subject="alice")) as alice,
        client_for(app, tokens.headers(*USER_SCOPES, subject="bob")) as bob,
    ):
        await create(alice, "Twin")
        # Bob may use the name: a 409 would tell him that someone else has a widget of that name.
        await create(bob, "Twin")
        again = await alice.post("/v1/widgets", json={"name": "Twin"})
        assert again.status_code == 409
        assert again.json()["type"] == "urn:problem-type:widget-name-taken"


async def test_sec6_the_cache_never_serves_a_widget_to_another_owner(
    app: FastAPI, tokens: TokenFactory
) -> None:
    metrics = chassis_of(app).instruments.metrics.registry
    async with (
        client_for(app, tokens.headers(*USER_SCOPES, subject="alice")) as alice,
        client_for(app, tokens.headers(*USER_SCOPES, subject="bob")) as bob,
    ):
        widget = await create(alice, "Cached")
        url = f"/v1/widgets/{widget['id']}"
        assert (await alice.get(url)).status_code == 200
        assert (await alice.get(url)).status_code == 200
        assert metrics.get_sample_value("cache_hits_total", {"cache": "widgets"}) == 1
        assert (await bob.get(url)).status_code == 404  # cached for Alice, not for him
        assert metrics.get_sample_value("cache_hits_total", {"cache": "widgets"}) == 1


async def test_sec6_the_admin_scope_crosses_owners_and_every_crossing_is_logged(
    app: FastAPI, tokens: TokenFactory
) -> None:
    async with (
        client_for(app, tokens.headers(*USER_SCOPES, subject="alice")) as alice,
        client_for(app, tokens.headers(*USER_SCOPES, ADMIN_SCOPE, subject="auditor")) as admin,
    ):
        alices = await create(alice, "Alice's")
        url = f"/v1/widgets/{alices['id']}"
        with capture_logs() as logs:
            own = await create(admin, "The auditor's")
            listed = (await admin.get("/v1/widgets")).json()["items"]
            assert (await admin.get(f"/v1/widgets/{own['id']}")).status_code == 200
            read = await admin.get(url)
            changed = await admin.patch(url, json={"price_cents": 5})
            deleted = await admin.delete(url)
        assert {widget["id"] for widget in listed} == {alices["id"], own["id"]}
        assert read.status_code == 200
        assert read.json()["name"] == "Alice's"
        assert changed.status_code == 200
        assert deleted.status_code == 204
        assert (await alice.get(url)).status_code == 404
    # One line per crossing, naming the principal, the domain and the object; none for its own.
    assert crossings(logs) == [
        ("list", alices["id"], "auditor"),
        ("read", alices["id"], "auditor"),
        ("update", alices["id"], "auditor"),
        ("delete", alices["id"], "auditor"),
    ]
    line = next(line for line in logs if line["event"] == "ownership_crossed")
    assert line["log_level"] == "warning"
    assert (line["domain"], line["object_owner"], line["scope"]) == (
        "widgets",
        "user:alice",
        ADMIN_SCOPE,
    )


async def test_sec6_the_service_layer_filters_by_owner_too(app: FastAPI) -> None:
    database = chassis_of(app).resources.database
    cache = chassis_of(app).resources.cache.resource(CACHE, JsonCodec(WidgetRead))
    alice = Principal("alice", frozenset(USER_SCOPES), "bearer")
    bob = Principal("bob", frozenset(USER_SCOPES), "bearer")
    admin = Principal("auditor", frozenset({*USER_SCOPES, ADMIN_SCOPE}), "bearer")
    async with database.sessionmaker() as session:
        widgets = WidgetService(session, cache=cache, webhooks=False)
        widget = await widgets.create(alice, WidgetCreate(name="Alice's"))
        widget_id = widget.id
    async with database.sessionmaker() as session:
        widgets = WidgetService(session, cache=cache, webhooks=False)
        assert await widgets.list(bob, limit=10) == []
        for attempt in (
            widgets.get(bob, widget_id),
            widgets.update(bob, widget_id, WidgetUpdate(name="Bob's")),
            widgets.delete(bob, widget_id),
        ):
            with pytest.raises(WidgetNotFoundError):
                await attempt
        assert (await widgets.get(alice, widget_id)).name == "Alice's"
        with capture_logs() as logs:
            await widgets.delete(admin, widget_id)
        assert crossings(logs) == [("delete", str(widget_id), "auditor")]
        with pytest.raises(WidgetNotFoundError):
            await widgets.get(alice, widget_id)


@pytest.fixture
async def tenant_app(
    service: Service, database_url: str, auth_settings: dict[str, str]
) -> AsyncIterator[FastAPI]:
    """The example with tenants from the tokens' `org` claim."""
    settings = service.load_settings(
        app_env="test", database_url=database_url, auth_jwt_tenant_claim="org", **auth_settings
    )
    application = service.create_app(settings)
    async with LifespanManager(application):
        yield application
        await delete_all_rows(service, chassis_of(application).resources.database.engine)


async def test_sec6_with_a_tenant_claim_a_tenants_users_share_its_widgets(
    tenant_app: FastAPI, tokens: TokenFactory
) -> None:
    def member(subject: str, org: str) -> dict[str, str]:
        return {
            "Authorization": f"Bearer {tokens(*USER_SCOPES, subject=subject, claims={'org': org})}"
        }

    async with (
        client_for(tenant_app, member("alice", "acme")) as alice,
        client_for(tenant_app, member("carol", "acme")) as carol,
        client_for(tenant_app, member("dave", "globex")) as dave,
        client_for(tenant_app, tokens.headers(*USER_SCOPES, subject="eve")) as no_tenant,
    ):
        widget = await create(alice, "Acme's")
        url = f"/v1/widgets/{widget['id']}"
        assert (await carol.get(url)).status_code == 200
        assert (await carol.patch(url, json={"price_cents": 3})).status_code == 200
        assert (await dave.get(url)).status_code == 404
        assert (await dave.get("/v1/widgets")).json()["items"] == []
        refused = await no_tenant.get("/v1/widgets")
        assert refused.status_code == 401
        assert "missing claim org" in refused.json()["detail"]
    # A browser session opened with Carol's token keeps her tenant.
    async with asgi_client(tenant_app, base_url="https://testserver") as browser:
        opened = await browser.post("/v1/auth/session", headers=member("carol", "acme"))
        assert opened.status_code == 201, opened.text
        assert (await browser.get(url)).json()["price_cents"] == 3


async def test_sec6_a_session_opened_under_another_tenant_setting_is_refused(
    service: Service, database_url: str, auth_settings: dict[str, str], tokens: TokenFactory
) -> None:
    """A session is its owner's as the service said when it opened: after AUTH_JWT_TENANT_CLAIM
    is set (or unset), a session from before would own as the user where the service now says
    the tenant (or the other way round), so it must be opened again. The session secret stays,
    as it does across a restart with a changed setting."""

    def app_with(**tenants: str) -> FastAPI:
        settings = service.load_settings(
            app_env="test",
            database_url=database_url,
            auth_session_secret="one-secret-across-the-change-0123456789",
            **auth_settings,
            **tenants,
        )
        return service.create_app(settings)

    users, tenants = app_with(), app_with(auth_jwt_tenant_claim="org")
    user_token = tokens(*USER_SCOPES, subject="alice")
    member_token = tokens(*USER_SCOPES, subject="alice", claims={"org": "acme"})
    for opened_on, token, used_on in ((users, user_token, tenants), (tenants, member_token, users)):
        async with asgi_client(opened_on, base_url=ORIGIN, lifespan=True) as browser:
            opened = await browser.post("/v1/auth/session", headers=bearer(token))
            assert opened.status_code == 201, opened.text
            cookie = {"Cookie": f"__Host-session={browser.cookies['__Host-session']}"}
            assert (await browser.get("/v1/widgets", headers=cookie)).status_code == 200
        async with asgi_client(used_on, base_url=ORIGIN, lifespan=True) as later:
            refused = await later.get("/v1/widgets", headers=cookie)
        assert refused.status_code == 401, refused.text
        assert "another tenant setting" in refused.json()["detail"]


async def test_sec6_a_tenants_key_is_refused_once_the_service_has_no_tenants(
    tenant_app: FastAPI, app: FastAPI
) -> None:
    """A key made with --tenant acted as the tenant; after AUTH_JWT_TENANT_CLAIM is unset it
    would go on reaching the tenant's objects, which no user reaches any more. It is refused,
    as a session is, and so is a replacement that inherited its owner; a key of its own is not.
    The log says why, with the key's id, never the key."""
    async with chassis_of(tenant_app).resources.database.sessionmaker() as session:
        tenants = ApiKeyService(session, declared_scopes=USER_SCOPES, tenant_claim="org")
        tenant_key, acme_key = await tenants.create(name="acme", scopes=USER_SCOPES, tenant="acme")
    async with client_for(tenant_app, {"X-API-Key": acme_key}) as acme:
        await create(acme, "Acme's")
    async with chassis_of(app).resources.database.sessionmaker() as session:
        users = ApiKeyService(session, declared_scopes=USER_SCOPES)
        _, replacement = await users.create(
            name="acme", scopes=USER_SCOPES, owner_of=tenant_key.key_id
        )
        _, own_key = await users.create(name="billing", scopes=USER_SCOPES)
    for key in (acme_key, replacement):
        async with client_for(app, {"Authorization": f"Bearer {key}"}) as later:
            with capture_logs() as logs:
                refused = await later.get("/v1/widgets")
        assert refused.status_code == 401, refused.text
        assert "no longer has tenants" in refused.json()["detail"]
        assert 'error="invalid_token"' in refused.headers["www-authenticate"]
        [line] = [line for line in logs if line["event"] == "credentials_refused"]
        assert line["log_level"] == "warning"
        assert line["reason"] == "tenant key without AUTH_JWT_TENANT_CLAIM"
        assert line["key_id"] == key.split("_")[1]
        assert key.split("_", 2)[2] not in str(logs)
    async with client_for(app, {"X-API-Key": own_key}) as billing:
        assert (await billing.get("/v1/widgets")).json()["items"] == []


def test_sec6_dev_token_carries_the_tenant_claim(
    service: Service,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.chdir(tmp_path)  # the development key goes to var/dev-keys/ here
    monkeypatch.setenv("APP_ENV", "development")
    monkeypatch.setenv("AUTH_JWT_TENANT_CLAIM", "org")
    assert service.main(["dev-token", "--scope", "widgets:read", "--tenant", "acme"]) == 0
    assert claims_of(capsys.readouterr().out.strip())["org"] == "acme"
    assert service.main(["dev-token", "--scope", "widgets:read"]) == 64
    assert "--tenant is required" in capsys.readouterr().err


def test_sec3_dev_token_refuses_a_scope_the_service_does_not_declare(
    service: Service,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """A misspelt scope is refused, as `api-keys create` refuses it, not minted into a token
    that every route answers with 403."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("APP_ENV", "development")
    assert service.main(["dev-token", "--scope", "widgets:read", "--scope", "widget:write"]) == 64
    captured = capsys.readouterr()
    assert captured.out == ""
    assert "not scopes of this service: widget:write" in captured.err
    assert "widgets:write" in captured.err
