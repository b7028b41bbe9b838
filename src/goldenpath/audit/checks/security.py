"""SEC-1..5: input validation, CSRF, authentication, rate limiting, headers and CORS."""

from __future__ import annotations

import ast
import re

from goldenpath.audit.facts import Facts
from goldenpath.audit.facts.access import AUTHENTICATED, OPEN, PUBLIC, UNDETERMINED
from goldenpath.audit.facts.python import (
    PythonModule,
    dotted,
    keyword,
    last_name,
    literal,
    names_in,
    string_value,
)
from goldenpath.audit.facts.symbols import UNKNOWN
from goldenpath.audit.model import Evidence, Requirement

from ._base import (
    Assessment,
    NotApplicable,
    check,
    found,
    listing,
    skipped,
    undetermined,
    verdict,
)
from ._body_limit import body_limits_set
from ._csrf import csrf_exempt_session_authentication, origin_header_reads
from ._signals import (
    LIMITER_MODULES,
    library_calls,
    rate_limiter,
    stored_in_a_database,
    token_buckets,
)
from ._trusted_proxies import proxies_trusting_everyone

SQL_CALLS = frozenset(
    {
        "execute",
        "executemany",
        "executescript",
        "exec_driver_sql",
        "text",
        "raw",
        "extra",
        "mogrify",
        "fetch",
        "fetchrow",
        "fetchval",
    }
)
DML = re.compile(r"\b(select|insert|update|delete|where|values)\b", re.IGNORECASE)


def _middleware(facts: Facts) -> list[str]:
    setting = facts.django_settings.get("MIDDLEWARE")
    value = setting[2] if setting else None
    return [str(item) for item in value] if isinstance(value, list | tuple) else []


def _django_middleware(facts: Facts, suffix: str) -> list[Evidence]:
    setting = facts.django_settings.get("MIDDLEWARE")
    if setting and any(item.endswith(suffix) for item in _middleware(facts)):
        return [Evidence(setting[0], setting[1], f"MIDDLEWARE has {suffix}")]
    return []


# --- SEC-1 ---------------------------------------------------------------------------------
def _forbids_extra(module: PythonModule) -> list[Evidence]:
    hits = []
    for node in module.nodes:
        if isinstance(node, ast.keyword) and node.arg == "extra":
            value = node.value
            if string_value(value) == "forbid" or dotted(value).endswith("forbid"):
                hits.append(module.evidence(value, 'extra="forbid"'))
        elif isinstance(node, ast.Dict):
            for key, value in zip(node.keys, node.values, strict=True):
                if string_value(key) == "extra" and string_value(value) == "forbid":
                    hits.append(module.evidence(node, "'extra': 'forbid'"))
        elif (
            isinstance(node, ast.Assign)
            and string_value(node.value) == "forbid"
            and any(isinstance(t, ast.Name) and t.id == "extra" for t in node.targets)
        ):
            hits.append(module.evidence(node, 'extra = "forbid"'))
    return hits


def _unsafe_sql(facts: Facts) -> tuple[int, list[Evidence]]:
    calls, unsafe = 0, []
    for module, call in facts.code.calls_named(*SQL_CALLS):
        if not call.args:
            continue
        calls += 1
        first = call.args[0]
        built = isinstance(first, ast.JoinedStr) and any(
            isinstance(part, ast.FormattedValue) for part in first.values
        )
        built = (
            built
            or (isinstance(first, ast.BinOp) and isinstance(first.op, ast.Add | ast.Mod))
            or (isinstance(first, ast.Call) and last_name(first.func) == "format")
        )
        if built and DML.search(ast.unparse(first)):
            unsafe.append(
                module.evidence(call, f"SQL built from values: {ast.unparse(first)[:60]}")
            )
    return calls, unsafe


UNKNOWN_FIELDS_FIX = {
    "fastapi": 'configure request models with extra="forbid" (pydantic ConfigDict)',
    "starlette": 'validate bodies with models that refuse unknown fields (pydantic extra="forbid")',
    "django": "refuse unknown fields in serializers and forms: compare `initial_data` with the "
    "declared fields in `validate()` of a base serializer, and raise a ValidationError",
    "flask": "validate request bodies with a schema that refuses unknown fields (marshmallow's "
    'unknown=RAISE, or pydantic models with extra="forbid")',
}


