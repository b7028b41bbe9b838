"""CDN-ready static assets (PERF-3), Swagger UI's among them.

Every asset is served under a name that carries a hash of its content
(`/static/swagger-ui.4f1c2a9d0b7e6c3a.css`), with `Cache-Control: public, max-age=31536000,
immutable`: a browser or CDN keeps it for a year and never revalidates, and a new release is a
new name, so nothing stale is ever served. Unhashed names are not served at all.

`asset_url(name)` is how pages refer to assets; with `CDN_BASE_URL` set it returns
`<CDN_BASE_URL>/static/<hashed name>`, so the CDN (pulling from this service's /static) serves
them. The assets are the service's own static folder plus Swagger UI's files from
fastapi-offline, so `/docs` loads nothing from a third-party CDN (and a strict CSP can say
`'self'` or the CDN's origin).
"""

from __future__ import annotations

import gzip
import hashlib
import mimetypes
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

import fastapi_offline
from fastapi import FastAPI, Request
from starlette.exceptions import HTTPException
from starlette.responses import Response

from .security.scopes import declare_public_path
from .settings import ChassisSettings

STATIC_PREFIX = "/static"
IMMUTABLE = "public, max-age=31536000, immutable"
_HASH_LENGTH = 16
_COMPRESSIBLE = ("text/", "application/javascript", "application/json", "image/svg+xml")
_SWAGGER_UI_FILES = ("swagger-ui-bundle.js", "swagger-ui.css")


@dataclass
class Asset:
    name: str
    hashed_name: str
    content: bytes
    media_type: str
    etag: str
    _gzipped: bytes | None = field(default=None, repr=False)

    @property
    def compressible(self) -> bool:
        return self.media_type.startswith(_COMPRESSIBLE) and len(self.content) > 1024

    def gzipped(self) -> bytes:
        # Compressed once, on first request, then kept: the content never changes.
        if self._gzipped is None:
            self._gzipped = gzip.compress(self.content, compresslevel=6, mtime=0)
        return self._gzipped


def _media_type(path: Path) -> str:
    guessed, _ = mimetypes.guess_type(path.name)
    if guessed is None:
        return "application/octet-stream"
    if guessed.startswith("text/") or guessed == "application/javascript":
        return f"{guessed}; charset=utf-8"
    return guessed


def _hashed_name(name: str, digest: str) -> str:
    stem, dot, suffix = name.rpartition(".")
    return f"{stem}.{digest}.{suffix}" if dot else f"{name}.{digest}"


class StaticAssets:
    """The fingerprinted assets of one app, and the URLs pages use for them."""

    def __init__(self, files: Iterable[Path], *, base_url: str | None = None) -> None:
        self.base_url = base_url or ""
        self.by_name: dict[str, Asset] = {}
        self.by_hashed_name: dict[str, Asset] = {}
        for path in files:
            content = path.read_bytes()
            digest = hashlib.sha256(content).hexdigest()[:_HASH_LENGTH]
            asset = Asset(
                name=path.name,
                hashed_name=_hashed_name(path.name, digest),
                content=content,
                media_type=_media_type(path),
                etag=f'"{digest}"',
            )
            if asset.name in self.by_name:
                raise ValueError(f"two static assets are named {asset.name!r}")
            self.by_name[asset.name] = asset
            self.by_hashed_name[asset.hashed_name] = asset

    def url(self, name: str) -> str:
        """Where a page should load asset `name` from (the CDN when one is configured)."""
        return f"{self.base_url}{STATIC_PREFIX}/{self.by_name[name].hashed_name}"

    async def serve(self, request: Request) -> Response:
        asset = self.by_hashed_name.get(request.path_params["name"])
        if asset is None:
            raise HTTPException(404)
        headers = {"Cache-Control": IMMUTABLE, "ETag": asset.etag, "Vary": "Accept-Encoding"}
        if request.headers.get("if-none-match") == asset.etag:
            return Response(status_code=304, headers=headers)
        body = asset.content
        if asset.compressible and "gzip" in request.headers.get("accept-encoding", ""):
            body = asset.gzipped()
            headers["Content-Encoding"] = "gzip"
        return Response(body, media_type=asset.media_type, headers=headers)


def default_asset_files(own_folder: Path | None = None) -> list[Path]:
    """The service's own static folder, and Swagger UI's files."""
    own = (
        sorted(p for p in own_folder.iterdir() if p.is_file())
        if own_folder is not None and own_folder.is_dir()
        else []
    )
    swagger = Path(fastapi_offline.__file__).parent / "static"
    return [*own, *(swagger / name for name in _SWAGGER_UI_FILES)]


def install_static(
    app: FastAPI, settings: ChassisSettings, *, own_folder: Path | None = None
) -> StaticAssets:
    """Serve /static (the docs page, docs.py, refers to its Swagger UI files)."""
    assets = StaticAssets(default_asset_files(own_folder), base_url=settings.static.base_url)
    app.add_route(STATIC_PREFIX + "/{name}", assets.serve, methods=["GET"], include_in_schema=False)
    declare_public_path(app, STATIC_PREFIX + "/{name}")
    return assets
