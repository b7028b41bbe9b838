"""RES-2: a `WEBHOOK_SECRET` is read as Standard Webhooks serializes secrets, and the signatures
made with its key are the ones the spec's own library (`standardwebhooks`) makes and verifies.
"""

from __future__ import annotations

import base64
from datetime import UTC, datetime

import pytest
from standardwebhooks import Webhook

from goldenpath_chassis._core.webhook_keys import signing_key
from goldenpath_chassis._core.webhooks import signature, signature_header

pytestmark = pytest.mark.unit

KEY_24 = bytes(range(24))
KEY_32 = bytes(range(100, 132))
KEY_64 = bytes(range(64))


def whsec(key: bytes) -> str:
    return "whsec_" + base64.b64encode(key).decode()


@pytest.mark.parametrize(
    ("secret", "key"),
    [
        (whsec(KEY_32), KEY_32),
        (whsec(KEY_32).rstrip("="), KEY_32),  # the libraries take base64 unpadded too
        (whsec(KEY_24), KEY_24),
        (whsec(KEY_64), KEY_64),
        ("k" * 32, b"k" * 32),  # no prefix: the characters are the key, as before
        ("whsec-is-not-the-prefix, 32 chars", b"whsec-is-not-the-prefix, 32 chars"),
    ],
    ids=["whsec", "whsec-unpadded", "whsec-24-bytes", "whsec-64-bytes", "raw", "raw-lookalike"],
)
def test_res2_a_secret_stands_for_its_key(secret: str, key: bytes) -> None:
    assert signing_key(secret) == key


@pytest.mark.parametrize(
    "secret",
    [whsec(KEY_32), whsec(KEY_32).rstrip("="), whsec(KEY_24), whsec(KEY_64)],
    ids=["whsec", "whsec-unpadded", "whsec-24-bytes", "whsec-64-bytes"],
)
def test_res2_our_signature_is_the_official_librarys(secret: str) -> None:
    body = b'{"type":"widget.created","data":{"name":"\xc3\xa9t\xc3\xa9"}}'
    sent_at = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)
    ours = signature(signing_key(secret), "evt_1", int(sent_at.timestamp()), body)
    assert ours == Webhook(secret).sign("evt_1", sent_at, body.decode())


def test_res2_a_rotation_header_lists_the_current_signature_first() -> None:
    keys = (KEY_32, KEY_24)
    header = signature_header(keys, "evt_1", 1_700_000_000, b"{}")
    assert header.split(" ") == [signature(key, "evt_1", 1_700_000_000, b"{}") for key in keys]


@pytest.mark.parametrize(
    ("secret", "message"),
    [
        ("hunter2-webhooks", "must be at least 32 characters long, or whsec_ and a base64 key"),
        ("whsec_" + "hunter2" * 2, "must hold a key of 24 to 64 bytes after whsec_"),
        (whsec(b"hunter2" * 3 + b"!!"), "must hold a key of 24 to 64 bytes after whsec_"),
        (whsec(b"hunter2" * 10), "must hold a key of 24 to 64 bytes after whsec_"),
        ("whsec_", "must hold a key of 24 to 64 bytes after whsec_"),
        # The URL-safe alphabet, stray characters, wrong padding: the libraries would skip what
        # they cannot read and sign with another key.
        ("whsec_hunter2-hunter2_hunter2-hunter2_hunter2-h", "must be base64 after whsec_"),
        ("whsec_hunter2/hunter2+hunter2/hunter2 hunter2+h", "must be base64 after whsec_"),
        ("whsec_hunter2/hunter2+hunter2/hunter2+hunter2+h=", "must be base64 after whsec_"),
        ("whsec_hunter2/hunter2+hunter2/hunter2+hunter2+hunt=", "must be base64 after whsec_"),
        ("whsec_hunter2/hunter2+hunter2/hu=ter2+hunter2+hu", "must be base64 after whsec_"),
        ("whsec_hunter2/hunter2+hunter2/hunter2+hunter2+h\n", "must be base64 after whsec_"),
    ],
    ids=[
        "raw-short",
        "whsec-short",
        "whsec-23-bytes",
        "whsec-70-bytes",
        "whsec-empty",
        "url-safe",
        "space",
        "padding-on-one-left-over",
        "padding-past-a-whole-group",
        "padding-inside",
        "newline",
    ],
)
def test_res2_a_secret_that_stands_for_no_key_is_refused_unshown(secret: str, message: str) -> None:
    with pytest.raises(ValueError, match=r"^must") as caught:
        signing_key(secret)
    assert str(caught.value).startswith(message)
    assert "hunter2" not in str(caught.value)