def _strict_serializers(facts: Facts) -> list[Evidence]:
    """REST framework serializers that compare the submitted data with their fields."""
    found_ = []
    for module, node in facts.code.subclasses("Serializer", "ModelSerializer"):
        for item in node.body:
            if (
                isinstance(item, ast.FunctionDef)
                and item.name in {"validate", "to_internal_value"}
                and "initial_data" in names_in(item)
                and any(isinstance(n, ast.Raise) for n in ast.walk(item))
            ):
                found_.append(
                    module.evidence(item, f"{node.name}.{item.name} refuses unknown fields")
                )
    return found_


@check("SEC-1")
def input_validation(facts: Facts) -> Assessment:
    requirements: list[Requirement] = []
    writes = [
        route
        for route in facts.routes.business
        if route.changes_state or route.framework == "django"
    ]
    strict = [hit for module in facts.code.request_time for hit in _forbids_extra(module)]
    strict += [
        module.evidence(node, f"{node.name} (marshmallow raises on unknown fields)")
        for module, node in facts.code.subclasses("Schema")
        if "marshmallow" in module.imported_modules
    ]
    strict += _strict_serializers(facts)
    if writes or strict:
        requirements.append(
            found(
                "unknown fields rejected",
                strict,
                met="request models refuse fields they do not define",
                missing="request models silently accept unknown fields",
                fix=UNKNOWN_FIELDS_FIX.get(facts.framework, UNKNOWN_FIELDS_FIX["fastapi"]),
                where=[route.evidence() for route in writes],
            )
        )
    else:
        requirements.append(skipped("unknown fields rejected", "no route takes a request body"))
    # A migration's `sa.String(length=50)` bounds a column, not what a request may send. A
    # bound counts as a call's keyword (`Field(le=100)`, `CharField(max_length=50)`) or a
    # validator's call (`Length(max=50)`, `constr(...)`): a variable called `le` or `max_len`
    # is as often a label encoder or a model's sequence length.
    bounds = [
        module.evidence(call, keyword.arg)
        for module in facts.code.request_time
        for call in module.calls()
        for keyword in call.keywords
        if keyword.arg in {"length", "le", "lt", "max_length", "max_items"}
    ][:3]
    bounds += [
        module.evidence(call, last_name(call.func) or "")
        for module in facts.code.request_time
        for call in module.calls()
        if last_name(call.func) in {"Length", "conlist", "constr"}
    ][:3]
    requirements.append(
        found(
            "bounded fields",
            bounds,
            met="lengths and ranges are bounded",
            missing="no length or range bounds on input fields",
            fix="bound every string and number: Field(max_length=...), Field(le=...)",
        )
    )
    limits = body_limits_set(facts)
    if not limits and facts.framework == "django":
        settings = next(iter(facts.django_settings.values()), None)
        if settings:
            limits = [Evidence(settings[0], None, "Django's DATA_UPLOAD_MAX_MEMORY_SIZE (2.5 MB)")]
    limits += _text_hits(facts, r"client_max_body_size|proxy-body-size", (".conf", ".yaml", ".yml"))
    requirements.append(
        found(
            "request body size limit",
            limits,
            met="oversized bodies are refused (413) before they are read",
            missing="no request body size limit: one large body can exhaust memory",
            fix="refuse bodies over a configured size with 413 (a pure ASGI middleware, or "
            "MAX_CONTENT_LENGTH in Flask)",
        )
    )
    requirements.append(
        found(
            "HTML sanitized",
            facts.uses(
                "nh3",
                "bleach",
                "html-sanitizer",
                "lxml-html-clean",
                "ammonia",
                modules=("nh3", "bleach", "html_sanitizer"),
            ),
            met="a maintained HTML sanitizer cleans HTML-bearing fields",
            missing="no HTML sanitizer (nh3, bleach) among the dependencies",
            fix="sanitize HTML-bearing fields with nh3 before storing them",
        )
    )
    if facts.has_database:
        calls, unsafe = _unsafe_sql(facts)
        requirements.append(
            verdict(
                "parameterized queries",
                not unsafe,
                f"no SQL statement is built from values ({calls} query calls read)"
                if not unsafe
                else "SQL statements are built by string formatting: an injection risk",
                unsafe,
                fix="pass values as bound parameters (text(':id'), cursor.execute(sql, params))",
            )
        )
    else:
        requirements.append(skipped("parameterized queries", "no database client"))
    return requirements


