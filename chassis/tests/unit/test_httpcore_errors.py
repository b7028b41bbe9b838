"""The user-URL transport raises httpx's errors for httpcore's: the retries and breakers
(`http_client.py`) decide on httpx's classes (`TransportError`, `ConnectError` for a
certificate, the timeouts), so each of httpcore's errors must arrive as its httpx twin."""

from __future__ import annotations

import httpcore
import httpx
import pytest

from goldenpath_chassis._core.pool_transport import HTTPCORE_TO_HTTPX, httpx_errors
from goldenpath_chassis._core.user_urls import UnsafeUrlError

EXPECTED = [
    (httpcore.ConnectTimeout, httpx.ConnectTimeout),
    (httpcore.ReadTimeout, httpx.ReadTimeout),
    (httpcore.WriteTimeout, httpx.WriteTimeout),
    (httpcore.PoolTimeout, httpx.PoolTimeout),
    (httpcore.TimeoutException, httpx.TimeoutException),
    (httpcore.ConnectError, httpx.ConnectError),
    (httpcore.ReadError, httpx.ReadError),
    (httpcore.WriteError, httpx.WriteError),
    (httpcore.NetworkError, httpx.NetworkError),
    (httpcore.ProxyError, httpx.ProxyError),
    (httpcore.UnsupportedProtocol, httpx.UnsupportedProtocol),
    (httpcore.LocalProtocolError, httpx.LocalProtocolError),
    (httpcore.RemoteProtocolError, httpx.RemoteProtocolError),
    (httpcore.ProtocolError, httpx.ProtocolError),
]


@pytest.mark.parametrize(
    ("raised", "expected"), EXPECTED, ids=[core.__name__ for core, _ in EXPECTED]
)
def test_each_httpcore_error_becomes_its_httpx_twin(
    raised: type[Exception], expected: type[httpx.TransportError]
) -> None:
    original = raised("connection reset by peer")
    with pytest.raises(httpx.TransportError) as caught, httpx_errors():
        raise original
    assert type(caught.value) is expected
    assert str(caught.value) == "connection reset by peer"
    assert caught.value.__cause__ is original


def test_no_entry_is_hidden_behind_its_base() -> None:
    """The first match wins: a class listed after one of its bases would never be reached."""
    for index, (core, _) in enumerate(HTTPCORE_TO_HTTPX):
        for earlier, _ in HTTPCORE_TO_HTTPX[:index]:
            assert not issubclass(core, earlier), f"{core.__name__} is caught as {earlier.__name__}"


def test_every_error_httpcore_exports_is_mapped() -> None:
    """A new error in a later httpcore shows up here, not as an exception the retries miss.
    ConnectionNotAvailable stays inside the pool (it tries another connection)."""
    exported = {
        value
        for name in httpcore.__all__
        if isinstance(value := getattr(httpcore, name), type) and issubclass(value, Exception)
    }
    assert exported - {core for core, _ in HTTPCORE_TO_HTTPX} == {httpcore.ConnectionNotAvailable}


@pytest.mark.parametrize("error", [UnsafeUrlError("refused"), ValueError("not ours")])
def test_other_errors_pass_unchanged(error: Exception) -> None:
    with pytest.raises(type(error)) as caught, httpx_errors():
        raise error
    assert caught.value is error
