"""PERF-3: fingerprinted static assets with immutable caching, and a CDN base URL for them."""

from __future__ import annotations

import hashlib
import re
from collections.abc import AsyncIterator

import httpx
import pytest

from goldenpath_chassis import ConfigurationError, Service
from goldenpath_chassis.testing.asgi import asgi_client

pytestmark = pytest.mark.integration

IMMUTABLE = "public, max-age=31536000, immutable"
ASSET = re.compile(r'(?:href|src)="([^"]*/static/[^"]+)"')


def asset_urls(html: str) -> list[str]:
    return ASSET.findall(html)


async def test_perf3_docs_load_fingerprinted_local_assets(client: httpx.AsyncClient) -> None:
    page = await client.get("/docs")
    assert page.status_code == 200
    assert page.headers["cache-control"] == "no-cache"
    urls = asset_urls(page.text)
    assert len(urls) == 3  # Swagger UI's script and stylesheet, and our favicon
    assert "jsdelivr" not in page.text  # no third-party CDN
    for url in urls:
        response = await client.get(url)
        assert response.status_code == 200, url
        assert response.headers["cache-control"] == IMMUTABLE
        # The name carries a hash of the content: a changed file is a new URL.
        digest = re.search(r"\.([0-9a-f]{16})\.\w+$", url)
        assert digest is not None, url
        assert hashlib.sha256(response.content).hexdigest().startswith(digest.group(1))
        assert response.headers["etag"] == f'"{digest.group(1)}"'


async def test_perf3_revalidation_and_compression(client: httpx.AsyncClient) -> None:
    script = next(u for u in asset_urls((await client.get("/docs")).text) if u.endswith(".js"))
    full = await client.get(script, headers={"Accept-Encoding": "identity"})
    assert "content-encoding" not in full.headers
    compressed = await client.get(script, headers={"Accept-Encoding": "gzip"})
    assert compressed.headers["content-encoding"] == "gzip"
    assert compressed.headers["vary"] == "Accept-Encoding"
    assert compressed.content == full.content  # httpx decoded it
    assert int(compressed.headers["content-length"]) < len(full.content) / 2

    etag = full.headers["etag"]
    not_modified = await client.get(script, headers={"If-None-Match": etag})
    assert not_modified.status_code == 304
    assert not_modified.content == b""


@pytest.mark.parametrize("path", ["/static/swagger-ui.css", "/static/favicon.svg", "/static/x.js"])
async def test_perf3_unfingerprinted_names_are_not_served(
    client: httpx.AsyncClient, path: str
) -> None:
    response = await client.get(path)
    assert response.status_code == 404
    assert response.headers["content-type"] == "application/problem+json"


@pytest.fixture
async def cdn_client(
    service: Service, database_url: str, auth_settings: dict[str, str]
) -> AsyncIterator[httpx.AsyncClient]:
    # The session's token issuer: without one, a development key would be written to ./var.
    settings = service.load_settings(
        **auth_settings,
        app_env="test",
        database_url=database_url,
        cdn_base_url="https://cdn.example.com/acme/",
    )
    app = service.create_app(settings)
    async with asgi_client(app, lifespan=True) as client:
        yield client


async def test_perf3_cdn_base_url_prefixes_every_asset_url(cdn_client: httpx.AsyncClient) -> None:
    urls = asset_urls((await cdn_client.get("/docs")).text)
    assert urls
    assert all(url.startswith("https://cdn.example.com/acme/static/") for url in urls), urls
    # The CDN pulls from this service: the same path answers here.
    origin_path = urls[0].removeprefix("https://cdn.example.com/acme")
    response = await cdn_client.get(origin_path)
    assert response.status_code == 200
    assert response.headers["cache-control"] == IMMUTABLE


def test_perf3_cdn_base_url_must_be_an_absolute_url(service: Service) -> None:
    with pytest.raises(ConfigurationError, match="CDN_BASE_URL"):
        service.load_settings(cdn_base_url="cdn.example.com")
