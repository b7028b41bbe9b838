"""The HMAC key a `WEBHOOK_SECRET` stands for, read as Standard Webhooks serializes secrets.

The spec serializes a symmetric secret as `whsec_` followed by the key's bytes in base64, and
its libraries decode it before signing. So a prefixed secret signs with the decoded bytes: a
receiver verifying with an official library, given the same string, accepts our signatures.
A secret without the prefix signs with its own UTF-8 bytes, as the chassis always did, so the
receivers configured before keep verifying.

Every message says what is wrong, never the value.
"""

from __future__ import annotations

import base64
import re
from typing import Final

SECRET_PREFIX: Final = "whsec_"  # noqa: S105 - the spec's marker, not a secret
# The spec's bounds on a symmetric key: 192 to 512 bits.
MIN_KEY_BYTES: Final = 24
MAX_KEY_BYTES: Final = 64
# Without the prefix the characters are the key; the rule before the prefix was understood.
MIN_RAW_SECRET_CHARACTERS: Final = 32

# The standard alphabet, padding optional but never wrong: the official libraries decode
# leniently (an unknown character is skipped, not refused), so only what both decoders read
# alike is taken.
_BASE64: Final = re.compile(r"(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}(?:==)?|[A-Za-z0-9+/]{3}=?)?")


def signing_key(secret: str) -> bytes:
    """The key `secret` stands for; `ValueError` if it stands for none."""
    if not secret.startswith(SECRET_PREFIX):
        if len(secret) < MIN_RAW_SECRET_CHARACTERS:
            raise ValueError(
                f"must be at least {MIN_RAW_SECRET_CHARACTERS} characters long, or "
                f"{SECRET_PREFIX} and a base64 key of {MIN_KEY_BYTES} to {MAX_KEY_BYTES} bytes"
            )
        return secret.encode()
    encoded = secret.removeprefix(SECRET_PREFIX)
    if not _BASE64.fullmatch(encoded):
        raise ValueError(
            f"must be base64 after {SECRET_PREFIX} (A-Z, a-z, 0-9, + and /; = only as padding)"
        )
    key = base64.b64decode(encoded + "=" * (-len(encoded) % 4), validate=True)
    if not MIN_KEY_BYTES <= len(key) <= MAX_KEY_BYTES:
        raise ValueError(
            f"must hold a key of {MIN_KEY_BYTES} to {MAX_KEY_BYTES} bytes after {SECRET_PREFIX}"
        )
    return key
