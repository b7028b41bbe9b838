"""Security headers on every response (SEC-5), the equivalent of helmet's defaults.

One static list, encoded once, appended to each response start: a few bytes of work per
request. Headers a route set itself are left alone, so a route can override one.

- `Content-Security-Policy`: the API only returns JSON, so nothing may load, frame or submit
  (`default-src 'none'`). The docs pages need Swagger UI's script and styles from their own
  origin (or `CDN_BASE_URL`), and get a policy that allows exactly that; no inline script.
  Static assets may be loaded from another origin (a CDN in front of /static), so they carry
  `Cross-Origin-Resource-Policy: cross-origin`.
- `Strict-Transport-Security`: HTTPS only, for `SECURITY_HSTS_SECONDS` (0 turns it off, e.g.
  behind a proxy that sets its own).
- `X-Frame-Options: DENY` and `frame-ancestors 'none'`: no clickjacking.
- `X-Content-Type-Options: nosniff`, `Referrer-Policy: no-referrer`, cross-origin isolation
  (`Cross-Origin-Opener-Policy`, `Cross-Origin-Resource-Policy`), and the legacy headers helmet
  still sets (`X-XSS-Protection: 0` turns off a filter that caused more harm than good).
- `Cache-Control: no-store` on every response to an authenticated request (one whose principal
  is in the request's state): what one caller may read must not be kept by a shared cache, or
  by the browser, for the next. A route that sets its own `Cache-Control` keeps it.
"""

from __future__ import annotations

from collections.abc import Mapping

from starlette.types import Scope

from .authentication import PRINCIPAL_STATE_KEY

API_CSP = "default-src 'none'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'"


def docs_csp(asset_origin: str | None = None) -> str:
    """The docs page's policy: scripts and styles from this origin (and the CDN, if any)."""
    sources = f"'self' {asset_origin}" if asset_origin else "'self'"
    return (
        "default-src 'none'; "
        f"script-src {sources}; "
        # Swagger UI sets inline styles on its elements; styles cannot run code.
        f"style-src {sources} 'unsafe-inline'; "
        f"img-src {sources} data:; "
        "connect-src 'self'; "
        "frame-ancestors 'none'; base-uri 'none'; form-action 'none'"
    )


Headers = list[tuple[bytes, bytes]]
_CACHE_CONTROL = b"cache-control"
_NO_STORE = (_CACHE_CONTROL, b"no-store")


def default_headers(*, hsts_seconds: int) -> dict[str, str]:
    headers = {
        "content-security-policy": API_CSP,
        "x-content-type-options": "nosniff",
        "x-frame-options": "DENY",
        "referrer-policy": "no-referrer",
        "cross-origin-opener-policy": "same-origin",
        "cross-origin-resource-policy": "same-origin",
        "origin-agent-cluster": "?1",
        "x-dns-prefetch-control": "off",
        "x-download-options": "noopen",
        "x-permitted-cross-domain-policies": "none",
        "x-xss-protection": "0",
    }
    if hsts_seconds > 0:
        headers["strict-transport-security"] = f"max-age={hsts_seconds}; includeSubDomains"
    return headers


def _encode(headers: Mapping[str, str]) -> Headers:
    return [
        (name.lower().encode("latin-1"), value.encode("latin-1")) for name, value in headers.items()
    ]


class SecurityHeaders:
    """The headers for each response, added by the request layer (`request_context.py`)."""

    def __init__(
        self,
        *,
        headers: Mapping[str, str],
        path_overrides: Mapping[str, Mapping[str, str]] | None = None,
    ) -> None:
        self._default = _encode(headers)
        # Longest prefix first, so "/docs/x" beats "/docs" when both are configured.
        self._overrides = sorted(
            (
                (prefix, _encode({**headers, **changes}))
                for prefix, changes in (path_overrides or {}).items()
            ),
            key=lambda pair: len(pair[0]),
            reverse=True,
        )

    def for_path(self, path: str) -> Headers:
        for prefix, headers in self._overrides:
            if path == prefix or path.startswith(prefix + "/"):
                return headers
        return self._default

    @staticmethod
    def add(extra: Headers, scope: Scope, headers: Headers) -> None:
        """Add `extra` (from `for_path`) to a response's `headers`, keeping what it set."""
        present = {name.lower() for name, _ in headers}
        headers.extend(pair for pair in extra if pair[0] not in present)
        if _CACHE_CONTROL not in present and PRINCIPAL_STATE_KEY in scope.get("state", ()):
            headers.append(_NO_STORE)
