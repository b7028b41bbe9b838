"""Credentials in URLs kept out of spans and logs: query parameters whose name says they hold one.

A query string reaches a span as `url.query` (incoming requests, `tracing.py`) and inside
`url.full` or `http.url` (outbound requests, the httpx instrumentation). Callers do send
credentials there (`access_token`, `api_key`, an OAuth `code`, a webhook URL's `token`), and a
trace backend keeps whatever it is sent, readable by everyone who reads traces.

A parameter is sensitive when its name, percent-decoded and compared without case:
- is one the HTTP semantic conventions list for `url.query` or OpenTelemetry's instrumentations
  redact in `url.full` (signed cloud-storage URLs), or a short name credentials travel under
  (`sig`, `code`, `sid`, `otp`, ...);
- or contains a word that names a credential (`token`, `secret`, `passw`, `key`, `auth`, ...),
  so `refresh_token`, `client_secret`, `X-API-Key` and `AWSAccessKeyId` are covered without
  being listed. A harmless name that matches (`sort_key`, `author`) loses its value in the
  trace only, never in the request: a cheap mistake, where a missed credential is not.
The value becomes `REDACTED`; the name stays, so the trace still shows what was sent. Every
other byte of the query is kept as sent. A value that holds a URL sent unencoded
(`next=https://x/cb?token=t`) is redacted as a URL itself, to a few levels deep; a value
nested deeper (the caller writes the query: `a=?a=?a=...` nests as deep as it is long) becomes
`REDACTED` whole.

URLs also travel inside text: an exception's message (httpx's `raise_for_status` names the
URL it called), and so its traceback. `redacted_text` redacts every URL and bare query string
in a text, for where exceptions are rendered: log lines, span events, a job's last error.
"""

from __future__ import annotations

import functools
import re
from urllib.parse import unquote_plus

REDACTED = "REDACTED"

# What a URL in a text ends at: white space, and the quotes and brackets text wraps it in.
_WORD = re.compile(r"""[^\s'"<>`]+""")
# Punctuation that ends a sentence or closes a parenthesis rather than the URL before it.
_TRAILING = ".,;:!)]}"

# The semantic conventions' `url.query` list and OpenTelemetry's `url.full` one (lower case).
_CONVENTIONS = frozenset(
    {
        "x-amz-signature",
        "x-amz-credential",
        "x-amz-security-token",
        "sig",
        "x-goog-signature",
        "awsaccesskeyid",
        "signature",
    }
)
# Names too short or too common to match as part of another (`code` is in `postcode`).
_NAMES = _CONVENTIONS | {"code", "sid", "otp", "pin", "jwt", "assertion", "ticket", "hmac"}
_WORDS = re.compile(
    "token|secret|passw|passphrase|pwd|key|auth|credential|signature|session|cookie|bearer"
)


# How many URLs nested one in another's value are redacted part by part.
_NESTING_FOLLOWED = 4


@functools.lru_cache(maxsize=1024)  # bounded: names come from callers
def sensitive(name: str) -> bool:
    """Whether the query parameter `name` (as sent, percent-encoded) may carry a credential."""
    folded = unquote_plus(name).lower()
    return folded in _NAMES or _WORDS.search(folded) is not None


def redacted_query(query: str) -> str:
    """`query` with the value of each sensitive parameter replaced by `REDACTED`."""
    return _redacted_query(query, depth=0)


def _redacted_query(query: str, *, depth: int) -> str:
    parts = query.split("&")
    for index, part in enumerate(parts):
        name, equals, value = part.partition("=")
        if not equals:
            continue
        if sensitive(name):
            parts[index] = f"{name}={REDACTED}"
        elif "?" in value or "@" in value:
            # A URL sent unencoded in a value (`redirect_uri=https://x/cb?token=t`) keeps its own
            # query and user information: they are redacted as the outer URL's are.
            nested = depth < _NESTING_FOLLOWED
            parts[index] = f"{name}={_redacted_reference(value, depth + 1) if nested else REDACTED}"
    return "&".join(parts)


def redacted_url(url: str) -> str:
    """`url` with its user information and the sensitive values of its query and fragment
    (an OAuth implicit grant puts its token there) replaced by `REDACTED`."""
    if "?" not in url and "#" not in url and "@" not in url:
        return url
    return _redacted_reference(url, depth=0)


def redacted_text(text: str) -> str:
    """`text` with the credentials of every URL or query string in it replaced by `REDACTED`
    (user information, sensitive query and fragment values), every other byte kept."""
    if "://" not in text and "?" not in text:
        return text  # the common case costs two scans
    return _WORD.sub(_redacted_word, text)


def _redacted_word(match: re.Match[str]) -> str:
    word = match.group()
    if "://" not in word and "?" not in word:
        return word
    reference = word.rstrip(_TRAILING)
    return _redacted_reference(reference, depth=0) + word[len(reference) :]


def _redacted_reference(reference: str, depth: int) -> str:
    # Split by hand, not by `urlsplit`: it rejects some authorities ("http://[") and rewrites
    # others (an empty query or fragment is dropped, the scheme lower-cased).
    rest, hash_, fragment = reference.partition("#")
    rest, question, query = rest.partition("?")
    scheme, separator, after = rest.partition("://")
    if separator:
        authority, slash, path = after.partition("/")
        if "@" in authority:
            authority = f"{REDACTED}:{REDACTED}@{authority.rpartition('@')[2]}"
        rest = f"{scheme}{separator}{authority}{slash}{path}"
    query, fragment = _redacted_query(query, depth=depth), _redacted_query(fragment, depth=depth)
    return f"{rest}{question}{query}{hash_}{fragment}"