def _text_hits(facts: Facts, pattern: str, suffixes: tuple[str, ...]) -> list[Evidence]:
    regex = re.compile(pattern, re.IGNORECASE)
    hits = []
    for path in facts.repository.matching(*suffixes):
        if path.startswith(".github/"):
            continue
        text = facts.repository.text(path) or ""
        match = regex.search(text)
        if match:
            hits.append(Evidence(path, text.count("\n", 0, match.start()) + 1, match.group(0)))
    return hits


SESSION_LIBRARIES = (
    "starlette.middleware.sessions",
    "flask_login",
    "flask_session",
    "fastapi_sessions",
)


def _cookie_authentication(facts: Facts) -> list[Evidence]:
    """What makes browsers authenticate with cookies: code that reads the request's cookies, a
    session middleware or login manager, Django's sessions. A cookie set for another purpose
    (forwarding a third party's) with none of these read back is not authentication."""
    found_: list[Evidence] = []
    for module in facts.code.modules:
        called = {id(call.func) for call in module.calls()}
        found_ += [
            module.evidence(node, "reads the request's cookies")
            for node in module.nodes
            if isinstance(node, ast.Attribute)
            and node.attr in {"cookies", "COOKIES"}
            and isinstance(node.ctx, ast.Load)
            and id(node) not in called
        ][:1]
    found_ += [
        module.evidence(call, symbol.name)
        for module, call, symbol in library_calls(
            facts, ("starlette", "flask_login", "flask_session", "fastapi_sessions")
        )
        if symbol.name.startswith(SESSION_LIBRARIES)
    ]
    found_ += [
        module.evidence(call, "SessionMiddleware")
        for module, call in facts.code.calls_named("add_middleware", "Middleware")
        if call.args
        and str(getattr(facts.symbols.resolve(module, call.args[0]), "name", "")).startswith(
            SESSION_LIBRARIES
        )
    ]
    return found_ + _django_middleware(facts, "SessionMiddleware")


