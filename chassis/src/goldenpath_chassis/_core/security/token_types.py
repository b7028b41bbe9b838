"""The JWT `typ` header values this service accepts (RFC 8725 section 3.11: explicit typing).

A `typ` is a media type whose `application/` prefix may be left out (RFC 7515 section 4.1.9),
compared without regard to case: `at+jwt`, `AT+JWT` and `application/at+jwt` are one type. A
token without `typ` is taken for a plain `JWT`. The default accepts what identity providers put
on access tokens: `JWT` (Microsoft Entra, Keycloak, Auth0's default profile) or nothing, and
RFC 9068's `at+jwt` (Auth0's RFC 9068 profile); JWTs of other kinds that say so (`logout+jwt`,
`dpop+jwt`, `secevent+jwt`, `id_token+jwt`, Okta's `okta-internal-at+jwt` for its own API) are
refused. Most ID tokens are typed `JWT` too: the audience check is what keeps them out.

Kept apart from `jwt.py` so that reading the settings does not import the JWT libraries.
"""

from __future__ import annotations

import re

DEFAULT_TOKEN_TYPES: tuple[str, ...] = ("JWT", "at+jwt")
UNTYPED = "jwt"  # what a token without `typ` counts as, normalized
# RFC 6838's restricted-name, optionally as type/subtype.
_MEDIA_TYPE = re.compile(
    r"[A-Za-z0-9][A-Za-z0-9!#$&^_.+-]{0,126}(/[A-Za-z0-9][A-Za-z0-9!#$&^_.+-]{0,126})?"
)


def normalized_token_type(value: str) -> str:
    """The form two `typ` values are compared in: lower case, without `application/`."""
    lowered = value.lower()
    subtype = lowered.removeprefix("application/")
    return subtype if "/" not in subtype else lowered


def is_token_type(value: str) -> bool:
    return _MEDIA_TYPE.fullmatch(value) is not None
