"""The one outbound HTTP client (RES-1, RES-2): timeouts, retries with backoff, breakers.

Every call to another service goes through `OutboundHttp.request(...)`, which adds, on top of
one shared `httpx.AsyncClient` (connection pooling, connect/read timeouts):
- a circuit breaker per dependency (`core/resilience.py`), checked before every attempt;
- bounded retries with exponential backoff and jitter (stamina), only for idempotent requests
  (GET, HEAD, OPTIONS, PUT, DELETE, or any request with an `Idempotency-Key`) and only after
  transient failures (connection errors, timeouts, 429, 502, 503, 504), honouring
  `Retry-After` when it fits in the deadline; a certificate that did not verify is not
  transient, and fails the call at once;
- an overall deadline: no call, retries and waits included, outlasts it;
- a bound on the response's body (`HTTP_MAX_RESPONSE_BYTES`): a longer one is not read into
  memory but fails the call as the dependency's unavailability;
- a trace span per attempt with `traceparent` injected (when tracing is on), and the
  `http_client_request_duration_seconds` and `http_client_retries_total` metrics.

URLs that came from users (callbacks, webhooks a user registers) go through
`http.for_user_urls()`: the same, on a client that refuses non-public destinations
(`user_urls.py`, SEC-1); `http.check_user_url(url)` runs its checks when the URL is registered.

Tests switch waits off with `stamina.set_testing(True)`, or pass a short `RetryPolicy`.
"""

from __future__ import annotations

import asyncio
import email.utils
import ssl
import time
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

import httpx
import stamina

from .bounded_response import ResponseTooLargeError, read_bounded
from .logging import get_logger
from .metrics import Metrics
from .resilience import CircuitBreakers, DependencyUnavailableError
from .settings import ChassisSettings
from .tracing import Tracing
from .user_urls import UserUrlPolicy, UserUrlTransport

IDEMPOTENT_METHODS = frozenset({"GET", "HEAD", "OPTIONS", "PUT", "DELETE", "TRACE"})
TRANSIENT_STATUSES = frozenset({429, 502, 503, 504})
IDEMPOTENCY_KEY_HEADER = "Idempotency-Key"
DEFAULT_MAX_RESPONSE_BYTES = 10 * 1024 * 1024

_log = get_logger(__name__)


@dataclass(frozen=True, kw_only=True)
class RetryPolicy:
    """How hard to try. Delays grow as `wait_initial * 2**n` plus up to `wait_jitter`."""

    attempts: int = 4
    deadline_seconds: float = 15.0
    wait_initial: float = 0.2
    wait_max: float = 5.0
    wait_jitter: float = 0.2


class TransientStatusError(Exception):
    """A response whose status says 'try again later'; retried, then returned as is."""

    def __init__(self, response: httpx.Response) -> None:
        # No URL in the message: it is logged, and URLs often carry tokens (webhooks do).
        super().__init__(f"{response.request.method} answered {response.status_code}")
        self.response = response


class DeadlineExceededError(DependencyUnavailableError):
    """The call, retries included, did not succeed within its deadline."""

    def __init__(self, dependency: str, deadline_seconds: float) -> None:
        super().__init__(
            dependency, f"The {dependency} dependency did not answer within {deadline_seconds}s."
        )


def is_breaker_failure(exc: BaseException) -> bool:
    """What counts against a dependency: transport errors and 5xx answers, nothing else."""
    if isinstance(exc, TransientStatusError):
        return exc.response.status_code >= 500
    return isinstance(exc, httpx.TransportError)


def is_certificate_failure(exc: BaseException) -> bool:
    """The peer's TLS certificate did not verify: no retry will make it verify.

    httpcore raises `ConnectError` with only the ssl error's message, so the chain is searched
    for the `ssl.SSLCertVerificationError` first and OpenSSL's reason code is the fallback.
    """
    seen: set[int] = set()
    link: BaseException | None = exc
    while link is not None and id(link) not in seen:
        if isinstance(link, ssl.SSLCertVerificationError):
            return True
        seen.add(id(link))
        link = link.__cause__ or link.__context__
    return isinstance(exc, httpx.ConnectError) and "CERTIFICATE_VERIFY_FAILED" in str(exc)


def _retry_after_seconds(response: httpx.Response) -> float | None:
    value = response.headers.get("retry-after")
    if value is None:
        return None
    if value.isdigit():
        return float(value)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - time.time())