# --- SEC-2 ---------------------------------------------------------------------------------
@check("SEC-2")
def csrf(facts: Facts) -> Assessment:
    cookies = _cookie_authentication(facts)
    if cookies:
        cookies += [
            module.evidence(call, "sets a cookie")
            for module, call in facts.code.calls_named("set_cookie")
        ]
    if not cookies:
        return NotApplicable(
            "no cookie-based authentication: bearer tokens and API keys are not sent by browsers "
            "on their own, so they need no CSRF token"
        )
    # A name that exempts (CsrfExemptedSessionAuthentication, csrf_exempt) checks nothing.
    tokens = [
        hit
        for hit in facts.code.find_tokens(
            r"csrf", kinds=("name", "string"), modules=facts.code.request_time
        )
        if "exempt" not in hit.detail.lower()
    ]
    tokens += facts.uses(
        "flask-wtf", "flask-seasurf", "starlette-csrf", "fastapi-csrf-protect", "asgi-csrf"
    )
    django_csrf = _django_middleware(facts, "CsrfViewMiddleware")
    tokens += django_csrf
    origin = origin_header_reads(facts)
    origin += django_csrf  # Django's CSRF middleware checks Origin (4.0+)
    # REST framework's views skip the middleware and check in SessionAuthentication, Origin
    # included: an emptied enforce_csrf leaves the API's cookie sessions with neither check.
    exempted = csrf_exempt_session_authentication(facts)
    requirements = [
        found(
            "CSRF token checked",
            [] if exempted else tokens,
            met="cookie-authenticated state changes need a CSRF token",
            missing="REST framework's session authentication is used with its CSRF check "
            "switched off"
            if exempted
            else "cookies authenticate requests but no CSRF token is checked",
            fix="require a CSRF token (double-submit or synchronizer) on state-changing requests "
            "that authenticate with a cookie",
            where=exempted or cookies,
        ),
        found(
            "same-origin check",
            [] if exempted else origin,
            met="the Origin / Sec-Fetch-Site of state-changing requests is checked",
            missing="the Origin and Sec-Fetch-Site headers are never checked",
            fix="refuse state-changing cookie requests whose Origin is not trusted or whose "
            "Sec-Fetch-Site is cross-site",
            where=exempted or cookies,
        ),
    ]
    flags = []
    loose = []
    for module, call in facts.code.calls_named("set_cookie"):
        if keyword(call, "samesite") is not None and literal(keyword(call, "secure")) is not False:
            flags.append(module.evidence(call, "SameSite, Secure"))
        else:
            loose.append(module.evidence(call, "cookie without SameSite or Secure"))
    # Django's session cookie is what authenticates; its Secure flag is a setting (default
    # False), whatever other cookies the views set.
    if _django_middleware(facts, "SessionMiddleware"):
        setting = facts.django_setting("SESSION_COOKIE_SECURE")
        if setting is not None and "True" in setting.detail:
            flags.append(setting)
        else:
            loose.append(
                setting
                or Evidence(
                    next(iter(facts.django_settings.values()), ("settings.py",))[0],
                    None,
                    "SESSION_COOKIE_SECURE is False by default",
                )
            )
    requirements.append(
        verdict(
            "cookies SameSite and Secure",
            bool(flags) and not loose,
            "cookies are SameSite and Secure"
            if flags and not loose
            else "some cookies lack SameSite or Secure",
            loose or flags,
            fix="set cookies with secure=True and samesite='strict' (or 'lax')",
        )
    )
    return requirements


# --- SEC-3 ---------------------------------------------------------------------------------
HASH_CALLS = re.compile(
    r"^(hashlib|hmac|bcrypt)\.|(^|\.)(pbkdf2_hmac|scrypt|make_password|hashpw)$"
)


API_KEY = re.compile(r"api_?key", re.IGNORECASE)


def _mentions_api_keys(node: ast.AST) -> bool:
    return any(
        (isinstance(inner, ast.Name) and API_KEY.search(inner.id))
        or (isinstance(inner, ast.Attribute) and API_KEY.search(inner.attr))
        or (isinstance(inner, ast.arg) and API_KEY.search(inner.arg))
        or (isinstance(inner, ast.keyword) and API_KEY.search(inner.arg or ""))
        or (
            isinstance(inner, ast.FunctionDef | ast.AsyncFunctionDef) and API_KEY.search(inner.name)
        )
        for inner in ast.walk(node)
    )


def _hashing_calls(node: ast.AST) -> list[ast.Call]:
    return [
        call
        for call in ast.walk(node)
        if isinstance(call, ast.Call) and HASH_CALLS.search(dotted(call.func))
    ]


def _hashed_api_keys(facts: Facts) -> list[Evidence]:
    """Hash calls where API keys are handled: keys stored as digests. In a module about API
    keys, a function that never touches one hashes something else (a user model's Gravatar
    md5 of the e-mail, beside a key kept in clear)."""
    found_ = []
    for module in facts.code.modules:
        if API_KEY.search(module.path):
            hashing = _hashing_calls(module.tree)
        else:
            hashing = [
                call
                for function in ast.walk(module.tree)
                if isinstance(function, ast.FunctionDef | ast.AsyncFunctionDef)
                and _mentions_api_keys(function)
                for call in _hashing_calls(function)
            ]
        if hashing:
            found_.append(
                module.evidence(hashing[0], f"API keys hashed ({dotted(hashing[0].func)})")
            )
    return found_ + facts.uses("djangorestframework-api-key")


