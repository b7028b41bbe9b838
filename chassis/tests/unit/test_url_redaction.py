"""OBS-2: which query parameters lose their value in a span, and what is kept as it was sent."""

from __future__ import annotations

import pytest

from goldenpath_chassis._core.url_redaction import (
    redacted_query,
    redacted_text,
    redacted_url,
    sensitive,
)


@pytest.mark.parametrize(
    "name",
    [
        # The semantic conventions' list and OpenTelemetry's, in any case.
        "X-Amz-Signature", "x-amz-credential", "X-Amz-Security-Token", "sig", "X-Goog-Signature",
        "AWSAccessKeyId", "Signature",
        # Credentials by their usual names, and names that contain one.
        "access_token", "refresh_token", "id_token", "token", "api_key", "apikey", "X-API-Key",
        "key", "secret", "client_secret", "password", "passwd", "pwd", "code", "session",
        "sessionid", "sid", "otp", "jwt", "assertion", "auth", "authorization", "oauth_verifier",
        "credentials",
        # Spelled as a client may: percent-encoded, with a plus for a space.
        "acc%65ss_token", "api%5Fkey", "client+secret",
    ],
)  # fmt: skip
def test_obs2_parameters_that_may_carry_a_credential_are_sensitive(name: str) -> None:
    assert sensitive(name)


@pytest.mark.parametrize("name", ["limit", "cursor", "q", "page", "postcode", "sort", "status"])
def test_obs2_ordinary_parameters_are_not(name: str) -> None:
    assert not sensitive(name)


def test_obs2_a_redacted_query_keeps_every_name_and_every_other_byte() -> None:
    query = "q=caf%C3%A9+au+lait&token=abc%2Fdef&token=second&flag&empty=&Password=p=w&sort=-name"
    assert redacted_query(query) == (
        "q=caf%C3%A9+au+lait&token=REDACTED&token=REDACTED&flag&empty=&Password=REDACTED&sort=-name"
    )


def test_obs2_a_redacted_url_loses_its_user_information_and_query_credentials() -> None:
    assert redacted_url("https://hooks.example/in?x=1") == "https://hooks.example/in?x=1"
    assert redacted_url("https://u:p@hooks.example/in?api_key=k&x=1#id_token=t") == (
        "https://REDACTED:REDACTED@hooks.example/in?api_key=REDACTED&x=1#id_token=REDACTED"
    )


def test_obs2_a_url_nested_unencoded_in_a_value_loses_its_credentials_too() -> None:
    assert redacted_url("https://app.example/login?next=https://api.example/cb?token=t1&x=1") == (
        "https://app.example/login?next=https://api.example/cb?token=REDACTED&x=1"
    )
    assert redacted_query("next=https://u:p@api.example/cb?q=1?code=c1") == (
        "next=https://REDACTED:REDACTED@api.example/cb?q=1?code=REDACTED"
    )
    # Encoded, the nested URL is one opaque value: nothing in it reads as a parameter.
    encoded = "next=https%3A%2F%2Fapi.example%2Fcb%3Fq%3D1&email=a%40b.example"
    assert redacted_query(encoded) == encoded
    assert redacted_query("email=jane@example.com&q=a?b") == "email=jane@example.com&q=a?b"


def test_obs2_urls_nested_deeper_than_followed_lose_their_whole_value() -> None:
    # The caller writes the query: `a=?a=?a=...` nests as deep as it is long, one more call for
    # each level followed, and a span or a log line must still get it, redacted.
    query = "a=" + "?a=" * 2000 + "?token=t1"
    redacted = redacted_query(query)
    assert redacted.startswith("a=?a=?a=?a=?a=REDACTED")
    assert "t1" not in redacted
    assert "t1" not in redacted_text(f"GET https://api.example/x?{query} failed")


def test_obs3_every_url_in_a_text_loses_its_credentials_and_nothing_else() -> None:
    # httpx's raise_for_status message, with a second URL after it.
    message = (
        "Client error '404 Not Found' for url 'https://api.example/x?q=1&access_token=at-1'\n"
        "For more information check: https://developer.mozilla.org/Status/404"
    )
    assert redacted_text(message) == message.replace("at-1", "REDACTED")
    text = (
        'see (https://hook:pw-2@hooks.example/in?api_key=ak-3#id_token=it-4). Also "GET '
        '/v1/x?token=tk-5&limit=5", a DSN postgresql://app:pw-6@db:5432/app, and HTTPS://H/?'
    )
    assert redacted_text(text) == (
        "see (https://REDACTED:REDACTED@hooks.example/in?api_key=REDACTED#id_token=REDACTED)."
        ' Also "GET /v1/x?token=REDACTED&limit=5", a DSN'
        " postgresql://REDACTED:REDACTED@db:5432/app, and HTTPS://H/?"
    )


def test_obs3_a_text_without_a_url_is_returned_as_it_is() -> None:
    plain = "failing on purpose (12 headers); token=abc is no URL"
    assert redacted_text(plain) is plain
    # Text that only looks like part of a URL is kept byte for byte, and never rejected.
    odd = "why? http://[ is no URL, nor is a:// alone, nor ?=x"
    assert redacted_text(odd) == odd