class OutboundHttp:
    """Resilient outbound HTTP for the whole process; see the module docstring."""

    def __init__(
        self,
        client: httpx.AsyncClient,
        *,
        breakers: CircuitBreakers,
        metrics: Metrics | None = None,
        policy: RetryPolicy | None = None,
        max_response_bytes: int = DEFAULT_MAX_RESPONSE_BYTES,
        user_url_client: httpx.AsyncClient | None = None,
        user_url_policy: UserUrlPolicy | None = None,
    ) -> None:
        self.client = client
        self.breakers = breakers
        self.metrics = metrics
        self.policy = policy or RetryPolicy()
        self.max_response_bytes = max_response_bytes
        self._user_url_client = user_url_client
        self._user_url_policy = user_url_policy
        self._for_user_urls: OutboundHttp | None = None

    def for_user_urls(self) -> OutboundHttp:
        """The same calls, for a URL a user gave: one that resolves to a private, loopback,
        link-local (cloud metadata) or otherwise non-public address raises `UnsafeUrlError`
        before anything is sent. Redirects are not followed (nor are they by `request`)."""
        if self._user_url_client is None:
            raise RuntimeError("This OutboundHttp was built without a client for user URLs.")
        if self._for_user_urls is None:
            self._for_user_urls = OutboundHttp(
                self._user_url_client,
                breakers=self.breakers,
                metrics=self.metrics,
                policy=self.policy,
                max_response_bytes=self.max_response_bytes,
                user_url_policy=self._user_url_policy,
            )
        return self._for_user_urls

    async def check_user_url(self, url: str) -> None:
        """Raise `UnsafeUrlError` now for a user's URL `for_user_urls()` would refuse, its host
        resolved once, nothing connected to: for a URL checked when a user registers it. The
        call still checks again (the name may resolve elsewhere by then)."""
        if self._user_url_policy is None:
            raise RuntimeError("This OutboundHttp was built without a policy for user URLs.")
        await self._user_url_policy.check(url, timeout=self.client.timeout.connect)

    def declare(self, dependency: str, **breaker_options: Any) -> None:
        """Name a dependency up front, so its breaker shows in metrics and readiness."""
        self.breakers.declare(dependency, is_failure=is_breaker_failure, **breaker_options)

    async def request(
        self,
        method: str,
        url: str,
        *,
        dependency: str,
        headers: Mapping[str, str] | None = None,
        content: bytes | None = None,
        json: Any = None,
        policy: RetryPolicy | None = None,
    ) -> httpx.Response:
        """Send a request to `dependency`; return the final response, whatever its status.

        Raises `CircuitOpenError` while the dependency's breaker is open,
        `DeadlineExceededError` past the deadline, and `DependencyUnavailableError` when every
        attempt failed without a response or the response's body is over the bound. All three
        are 503 problems if they reach a client.
        """
        policy = policy or self.policy
        method = method.upper()
        if dependency not in self.breakers:
            self.declare(dependency)
        idempotent = method in IDEMPOTENT_METHODS or any(
            name.lower() == IDEMPOTENCY_KEY_HEADER.lower() for name in headers or {}
        )
        deadline = asyncio.get_running_loop().time() + policy.deadline_seconds

        def retry_on(exc: Exception) -> bool | float:
            if not isinstance(exc, TransientStatusError | httpx.TransportError):
                return False
            if is_certificate_failure(exc):
                return False
            remaining = deadline - asyncio.get_running_loop().time()
            if isinstance(exc, TransientStatusError):
                wait = _retry_after_seconds(exc.response)
                if wait is not None:
                    return wait if wait < remaining else False
            return True

        try:
            async with asyncio.timeout_at(deadline):
                async for attempt in stamina.retry_context(
                    on=retry_on,
                    attempts=policy.attempts if idempotent else 1,
                    timeout=policy.deadline_seconds,
                    wait_initial=policy.wait_initial,
                    wait_max=policy.wait_max,
                    wait_jitter=policy.wait_jitter,
                ):
                    with attempt:
                        if attempt.num > 1 and self.metrics is not None:
                            self.metrics.http_client_retries.labels(dependency).inc()
                        return await self._attempt(
                            method, url, dependency=dependency, headers=headers,
                            content=content, json=json,
                        )  # fmt: skip
        except TransientStatusError as exc:
            return exc.response  # retries exhausted: the caller sees the last answer
        except httpx.TransportError as exc:
            if is_certificate_failure(exc):
                # Counted against the breaker, once: a peer serving a certificate that does not
                # verify is the dependency failing (expired, wrong name, unknown CA), and every
                # call to it fails alike until it is fixed. The ssl reason stays in the chain.
                raise DependencyUnavailableError(
                    dependency,
                    f"The {dependency} dependency's TLS certificate did not verify (not retried).",
                ) from exc
            raise DependencyUnavailableError(
                dependency, f"The {dependency} dependency failed: {type(exc).__name__}."
            ) from exc
        except TimeoutError as exc:
            raise DeadlineExceededError(dependency, policy.deadline_seconds) from exc
        except ResponseTooLargeError as exc:
            raise DependencyUnavailableError(
                dependency, f"The {dependency} dependency answered with over {exc.max_bytes} bytes."
            ) from exc
        raise AssertionError("unreachable: stamina either returns or re-raises")  # pragma: no cover

    async def _attempt(
        self,
        method: str,
        url: str,
        *,
        dependency: str,
        headers: Mapping[str, str] | None,
        content: bytes | None,
        json: Any,
    ) -> httpx.Response:
        started = time.perf_counter()
        outcome = "error"
        try:
            async with self.breakers.protect(dependency):
                request = self.client.build_request(
                    method, url, headers=headers, content=content, json=json
                )
                response = await self.client.send(request, stream=True)
                await read_bounded(response, self.max_response_bytes)
                outcome = str(response.status_code)
                if response.status_code in TRANSIENT_STATUSES:
                    raise TransientStatusError(response)
                return response
        finally:
            if self.metrics is not None:
                self.metrics.http_client_request_duration.labels(
                    dependency, method, outcome
                ).observe(time.perf_counter() - started)