@check("SEC-3")
def authentication(facts: Facts) -> Assessment:
    requirements: list[Requirement] = []
    decodes = [
        (module, call)
        for module, call in facts.code.calls_named("decode")
        if keyword(call, "algorithms") is not None
    ]
    simple_jwt = [e for e in (facts.django_setting("SIMPLE_JWT"),) if e]
    requirements.append(
        found(
            "JWT with pinned algorithms",
            [
                module.evidence(
                    call, f"algorithms={ast.unparse(keyword(call, 'algorithms') or call)[:40]}"
                )
                for module, call in decodes
            ]
            + simple_jwt,
            met="bearer tokens are verified against an explicit algorithm list",
            missing="no JWT verification with an explicit algorithm list",
            fix="verify bearer tokens with PyJWT: jwt.decode(token, key, algorithms=[...], "
            "audience=..., issuer=...)",
        )
    )
    claims = [
        module.evidence(call, "issuer and audience required")
        for module, call in decodes
        if keyword(call, "audience") is not None and keyword(call, "issuer") is not None
    ]
    requirements.append(
        found(
            "issuer and audience checked",
            claims,
            met="tokens from another issuer or for another audience are refused",
            missing="tokens are not checked for issuer and audience",
            fix="pass audience= and issuer= to jwt.decode and require exp",
            where=[module.evidence(call) for module, call in decodes],
        )
    )
    requirements.append(
        found(
            "API keys stored hashed",
            _hashed_api_keys(facts),
            met="API keys are stored as hashes, never in clear",
            missing="no API keys stored as hashes",
            fix="issue random API keys, store only their SHA-256 digest, with scopes and "
            "revocation",
        )
    )
    requirements.append(_route_access(facts))
    return requirements


def _route_access(facts: Facts) -> Requirement:
    name = "every route declares access"
    business = facts.routes.business
    if not business:
        return skipped(name, "no business routes found")
    judged = [(route, facts.access.of(route)) for route in business]
    open_routes = [route for route, access in judged if access.kind == OPEN]
    unknown = [(route, access) for route, access in judged if access.kind == UNDETERMINED]
    declared = [
        (route, access) for route, access in judged if access.kind in {AUTHENTICATED, PUBLIC}
    ]
    fix = (
        "give every route an authentication dependency (scopes) or an explicit Public mark, "
        "and refuse to start when one has neither"
    )
    if open_routes:
        return verdict(
            name,
            False,
            f"{len(declared)}/{len(business)} business routes require authentication or are "
            f"marked public; open: {listing([r.evidence() for r in open_routes])}",
            [route.evidence("no authentication") for route in open_routes],
            fix=fix,
        )
    if unknown:
        _, access = unknown[0]
        return undetermined(
            name,
            f"could not tell whether {len(unknown)} of {len(business)} business routes require "
            f"authentication: {access.reason}",
            [r.evidence(a.reason) for r, a in unknown],
        )
    return verdict(
        name,
        True,
        f"{len(declared)}/{len(business)} business routes require authentication or are "
        "marked public",
        [a.where or r.evidence() for r, a in declared],
        fix=fix,
    )


