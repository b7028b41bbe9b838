"""SEC-1/OBS-4: a corpus of bad input through the live server, each refused with a specific 4xx.

The service runs as a real process on loopback, on the session's real database, so every layer
a request crosses is the production one: uvicorn's HTTP parser, the middleware, FastAPI's body
parsing, validation, the services and the database. For each case the test checks:

- the exact status and problem `type` (and the validation error's kind where there is one):
  a specific refusal, never a 500 and never a generic one where a specific one exists;
- an RFC 9457 problem document with the request's ID, that does not echo the payload back;
- every table of the database, counted and digested through a connection of its own before
  and after: a refused request changes nothing.

Input that looks dangerous but is ordinary text (an SQL fragment in a name, emoji, combining
marks, right-to-left script) is data, not an attack: it is stored verbatim and read back
unchanged (`test_sec1_unusual_but_valid_text_is_stored_verbatim`).
"""

from __future__ import annotations

import asyncio
import json
import socket
import uuid
from collections.abc import AsyncIterator, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest
import pytest_asyncio
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from goldenpath_chassis import Service
from goldenpath_chassis.testing.databases import empty_database, table_states
from goldenpath_chassis.testing.live import ServiceCredentials
from goldenpath_chassis.testing.processes import ServiceProcess

from tests.support.example_process import running_example

# One event loop for the module, so the client and the database probe stay connected from case
# to case: each case then costs a few milliseconds.
pytestmark = [
    pytest.mark.reliability,
    pytest.mark.asyncio(loop_scope="module"),
]

PROBLEM = "application/problem+json"
VALIDATION = "urn:problem-type:validation-error"
UNSUPPORTED_MEDIA_TYPE = "urn:problem-type:unsupported-media-type"
BLANK = "about:blank"
WIDGETS = "/v1/widgets"
WIDGET = "/v1/widgets/{widget_id}"
SEEDED_WIDGET_NAME = "Seeded widget"


@dataclass(frozen=True)
class Case:
    """One bad request and the refusal it must get."""

    id: str
    method: str
    path: str
    status: int
    problem_type: str
    body: bytes | None = None
    content_type: str | None = "application/json"
    headers: Mapping[str, str] = field(default_factory=dict)
    query: Mapping[str, str] = field(default_factory=dict)
    error_type: str | None = None  # the validation error's kind, for 422s
    payload: str | None = None  # text that must not come back in the response
    raw: bytes | None = None  # sent as is on a socket, for what an HTTP client refuses to send
    problem: bool = True  # False only where the HTTP parser answers, before the application


def body(value: Any) -> bytes:
    return json.dumps(value).encode()


def invalid(
    case_id: str,
    method: str,
    path: str,
    error_type: str,
    *,
    data: Any = None,
    raw_body: bytes | None = None,
    **options: Any,
) -> Case:
    """A request that validation refuses: 422, with the kind of validation error expected."""
    content = raw_body if raw_body is not None else None if data is None else body(data)
    return Case(
        case_id, method, path, 422, VALIDATION, body=content, error_type=error_type, **options
    )


SQL = "' OR '1'='1'; DROP TABLE widgets; --"
HTML = "<img src=x onerror=alert(1)>"
NESTING = 100_000
EMOJI = "\U0001f600"
DECLARED_8_MIB = (
    b"POST /v1/widgets HTTP/1.1\r\nHost: test\r\nContent-Type: application/json\r\n"
    b"Content-Length: 8388608\r\n\r\n" + b'{"name":"' + b"x" * 65536
)
NUL_IN_A_HEADER = b"GET /v1/widgets HTTP/1.1\r\nHost: test\r\nX-Bad: a\x00b\r\n\r\n"
RAW_TIMEOUT_SECONDS = 2.0

