"""OBS-2: which query parameters lose their value in a span, and what is kept as it was sent."""

from __future__ import annotations

import pytest

from goldenpath_chassis._core.url_redaction import redacted_query, redacted_url, sensitive


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