# --- SEC-4 ---------------------------------------------------------------------------------
@check("SEC-4")
def rate_limiting(facts: Facts) -> Assessment:
    limiter = rate_limiter(facts)
    limiter_paths = {evidence.path for evidence in limiter}
    limiter_modules = [module for module in facts.code.modules if module.path in limiter_paths]
    requirements = [
        found(
            "rate limiter",
            limiter,
            met="requests are rate limited",
            missing="no rate limiting",
            fix="limit requests per client IP before authentication and per caller after it "
            "(the `limits` library with Redis storage)",
        )
    ]
    if not limiter:
        return requirements

    def in_limiters(pattern: str) -> list[Evidence]:
        return facts.code.find_tokens(pattern, modules=limiter_modules, limit=5)

    requirements.append(_shared_store(facts, limiter_modules))
    per_ip = in_limiters(r"(^ip$|client_?ip|remote_?addr|client_host|get_remote_address|per_ip)")
    # A key or name, not prose or a URL: an app description's "accounts", "githubusercontent".
    per_caller = in_limiters(
        r"^[^\s/]*(principal|user|api_?key|subject|identity|account|tenant|caller)[^\s/]*$"
    )
    requirements.append(
        verdict(
            "per IP and per caller",
            bool(per_ip and per_caller),
            "limits per client IP and per authenticated caller"
            if per_ip and per_caller
            else "only one layer: "
            + ("per IP" if per_ip else "per caller" if per_caller else "unkeyed"),
            per_ip[:2] + per_caller[:2] or [Evidence(m.path) for m in limiter_modules],
            fix="add the missing layer: per IP before authentication, per user/API key after it",
        )
    )
    retry_after = in_limiters(r"^retry-after$") + [
        module.evidence(call, "headers_enabled=True")
        for module, call, _ in library_calls(facts, LIMITER_MODULES)
        if literal(keyword(call, "headers_enabled")) is True
    ]
    # fastapi-limiter's default callback, and asgi-ratelimit's default `on_blocked`, answer
    # 429 with Retry-After.
    retry_after += [
        module.evidence(call, symbol.name)
        for module, call, symbol in library_calls(facts, ("fastapi_limiter", "ratelimit"))
        if symbol.name.startswith("fastapi_limiter")
        or (symbol.last == "RateLimitMiddleware" and keyword(call, "on_blocked") is None)
    ][:1]
    requirements.append(
        found(
            "429 with Retry-After",
            retry_after,
            met="rejected requests are told when to retry",
            missing="rejections carry no Retry-After header",
            fix="answer 429 with Retry-After and RateLimit-* headers",
            where=[Evidence(m.path) for m in limiter_modules],
        )
    )
    trusted = facts.code.find_tokens(
        r"(trusted_?prox|forwarded_allow_ips|ProxyFix|ProxyHeadersMiddleware|NUM_PROXIES|"
        r"trusted_hosts)",
        kinds=("name", "string"),
    )
    everyone = proxies_trusting_everyone(facts)
    if trusted and everyone:
        requirements.append(
            verdict(
                "client IP from trusted proxies",
                False,
                "every proxy is trusted ('*'): any client can forge X-Forwarded-For and "
                "choose the address it is limited by",
                everyone[:3],
                fix="list the load balancer's networks instead of '*'",
            )
        )
        return requirements
    requirements.append(
        found(
            "client IP from trusted proxies",
            trusted,
            met="forwarded client addresses are believed only from trusted proxies",
            missing="no trusted-proxy configuration: behind a load balancer every client "
            "shares its "
            "address, or any client can forge X-Forwarded-For",
            fix="read X-Forwarded-For only from a configured list of proxy networks",
        )
    )
    return requirements


SHARED_BACKENDS = frozenset(
    {"RedisStorage", "RedisClusterStorage", "RedisSentinelStorage", "MemcachedStorage",
     "MongoDBStorage", "RedisBackend", "RedisBucket"}
)  # fmt: skip


def _shared_store(facts: Facts, modules: list[PythonModule]) -> Requirement:
    """Where the limiter keeps its counters: a configured storage, a Redis backend, or Redis
    (or a database model) used by the project's own limiter."""
    name = "shared store"
    shared: list[Evidence] = []
    unknown: list[Evidence] = []
    for module, call, symbol in library_calls(facts, LIMITER_MODULES):
        if symbol.last in SHARED_BACKENDS:
            shared.append(module.evidence(call, symbol.last))
        uri = keyword(call, "storage_uri")
        if uri is not None:
            value = facts.symbols.value(module, uri)
            if isinstance(value, str) and not value.startswith("memory"):
                shared.append(module.evidence(call, f"storage_uri={value.split(':')[0]}://..."))
            elif value is UNKNOWN:
                unknown.append(module.evidence(call, f"storage_uri={ast.unparse(uri)[:40]}"))
        if symbol.name.startswith("fastapi_limiter") and symbol.last == "init":
            shared.append(module.evidence(call, "FastAPILimiter on Redis"))
    shared += [
        Evidence(module.path, None, "counts in Redis")
        for module in modules
        if "redis" in {name.split(".")[0] for name in module.imported_modules}
    ]
    shared += [
        module.evidence(bucket, f"{bucket.name}: rows of a database table")
        for module in modules
        for bucket in token_buckets(module)
        if stored_in_a_database(bucket)
    ]
    if not shared and unknown:
        return undetermined(
            name, "the limiter's storage comes from configuration the audit cannot read", unknown
        )
    return found(
        name,
        shared,
        met="counters live in a store every replica shares",
        missing="counters live in process memory: each replica counts on its own",
        fix="keep the counters in Redis (storage_uri='redis://...')",
        where=[Evidence(m.path) for m in modules],
    )