# fmt: off
CORPUS: list[Case] = [
    # --- Malformed JSON ---------------------------------------------------------------------
    invalid("json-truncated", "POST", WIDGETS, "json_invalid", raw_body=b'{"name": '),
    invalid("json-trailing-garbage", "POST", WIDGETS, "json_invalid",
            raw_body=b'{"name":"a"} x'),
    invalid("json-single-quotes", "POST", WIDGETS, "json_invalid", raw_body=b"{'name': 'a'}"),
    invalid("json-raw-nul-in-string", "POST", WIDGETS, "json_invalid",
            raw_body=b'{"name":"\0"}'),
    invalid("json-array-not-object", "POST", WIDGETS, "model_attributes_type", data=[1]),
    invalid("json-null", "POST", WIDGETS, "model_attributes_type", raw_body=b"null"),
    invalid("json-nan", "POST", WIDGETS, "finite_number",
            raw_body=b'{"name":"n","price_cents":NaN}'),
    # Python's JSON parser refuses integers of more than 4300 digits (CVE-2020-10735), and
    # FastAPI answers a parser failure that is not a syntax error with a 400.
    Case("json-huge-integer", "POST", WIDGETS, 400, BLANK,
         body=b'{"name":"n","price_cents":' + b"9" * 5000 + b"}"),
    Case("body-not-utf8", "POST", WIDGETS, 400, BLANK, body=b'{"name":"\xff\xfe"}'),
    # --- Wrong content type -----------------------------------------------------------------
    Case("form-urlencoded", "POST", WIDGETS, 415, UNSUPPORTED_MEDIA_TYPE,
         body=b"name=a", content_type="application/x-www-form-urlencoded"),
    Case("text-plain-json", "POST", WIDGETS, 415, UNSUPPORTED_MEDIA_TYPE,
         body=body({"name": "a"}), content_type="text/plain"),
    Case("xml", "POST", WIDGETS, 415, UNSUPPORTED_MEDIA_TYPE,
         body=b"<widget><name>a</name></widget>", content_type="application/xml"),
    Case("no-content-type", "POST", WIDGETS, 415, UNSUPPORTED_MEDIA_TYPE,
         body=body({"name": "a"}), content_type=None),
    Case("patch-as-text", "PATCH", WIDGET, 415, UNSUPPORTED_MEDIA_TYPE,
         body=body({"name": "b"}), content_type="text/plain"),
    # --- Huge body and fields ---------------------------------------------------------------
    # 8 MiB declared, 64 KiB sent: the limit must answer on the declaration alone, without
    # waiting for (or reading) the rest.
    Case("body-8-mib", "POST", WIDGETS, 413, BLANK, raw=DECLARED_8_MIB),
    invalid("name-10k-characters", "POST", WIDGETS, "string_too_long",
            data={"name": "x" * 10_000}),
    invalid("description-10k-characters", "POST", WIDGETS, "string_too_long",
            data={"name": "n", "description": "x" * 10_000}),
    # --- Deeply nested JSON -----------------------------------------------------------------
    # The parser's recursion limit refuses it before any model sees it.
    Case("nested-arrays-100k", "POST", WIDGETS, 400, BLANK,
         body=b'{"name":' + b"[" * NESTING + b"]" * NESTING + b"}"),
    invalid("nested-objects-as-unknown-field", "POST", WIDGETS, "extra_forbidden",
            raw_body=b'{"name":"n","extra":' + b'{"a":' * 500 + b"1" + b"}" * 500 + b"}"),
    invalid("object-as-name", "POST", WIDGETS, "string_type", data={"name": {"a": {"b": "c"}}}),
    # --- Huge headers -----------------------------------------------------------------------
    # uvicorn's parser (httptools) takes headers of any size, so the service's own limit
    # answers (_core/header_limit.py); behind a proxy, the proxy usually refuses first.
    Case("one-64-kib-header", "GET", WIDGETS, 431, BLANK, headers={"X-Padding": "a" * 65536}),
    Case("a-thousand-headers", "GET", WIDGETS, 431, BLANK,
         headers={f"X-Padding-{n}": "a" * 100 for n in range(1000)}),
    # The HTTP parser (httptools) refuses a malformed header line before there is a request
    # for the application to see, with its own plain-text 400: the one refusal that is not a
    # problem document, and one that cannot reach the database.
    Case("nul-in-a-header", "GET", WIDGETS, 400, BLANK, raw=NUL_IN_A_HEADER, problem=False),
    # --- Invalid UUIDs ----------------------------------------------------------------------
    invalid("uuid-word", "GET", "/v1/widgets/not-a-uuid", "uuid_parsing"),
    invalid("uuid-number", "PATCH", "/v1/widgets/12345", "uuid_parsing", data={"name": "b"}),
    invalid("uuid-short", "DELETE", f"/v1/widgets/{uuid.uuid4().hex[:31]}", "uuid_parsing"),
    invalid("uuid-emoji", "GET", f"/v1/widgets/{EMOJI}", "uuid_parsing"),
    # --- Unicode edge cases -----------------------------------------------------------------
    # PostgreSQL cannot store NUL in text: unchecked, these were 500s.
    invalid("name-nul", "POST", WIDGETS, "string_pattern_mismatch", data={"name": "a\0b"}),
    invalid("patched-name-nul", "PATCH", WIDGET, "string_pattern_mismatch",
            data={"name": "a\0b"}),
    invalid("description-nul", "POST", WIDGETS, "string_pattern_mismatch",
            data={"name": "n", "description": "a\0b"}),
    invalid("name-lone-surrogate", "POST", WIDGETS, "string_unicode",
            raw_body=b'{"name":"a\\ud800"}'),
    invalid("description-lone-surrogate", "POST", WIDGETS, "string_unicode",
            raw_body=b'{"name":"n","description":"a\\udfff"}'),
    invalid("name-right-to-left-override", "POST", WIDGETS, "string_pattern_mismatch",
            data={"name": "invoice\u202efdp.exe"}),
    invalid("name-bidi-isolate", "POST", WIDGETS, "string_pattern_mismatch",
            data={"name": "a\u2066b\u2069"}),
    invalid("name-c1-control", "POST", WIDGETS, "string_pattern_mismatch",
            data={"name": "a\x85b"}),
    invalid("name-newline", "POST", WIDGETS, "string_pattern_mismatch", data={"name": "a\nb"}),
    invalid("description-escape-sequence", "POST", WIDGETS, "string_pattern_mismatch",
            data={"name": "n", "description": "a\x1b[31mb"}),
    # Lengths count characters (code points), in the schema and in the database alike.
    invalid("name-101-emoji", "POST", WIDGETS, "string_too_long", data={"name": EMOJI * 101}),
    invalid("name-100-combining-marks", "POST", WIDGETS, "string_too_long",
            data={"name": "e" + "\u0301" * 100}),
    # --- SQL injection where the input is typed ---------------------------------------------
    invalid("sql-in-path", "GET", f"{WIDGETS}/{SQL}", "uuid_parsing", payload=SQL),
    invalid("sql-in-limit", "GET", WIDGETS, "int_parsing",
            query={"limit": "1; DROP TABLE widgets"}, payload="DROP TABLE"),
    invalid("sql-in-price", "POST", WIDGETS, "int_parsing",
            data={"name": "n", "price_cents": SQL}, payload=SQL),
    # --- HTML injection where the input is typed --------------------------------------------
    invalid("html-in-path", "GET", f"{WIDGETS}/{HTML}", "uuid_parsing", payload=HTML),
    invalid("html-in-limit", "GET", WIDGETS, "int_parsing", query={"limit": HTML}, payload=HTML),
    invalid("html-in-price", "POST", WIDGETS, "int_parsing",
            data={"name": "n", "price_cents": HTML}, payload=HTML),
    # --- Query parameters -------------------------------------------------------------------
    invalid("limit-fraction", "GET", WIDGETS, "int_parsing", query={"limit": "1.5"}),
    invalid("limit-word", "GET", WIDGETS, "int_parsing", query={"limit": "ten"}),
    invalid("limit-emoji", "GET", WIDGETS, "int_parsing", query={"limit": EMOJI}),
    # --- Unknown and read-only fields -------------------------------------------------------
    invalid("unknown-field", "POST", WIDGETS, "extra_forbidden",
            data={"name": "n", "admin": True}),
    invalid("read-only-status", "POST", WIDGETS, "extra_forbidden",
            data={"name": "n", "status": "active"}),
    invalid("read-only-id", "PATCH", WIDGET, "extra_forbidden", data={"id": str(uuid.uuid4())}),
    invalid("read-only-version", "PATCH", WIDGET, "extra_forbidden", data={"version": 99}),
    invalid("status-patched", "PATCH", WIDGET, "extra_forbidden", data={"status": "active"}),
    invalid("patch-name-null", "PATCH", WIDGET, "value_error", data={"name": None}),
    # --- Out of range, and the resource's rules ---------------------------------------------
    invalid("name-empty", "POST", WIDGETS, "string_too_short", data={"name": ""}),
    invalid("name-blank", "POST", WIDGETS, "string_pattern_mismatch", data={"name": "   "}),
    invalid("name-missing", "POST", WIDGETS, "missing", data={"price_cents": 1}),
    invalid("price-negative", "POST", WIDGETS, "greater_than_equal",
            data={"name": "n", "price_cents": -1}),
    invalid("price-above-maximum", "POST", WIDGETS, "less_than_equal",
            data={"name": "n", "price_cents": 1_000_001}),
    invalid("patched-price-negative", "PATCH", WIDGET, "greater_than_equal",
            data={"price_cents": -1}),
    invalid("price-fraction", "POST", WIDGETS, "int_from_float",
            data={"name": "n", "price_cents": 12.5}),
    invalid("price-as-object", "POST", WIDGETS, "int_type",
            data={"name": "n", "price_cents": {"cents": 1}}),
    Case("name-taken", "POST", WIDGETS, 409, "urn:problem-type:widget-name-taken",
         body=body({"name": SEEDED_WIDGET_NAME})),
    Case("unknown-widget", "GET", f"{WIDGETS}/{uuid.uuid4()}", 404,
         "urn:problem-type:widget-not-found"),
    Case("patch-unknown-widget", "PATCH", f"{WIDGETS}/{uuid.uuid4()}", 404,
         "urn:problem-type:widget-not-found", body=body({"name": "b"})),
    Case("delete-unknown-widget", "DELETE", f"{WIDGETS}/{uuid.uuid4()}", 404,
         "urn:problem-type:widget-not-found"),
    Case("method-not-allowed", "PUT", WIDGET, 405, BLANK, body=body({"name": "b"})),
    Case("no-such-route", "GET", "/v1/nothing-here", 404, BLANK),
]
# fmt: on