def retry_policy_from(settings: ChassisSettings) -> RetryPolicy:
    return RetryPolicy(
        attempts=settings.http_client.retry_attempts,
        deadline_seconds=settings.http_client.retry_deadline_seconds,
    )


# One context per CA source and process: a process that starts many apps (a test suite starts
# one per test) loads the bundle once, not once for each.
_tls_contexts: dict[ssl.DefaultVerifyPaths, ssl.SSLContext] = {}


async def load_tls_context() -> ssl.SSLContext:
    """httpx's default TLS context: certifi's CA bundle, or `SSL_CERT_FILE` / `SSL_CERT_DIR`.

    Loading the bundle is the slowest step of an app's start, in OpenSSL with the GIL
    released: the lifespan starts this first, in a thread, so it overlaps the rest of start-up,
    and the outbound clients share the one context instead of loading the bundle each. Every
    app of the process shares it too, so nothing may change it (a client certificate belongs
    in a context of its own).
    """
    # OpenSSL's default paths follow SSL_CERT_FILE and SSL_CERT_DIR, as httpx does: a new
    # value in the environment is a new source.
    source = ssl.get_default_verify_paths()
    context = _tls_contexts.get(source)
    if context is None:
        # Two apps starting at once may both load it; either context is the same.
        context = await asyncio.to_thread(httpx.create_ssl_context)
        _tls_contexts[source] = context
    return context


@asynccontextmanager
async def outbound_http(
    settings: ChassisSettings,
    *,
    breakers: CircuitBreakers,
    metrics: Metrics | None = None,
    tracing: Tracing | None = None,
    tls: ssl.SSLContext | None = None,
    service_version: str = "0",
) -> AsyncIterator[OutboundHttp]:
    """The process's shared outbound clients (one for user URLs), closed on exit."""
    tls = tls if tls is not None else httpx.create_ssl_context()
    limits = httpx.Limits(max_connections=100, max_keepalive_connections=20)
    options: dict[str, Any] = {
        "timeout": httpx.Timeout(
            connect=settings.http_client.connect_timeout_seconds,
            read=settings.http_client.read_timeout_seconds,
            write=settings.http_client.read_timeout_seconds,
            pool=settings.http_client.connect_timeout_seconds,
        ),
        "headers": {"User-Agent": f"{settings.service_name}/{service_version}"},
        "follow_redirects": False,
    }
    client = httpx.AsyncClient(verify=tls, limits=limits, **options)
    user_url_policy = UserUrlPolicy(
        https_only=settings.is_production,
        allowed_networks=settings.http_client.user_url_allowed_networks,
        allowed_ports=settings.http_client.user_url_allowed_ports,
    )
    user_url_client = httpx.AsyncClient(
        transport=UserUrlTransport(user_url_policy, tls=tls, limits=limits), **options
    )
    if tracing is not None:
        tracing.instrument_httpx(client)
        tracing.instrument_httpx(user_url_client)
    try:
        yield OutboundHttp(
            client,
            breakers=breakers,
            metrics=metrics,
            policy=retry_policy_from(settings),
            max_response_bytes=settings.http_client.max_response_bytes,
            user_url_client=user_url_client,
            user_url_policy=user_url_policy,
        )
    finally:
        await client.aclose()
        await user_url_client.aclose()
