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

from tests.support.databases import empty_database, table_states
from tests.support.live import SERVICE_COMMAND, ServiceCredentials
from tests.support.processes import ServiceProcess, free_port, start_service

# One event loop for the module, so the client and the database probe stay connected from case
# to case: each case then costs a few milliseconds.
pytestmark = [
    pytest.mark.reliability,
    pytest.mark.database,
    pytest.mark.asyncio(loop_scope="module"),
]

PROBLEM = "application/problem+json"
VALIDATION = "urn:problem-type:validation-error"
UNSUPPORTED_MEDIA_TYPE = "urn:problem-type:unsupported-media-type"
BLANK = "about:blank"
ITEMS = "/v1/items"
ITEM = "/v1/items/{item_id}"
SEEDED_ITEM_NAME = "Seeded item"


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


SQL = "' OR '1'='1'; DROP TABLE items; --"
HTML = "<img src=x onerror=alert(1)>"
NESTING = 100_000
EMOJI = "\U0001f600"
DECLARED_8_MIB = (
    b"POST /v1/items HTTP/1.1\r\nHost: test\r\nContent-Type: application/json\r\n"
    b"Content-Length: 8388608\r\n\r\n" + b'{"name":"' + b"x" * 65536
)
NUL_IN_A_HEADER = b"GET /v1/items HTTP/1.1\r\nHost: test\r\nX-Bad: a\x00b\r\n\r\n"
CATEGORIES = "/v1/categories"
RAW_TIMEOUT_SECONDS = 2.0