@dataclass(frozen=True)
class Answer:
    status: int
    headers: Mapping[str, str]
    text: str


@dataclass(frozen=True)
class Seed:
    widget_id: str
    other_id: str  # a second widget, for renaming to a taken name


@dataclass(frozen=True)
class Target:
    """The service under test, a client for it, a probe of its database, and its seed data."""

    service: ServiceProcess
    client: httpx.AsyncClient
    database: AsyncEngine
    seed: Seed
    credentials: ServiceCredentials

    async def send(self, case: Case) -> Answer:
        if case.raw is not None:
            answer = await asyncio.to_thread(send_raw, self.service.port, case.raw)
            assert answer is not None, f"{case.id}: no answer within {RAW_TIMEOUT_SECONDS} s"
            return answer
        response = await self.client.request(**request_parts(case, self.seed, self.credentials))
        return Answer(response.status_code, response.headers, response.text)

    def assert_never_a_500(self) -> None:
        # OBS-4: an unexpected error is logged once as `unhandled_error`; there must be none.
        assert '"unhandled_error"' not in self.service.output()


@pytest.fixture(scope="module")
def live_service(
    service: Service,
    service_env: dict[str, str],
    database_url: str,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[ServiceProcess]:
    """One service process for the whole corpus; the database is emptied when it stops."""
    log_path = tmp_path_factory.mktemp("bad-input") / "service.log"
    try:
        with running_example(service_env, log_path=log_path) as process:
            yield process
    finally:
        empty_database(service, database_url)


@pytest_asyncio.fixture(loop_scope="module", scope="module")
async def target(
    live_service: ServiceProcess, database_url: str, service_credentials: ServiceCredentials
) -> AsyncIterator[Target]:
    """The live service with two widgets in it (what the PATCH and conflict cases aim at), and a
    connection of the test's own to its database."""
    headers = dict(service_credentials.headers)
    engine = create_async_engine(database_url, pool_size=1)
    async with httpx.AsyncClient(base_url=live_service.base_url, timeout=30) as client:
        ids = []
        for name in (SEEDED_WIDGET_NAME, "Other widget"):
            widget = await client.post(WIDGETS, json={"name": name}, headers=headers)
            assert widget.status_code == 201, widget.text
            ids.append(widget.json()["id"])
        seed = Seed(widget_id=ids[0], other_id=ids[1])
        yield Target(live_service, client, engine, seed, service_credentials)
    await engine.dispose()


def request_parts(case: Case, seed: Seed, credentials: ServiceCredentials) -> dict[str, Any]:
    headers = dict(credentials.headers) | dict(case.headers)
    if case.body is not None and case.content_type is not None:
        headers["Content-Type"] = case.content_type
    return {
        "method": case.method,
        "url": case.path.format(widget_id=seed.widget_id, other_id=seed.other_id),
        "content": case.body,
        "headers": headers,
        "params": dict(case.query),
    }


def send_raw(port: int, data: bytes) -> Answer | None:
    """Write bytes an HTTP client would refuse to send; the answer, or None if none came."""
    with socket.create_connection(("127.0.0.1", port), timeout=RAW_TIMEOUT_SECONDS) as connection:
        try:
            connection.sendall(data)
            received = b""
            while b"\r\n\r\n" not in received:
                chunk = connection.recv(65536)
                if not chunk:
                    break
                received += chunk
        except TimeoutError:
            return None
        head, _, rest = received.partition(b"\r\n\r\n")
        if not head:
            return None
        status_line, *header_lines = head.decode("latin-1").split("\r\n")
        headers = {}
        for line in header_lines:
            name, _, value = line.partition(":")
            headers[name.strip().lower()] = value.strip()
        length = int(headers.get("content-length", "0"))
        try:
            while len(rest) < length:
                chunk = connection.recv(65536)
                if not chunk:
                    break
                rest += chunk
        except TimeoutError:
            pass
    return Answer(int(status_line.split()[1]), headers, rest.decode(errors="replace"))


def check_refusal(case: Case, answer: Answer) -> None:
    assert answer.status == case.status, f"{case.id}: {answer.status} {answer.text[:500]}"
    if not case.problem:
        return
    assert answer.headers["content-type"] == PROBLEM, case.id
    problem = json.loads(answer.text)
    assert problem["status"] == case.status
    assert problem["type"] == case.problem_type, problem
    assert problem["title"]
    assert problem["request_id"] == answer.headers["x-request-id"]
    if case.error_type is not None:
        kinds = {error["type"] for error in problem.get("errors", [])}
        assert case.error_type in kinds, problem
    if case.payload is not None:
        assert case.payload not in answer.text, f"{case.id}: the payload was echoed back"


def corpus_params() -> list[Any]:
    ids = [case.id for case in CORPUS]
    duplicates = {case_id for case_id in ids if ids.count(case_id) > 1}
    assert not duplicates, f"corpus ids must be unique: {duplicates}"
    return [pytest.param(case, id=case.id) for case in CORPUS]


@pytest.mark.parametrize("case", corpus_params())
async def test_sec1_bad_input_gets_a_specific_4xx_and_changes_nothing(
    case: Case, target: Target
) -> None:
    before = await table_states(target.database)
    answer = await target.send(case)
    after = await table_states(target.database)

    check_refusal(case, answer)
    assert after == before, f"{case.id} changed the database"
    target.assert_never_a_500()


async def test_obs4_the_whole_corpus_at_once_never_gets_a_5xx_and_changes_nothing(
    target: Target,
) -> None:
    """The same requests concurrently, as a burst of garbage would arrive in production."""
    cases = [case for case in CORPUS if case.raw is None]
    before = await table_states(target.database)
    answers = await asyncio.gather(*(target.send(case) for case in cases))
    after = await table_states(target.database)

    for case, answer in zip(cases, answers, strict=True):
        check_refusal(case, answer)
    assert after == before
    target.assert_never_a_500()


# Unusual, valid text: each is accepted (201) and read back exactly as sent. (Markup in free
# text is SEC-1's sanitizing, tested with it.)
VALID_TEXT = {
    "sql-looking": SQL,
    "100-emoji": EMOJI * 100,
    "zwj-family-emoji": "\U0001f468\u200d\U0001f469\u200d\U0001f467",
    "99-combining-marks": "e" + "\u0301" * 99,
    "right-to-left-script": "\u05e9\u05dc\u05d5\u05dd \u0645\u0631\u062d\u0628\u0627",
    "astral-plane": "\U00010348\U0001d11e",
}


async def test_sec1_unusual_but_valid_text_is_stored_verbatim(target: Target) -> None:
    headers = dict(target.credentials.headers)
    before = await table_states(target.database)
    for label, text in VALID_TEXT.items():
        created = await target.client.post(
            WIDGETS, json={"name": text, "description": text}, headers=headers
        )
        assert created.status_code == 201, (label, created.text)
        read = await target.client.get(f"{WIDGETS}/{created.json()['id']}", headers=headers)
        assert (read.json()["name"], read.json()["description"]) == (text, text), label
    after = await table_states(target.database)
    # Parameterized queries: the SQL-looking name is a row like any other, and nothing else.
    assert after["widgets"].rows == before["widgets"].rows + len(VALID_TEXT)
    assert set(after) == set(before)