# --- SEC-5 ---------------------------------------------------------------------------------
HEADERS = {
    "HSTS": r"^strict-transport-security$",
    "nosniff": r"^(x-content-type-options|nosniff)$",
    "CSP": r"^content-security-policy$",
    "frame protection": r"(^x-frame-options$|frame-ancestors)",
    "referrer policy": r"^referrer-policy$",
}


@check("SEC-5")
def headers_and_cors(facts: Facts) -> Assessment:
    seen: dict[str, list[Evidence]] = {
        label: facts.code.find_tokens(pattern, kinds=("string",), limit=2)
        for label, pattern in HEADERS.items()
    }
    library = facts.uses(
        "secure", "flask-talisman", "django-csp", modules=("secure", "flask_talisman")
    )
    if library:
        seen = {label: hits or library for label, hits in seen.items()}
    security_middleware = _django_middleware(facts, "SecurityMiddleware")
    if security_middleware:
        seen["nosniff"] = seen["nosniff"] or security_middleware
        seen["referrer policy"] = seen["referrer policy"] or security_middleware
        hsts = facts.django_settings.get("SECURE_HSTS_SECONDS")
        if hsts and hsts[2]:
            seen["HSTS"] = seen["HSTS"] or [Evidence(hsts[0], hsts[1], "SECURE_HSTS_SECONDS")]
    seen["frame protection"] += _django_middleware(facts, "XFrameOptionsMiddleware")
    absent = [label for label, hits in seen.items() if not hits]
    present = [hit for hits in seen.values() for hit in hits[:1]]
    requirements = [
        verdict(
            "security headers",
            not absent,
            "HSTS, CSP, nosniff, frame protection and referrer policy are set"
            if not absent
            else f"missing: {', '.join(absent)}",
            present,
            fix="send the helmet-equivalent headers on every response (a pure ASGI middleware)",
        )
    ]
    cors = [module.evidence(node, "CORSMiddleware") for module, node in _cors_uses(facts)]
    wildcard = [
        module.evidence(call, _any_origin(origins, keyword(call, name)))
        for module, call in facts.code.calls_named("add_middleware", "CORS", "CORSMiddleware")
        for name in ("allow_origins", "origins", "allow_origin_regex")
        # A setting's default counts: `allow_origins=config.allow_origins` declared `["*"]`.
        if (origins := facts.symbols.value(module, keyword(call, name))) in ("*", ".*")
        or (isinstance(origins, list | tuple) and "*" in origins)
        or (last_name(call.func) == "CORS" and not call.keywords)
    ]
    cors += facts.uses("flask-cors", "django-cors-headers")
    allowed = facts.django_setting("CORS_ALLOWED_ORIGINS") or facts.django_setting(
        "CORS_ORIGIN_WHITELIST"
    )
    if allowed:
        cors.append(allowed)
    allow_all = facts.django_setting("CORS_ALLOW_ALL_ORIGINS") or facts.django_setting(
        "CORS_ORIGIN_ALLOW_ALL"
    )
    if allow_all and "True" in allow_all.detail:
        wildcard.append(allow_all)
    requirements.append(
        verdict(
            "CORS with explicit origins",
            bool(cors) and not wildcard,
            "CORS allows only listed origins"
            if cors and not wildcard
            else "CORS allows any origin"
            if wildcard
            else "no CORS policy configured",
            wildcard or cors,
            fix="configure CORS with an explicit list of origins from a setting (never '*')",
        )
    )
    return requirements


def _any_origin(origins: object, argument: ast.expr | None) -> str:
    if argument is None or literal(argument) == origins:
        return "allows any origin"
    return f"allows any origin: {dotted(argument)} defaults to {origins!r}"


def _cors_uses(facts: Facts) -> list[tuple[PythonModule, ast.Name]]:
    return [
        (module, node)
        for module in facts.code.modules
        for node in module.nodes
        if isinstance(node, ast.Name) and node.id == "CORSMiddleware"
    ][:3]