# fmt: off
CORPUS: list[Case] = [
    # --- Malformed JSON ---------------------------------------------------------------------
    invalid("json-truncated", "POST", ITEMS, "json_invalid", raw_body=b'{"name": '),
    invalid("json-trailing-garbage", "POST", ITEMS, "json_invalid", raw_body=b'{"name":"a"} x'),
    invalid("json-single-quotes", "POST", ITEMS, "json_invalid", raw_body=b"{'name': 'a'}"),
    invalid("json-raw-nul-in-string", "POST", ITEMS, "json_invalid", raw_body=b'{"name":"\0"}'),
    invalid("json-array-not-object", "POST", ITEMS, "model_attributes_type", data=[1]),
    invalid("json-null", "POST", ITEMS, "model_attributes_type", raw_body=b"null"),
    invalid("json-nan", "POST", ITEMS, "finite_number",
            raw_body=b'{"name":"n","price_cents":NaN}'),
    # Python's JSON parser refuses integers of more than 4300 digits (CVE-2020-10735), and
    # FastAPI answers a parser failure that is not a syntax error with a 400.
    Case("json-huge-integer", "POST", ITEMS, 400, BLANK,
         body=b'{"name":"n","price_cents":' + b"9" * 5000 + b"}"),
    Case("body-not-utf8", "POST", ITEMS, 400, BLANK, body=b'{"name":"\xff\xfe"}'),
    # --- Wrong content type -----------------------------------------------------------------
    Case("form-urlencoded", "POST", ITEMS, 415, UNSUPPORTED_MEDIA_TYPE,
         body=b"name=a", content_type="application/x-www-form-urlencoded"),
    Case("text-plain-json", "POST", ITEMS, 415, UNSUPPORTED_MEDIA_TYPE,
         body=body({"name": "a"}), content_type="text/plain"),
    Case("xml", "POST", ITEMS, 415, UNSUPPORTED_MEDIA_TYPE,
         body=b"<item><name>a</name></item>", content_type="application/xml"),
    Case("no-content-type", "POST", ITEMS, 415, UNSUPPORTED_MEDIA_TYPE,
         body=body({"name": "a"}), content_type=None),
    Case("patch-as-text", "PATCH", ITEM, 415, UNSUPPORTED_MEDIA_TYPE,
         body=body({"name": "b"}), content_type="text/plain"),
    # --- Huge body and fields ---------------------------------------------------------------
    # 8 MiB declared, 64 KiB sent: the limit must answer on the declaration alone, without
    # waiting for (or reading) the rest.
    Case("body-8-mib", "POST", ITEMS, 413, BLANK, raw=DECLARED_8_MIB),
    invalid("name-10k-characters", "POST", ITEMS, "string_too_long", data={"name": "x" * 10_000}),
    # --- Deeply nested JSON -----------------------------------------------------------------
    # The parser's recursion limit refuses it before any model sees it.
    Case("nested-arrays-100k", "POST", ITEMS, 400, BLANK,
         body=b'{"name":' + b"[" * NESTING + b"]" * NESTING + b"}"),
    invalid("nested-objects-as-unknown-field", "POST", ITEMS, "extra_forbidden",
            raw_body=b'{"name":"n","extra":' + b'{"a":' * 500 + b"1" + b"}" * 500 + b"}"),
    invalid("object-as-name", "POST", ITEMS, "string_type", data={"name": {"a": {"b": "c"}}}),
    # --- Huge headers -----------------------------------------------------------------------
    # uvicorn's parser (httptools) takes headers of any size, so the service's own limit
    # answers (core/header_limit.py); behind a proxy, the proxy usually refuses first.
    Case("one-64-kib-header", "GET", ITEMS, 431, BLANK, headers={"X-Padding": "a" * 65536}),
    Case("a-thousand-headers", "GET", ITEMS, 431, BLANK,
         headers={f"X-Padding-{n}": "a" * 100 for n in range(1000)}),
    # The HTTP parser (httptools) refuses a malformed header line before there is a request
    # for the application to see, with its own plain-text 400: the one refusal that is not a
    # problem document, and one that cannot reach the database.
    Case("nul-in-a-header", "GET", ITEMS, 400, BLANK, raw=NUL_IN_A_HEADER, problem=False),
    # --- Invalid UUIDs ----------------------------------------------------------------------
    invalid("uuid-word", "GET", "/v1/items/not-a-uuid", "uuid_parsing"),
    invalid("uuid-number", "PATCH", "/v1/items/12345", "uuid_parsing", data={"name": "b"}),
    invalid("uuid-short", "DELETE", f"/v1/items/{uuid.uuid4().hex[:31]}", "uuid_parsing"),
    invalid("uuid-emoji", "GET", f"/v1/items/{EMOJI}", "uuid_parsing"),
    invalid("uuid-category-path", "GET", f"{CATEGORIES}/zzz", "uuid_parsing"),
    invalid("uuid-category-in-body", "POST", ITEMS, "uuid_parsing",
            data={"name": "n", "category_id": "not-a-uuid"}),
    # --- Unicode edge cases -----------------------------------------------------------------
    # PostgreSQL cannot store NUL in text: unchecked, these were 500s.
    invalid("name-nul", "POST", ITEMS, "string_pattern_mismatch", data={"name": "a\0b"}),
    invalid("description-nul", "PATCH", ITEM, "string_pattern_mismatch",
            data={"description": "a\0b"}),
    invalid("category-name-nul", "POST", CATEGORIES, "string_pattern_mismatch",
            data={"name": "\0"}),
    invalid("name-lone-surrogate", "POST", ITEMS, "string_unicode",
            raw_body=b'{"name":"a\\ud800"}'),
    invalid("name-right-to-left-override", "POST", ITEMS, "string_pattern_mismatch",
            data={"name": "invoice\u202efdp.exe"}),
    invalid("name-bidi-isolate", "POST", ITEMS, "string_pattern_mismatch",
            data={"name": "a\u2066b\u2069"}),
    invalid("name-c1-control", "POST", ITEMS, "string_pattern_mismatch", data={"name": "a\x85b"}),
    invalid("name-newline", "POST", ITEMS, "string_pattern_mismatch", data={"name": "a\nb"}),
    # Lengths count characters (code points), in the schema and in the database alike.
    invalid("name-101-emoji", "POST", ITEMS, "string_too_long", data={"name": EMOJI * 101}),
    invalid("name-100-combining-marks", "POST", ITEMS, "string_too_long",
            data={"name": "e" + "\u0301" * 100}),
    invalid("cursor-emoji", "GET", ITEMS, "string_pattern_mismatch", query={"cursor": EMOJI}),
    # --- SQL injection where the input is typed ---------------------------------------------
    invalid("sql-in-path", "GET", f"{ITEMS}/{SQL}", "uuid_parsing", payload=SQL),
    invalid("sql-in-cursor", "GET", ITEMS, "string_pattern_mismatch",
            query={"cursor": SQL}, payload=SQL),
    invalid("sql-in-limit", "GET", ITEMS, "int_parsing",
            query={"limit": "1; DROP TABLE items"}, payload="DROP TABLE"),
    invalid("sql-in-if-match", "PATCH", ITEM, "string_pattern_mismatch",
            data={"name": "b"}, headers={"If-Match": '"1" OR 1=1'}, payload="OR 1=1"),
    invalid("sql-in-category-id", "POST", ITEMS, "uuid_parsing",
            data={"name": "n", "category_id": SQL}, payload=SQL),
    invalid("sql-in-price", "POST", ITEMS, "value_error",
            data={"name": "n", "price_cents": SQL}, payload=SQL),
    # --- HTML injection where the input is typed --------------------------------------------
    invalid("html-in-path", "GET", f"{ITEMS}/{HTML}", "uuid_parsing", payload=HTML),
    invalid("html-in-cursor", "GET", ITEMS, "string_pattern_mismatch",
            query={"cursor": HTML}, payload=HTML),
    invalid("html-in-category-id", "POST", ITEMS, "uuid_parsing",
            data={"name": "n", "category_id": HTML}, payload=HTML),
    invalid("html-in-price", "POST", ITEMS, "value_error",
            data={"name": "n", "price_cents": HTML}, payload=HTML),
    # --- Pagination -------------------------------------------------------------------------
    invalid("limit-negative", "GET", ITEMS, "greater_than_equal", query={"limit": "-1"}),
    invalid("limit-zero", "GET", ITEMS, "greater_than_equal", query={"limit": "0"}),
    invalid("limit-above-maximum", "GET", ITEMS, "less_than_equal", query={"limit": "101"}),
    invalid("limit-30-digits", "GET", ITEMS, "less_than_equal", query={"limit": "9" * 30}),
    invalid("limit-fraction", "GET", ITEMS, "int_parsing", query={"limit": "1.5"}),
    invalid("limit-word", "GET", ITEMS, "int_parsing", query={"limit": "ten"}),
    invalid("cursor-too-long", "GET", ITEMS, "string_pattern_mismatch",
            query={"cursor": "A" * 65}),
    invalid("cursor-malformed", "GET", ITEMS, "string_pattern_mismatch", query={"cursor": "AAAA"}),
    # --- Unknown and read-only fields -------------------------------------------------------
    invalid("unknown-field", "POST", ITEMS, "extra_forbidden", data={"name": "n", "admin": True}),
    invalid("read-only-status", "POST", ITEMS, "extra_forbidden",
            data={"name": "n", "status": "active"}),
    invalid("read-only-id", "PATCH", ITEM, "extra_forbidden", data={"id": str(uuid.uuid4())}),
    invalid("read-only-version", "PATCH", ITEM, "extra_forbidden", data={"version": 99}),
    invalid("category-unknown-field", "POST", CATEGORIES, "extra_forbidden",
            data={"name": "c", "colour": "blue"}),
    # --- Out of range, and the resource's rules ---------------------------------------------
    invalid("name-empty", "POST", ITEMS, "string_too_short", data={"name": ""}),
    invalid("name-blank", "POST", ITEMS, "string_pattern_mismatch", data={"name": "   "}),
    invalid("name-null", "PATCH", ITEM, "value_error", data={"name": None}),
    invalid("price-negative", "POST", ITEMS, "greater_than_equal",
            data={"name": "n", "price_cents": -1}),
    invalid("price-above-maximum", "POST", ITEMS, "less_than_equal",
            data={"name": "n", "price_cents": 100_000_001}),
    invalid("price-as-string", "POST", ITEMS, "value_error",
            data={"name": "n", "price_cents": "12"}),
    invalid("price-fraction", "POST", ITEMS, "int_from_float",
            data={"name": "n", "price_cents": 12.5}),
    invalid("if-match-not-an-etag", "PATCH", ITEM, "string_pattern_mismatch",
            data={"name": "b"}, headers={"If-Match": "junk"}),
    Case("if-match-stale", "PATCH", ITEM, 412, "urn:problem-type:item-version-mismatch",
         body=body({"name": "b"}), headers={"If-Match": '"99"'}),
    Case("name-taken", "POST", ITEMS, 409, "urn:problem-type:item-name-taken",
         body=body({"name": SEEDED_ITEM_NAME})),
    Case("category-unknown", "POST", ITEMS, 409, "urn:problem-type:unknown-category",
         body=body({"name": "n", "category_id": str(uuid.uuid4())})),
    Case("category-in-use", "DELETE", CATEGORIES + "/{category_id}", 409,
         "urn:problem-type:category-in-use"),
    Case("method-not-allowed", "PUT", ITEM, 405, BLANK, body=body({"name": "b"})),
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
    item_id: str
    category_id: str


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
    service_env: dict[str, str], database_url: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[ServiceProcess]:
    """One service process for the whole corpus; the database is emptied when it stops."""
    log_path = tmp_path_factory.mktemp("bad-input") / "service.log"
    service = start_service(SERVICE_COMMAND, env=service_env, port=free_port(), log_path=log_path)
    try:
        yield service
    finally:
        service.stop()
        empty_database(database_url)


@pytest_asyncio.fixture(loop_scope="module", scope="module")
async def target(
    live_service: ServiceProcess, database_url: str, service_credentials: ServiceCredentials
) -> AsyncIterator[Target]:
    """The live service with a category and an item in it (what the PATCH, If-Match and
    conflict cases aim at), and a connection of the test's own to its database."""
    headers = dict(service_credentials.headers)
    engine = create_async_engine(database_url, pool_size=1)
    async with httpx.AsyncClient(base_url=live_service.base_url, timeout=30) as client:
        category = await client.post(CATEGORIES, json={"name": "Seeded category"}, headers=headers)
        assert category.status_code == 201, category.text
        category_id = category.json()["id"]
        item = await client.post(
            ITEMS, json={"name": SEEDED_ITEM_NAME, "category_id": category_id}, headers=headers
        )
        assert item.status_code == 201, item.text
        seed = Seed(item_id=item.json()["id"], category_id=category_id)
        yield Target(live_service, client, engine, seed, service_credentials)
    await engine.dispose()


def request_parts(case: Case, seed: Seed, credentials: ServiceCredentials) -> dict[str, Any]:
    headers = dict(credentials.headers) | dict(case.headers)
    if case.body is not None and case.content_type is not None:
        headers["Content-Type"] = case.content_type
    return {
        "method": case.method,
        "url": case.path.format(item_id=seed.item_id, category_id=seed.category_id),
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
            ITEMS, json={"name": text, "description": text}, headers=headers
        )
        assert created.status_code == 201, (label, created.text)
        read = await target.client.get(f"{ITEMS}/{created.json()['id']}", headers=headers)
        assert (read.json()["name"], read.json()["description"]) == (text, text), label
    after = await table_states(target.database)
    # Parameterized queries: the SQL-looking name is a row like any other, and nothing else.
    assert after["items"].rows == before["items"].rows + len(VALID_TEXT)
    assert set(after) == set(before)
