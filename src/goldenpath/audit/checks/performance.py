"""PERF-1..3: cache-aside caching, query performance monitoring, CDN-ready static assets."""

from __future__ import annotations

import ast
import re

from goldenpath.audit.facts import Facts
from goldenpath.audit.facts.python import PythonModule, last_name
from goldenpath.audit.model import Evidence

from ._base import Assessment, NotApplicable, check, found
from ._signals import cache_layer


def _cache_modules(facts: Facts) -> list[PythonModule]:
    return [
        module
        for module in facts.code.modules
        if re.search(r"cach(e|ing)", module.path, re.IGNORECASE)
        or module.imported_modules
        & {"cachetools", "aiocache", "cashews", "flask_caching", "dogpile"}
    ]


@check("PERF-1")
def caching(facts: Facts) -> Assessment:
    layer = cache_layer(facts)
    requirements = [
        found(
            "cache layer",
            layer,
            met="reads go through a cache",
            missing="no cache layer",
            fix="add cache-aside reads through Redis, with a bounded in-memory fallback for "
            "development",
        )
    ]
    if not layer:
        return requirements
    modules = _cache_modules(facts)
    where = [Evidence(module.path) for module in modules[:3]]

    def tokens(pattern: str) -> list[Evidence]:
        return facts.code.find_tokens(pattern, modules=modules, limit=3)

    ttl = tokens(r"(ttl|expire|timeout)")
    jitter = tokens(r"(jitter|uniform)")
    requirements += [
        found(
            "jittered TTLs",
            ttl[:1] + jitter[:1] if ttl and jitter else [],
            met="entries expire after an explicit TTL spread by jitter",
            missing="TTLs are missing or not jittered: entries written together expire together",
            fix="give every entry an explicit TTL spread by a random jitter",
            where=where,
        ),
        found(
            "invalidation on writes",
            facts.code.find_tokens(
                # Case counts: `JoinValidate` holds "invalidate", `InvalidAttribute` "Invalidat".
                re.compile(
                    r"(^|_)(invalidat(e|ion|ing)|evict|bust)|Invalidat(e|ion|ing)|Evict|"
                    r"delete_memoized|delete_many"
                ),
                kinds=("name",),
                limit=3,
            ),
            met="write paths invalidate what they change",
            missing="nothing invalidates cached entries when the data changes",
            fix="invalidate the entry after every committed write",
            where=where,
        ),
        found(
            "stampede protection",
            tokens(r"(single_?flight|stampede|in_?flight|^lock$|early_ttl|dogpile)")
            + facts.uses("dogpile-cache"),
            met="concurrent misses of one key share a single load",
            missing="no stampede protection: a popular key's expiry sends every request to "
            "the source",
            fix="coalesce concurrent misses (single flight) or lock per key",
            where=where,
        ),
        found(
            "bounded in-memory fallback",
            tokens(r"(lru|max_?entries|maxsize|max_size|OrderedDict|TTLCache|LRUCache)"),
            met="the in-process cache is bounded",
            missing="no bounded in-memory cache for development (or an unbounded one)",
            fix="fall back to a bounded LRU (cachetools.TTLCache) when Redis is not configured",
            where=where,
        ),
    ]
    return requirements


@check("PERF-2")
def query_monitoring(facts: Facts) -> Assessment:
    if not facts.has_database:
        return NotApplicable("no database client among the dependencies or imports")
    return [
        found(
            "slow-query log",
            facts.code.find_tokens(r"(slow_?query|slow_?statement|log_min_duration|slow_?sql)"),
            met="statements over a threshold are logged",
            missing="slow statements are not logged",
            fix="time every statement (SQLAlchemy cursor events) and log those over a setting",
        ),
        found(
            "query duration metrics",
            list(
                facts.code.find_tokens(
                    r"(db_client_operation_duration|query_duration|sql_duration|db_\w*duration|"
                    r"database\w*duration|statement_duration)",
                    kinds=("string",),
                )
            ),
            met="query durations are a metric",
            missing="no query duration metric",
            fix="record db_client_operation_duration_seconds for every statement",
        ),
        found(
            "N+1 guard in tests",
            facts.code.find_tokens(
                r"^(assertNumQueries|django_assert_num_queries|django_assert_max_num_queries|"
                r"assert_max_queries|count_queries|QueryCounter|query_count|nplusone|"
                r"before_cursor_execute)$",
                tests=True,
            )
            + facts.uses("nplusone", runtime_only=False),
            met="tests fail when a request runs more queries than it should",
            missing="no test counts queries: N+1 queries creep in unseen",
            fix="count the statements a request runs in tests and fail above a bound",
        ),
    ]


BUNDLER_CONFIG = re.compile(r"(^|/)(webpack|vite)\.config(\.[\w-]+)?\.[cm]?[jt]s$")
HASHED_NAME = re.compile(r"\[(contenthash|chunkhash|fullhash|hash)(:\d+)?\]")
# The file a bundler writes to map each entry to its hashed name, named in the code that looks
# names up in it (redash's asset-manifest.json, from webpack-manifest-plugin).
BUNDLER_MANIFEST = (
    r"(asset-manifest\.json|\.vite/manifest\.json|webpack-manifest|webpack-stats\.json)"
)


def _bundler_fingerprints(facts: Facts) -> list[Evidence]:
    """A webpack or Vite config that names its output by content hash (`[name].[chunkhash].js`),
    or the service reading the bundler's manifest of hashed names."""
    found: list[Evidence] = []
    for path in facts.repository.files:
        if not BUNDLER_CONFIG.search(path) or facts.repository.is_test_path(path):
            continue
        text = facts.repository.text(path) or ""
        hashed = HASHED_NAME.search(text)
        if hashed:
            line = facts.repository.line_of(text, hashed.group(0))
            found.append(Evidence(path, line, f"output named {hashed.group(0)}"))
    return found + facts.code.find_tokens(BUNDLER_MANIFEST, kinds=("string",), limit=3)


@check("PERF-3")
def static_assets(facts: Facts) -> Assessment:
    serving = [route.evidence() for route in facts.routes.with_path(r"^/(static|assets)")]
    serving += facts.code.find_tokens(
        r"^(StaticFiles|static_folder|STATIC_URL|WhiteNoise|"
        r"send_from_directory)$",
        kinds=("name",),
        limit=3,
    )
    # Flask's own arguments passed as a dict (redash's Flask subclass updates its kwargs with
    # {"static_folder": ..., "static_url_path": "/static"}, the built front end).
    serving += facts.code.find_tokens(
        r"^(static_folder|static_url_path)$", kinds=("string",), limit=3
    )
    static_url = facts.django_setting("STATIC_URL")
    if static_url is not None:
        serving.append(static_url)
    serving += [
        Evidence(path, None, "static asset")
        for path in facts.repository.files
        if re.search(r"(^|/)static/[^/]+\.(css|js|svg|png|ico|jpg|woff2?)$", path)
        and not facts.repository.is_test_path(path)
    ][:1]
    if not serving:
        return NotApplicable("the service serves no static files")
    static_modules = [
        module
        for module in facts.code.modules
        # `assets/` as a folder is as often a domain (the hosts an inventory manages) as files.
        if re.search(r"static|(^|/)assets\.py$", module.path, re.IGNORECASE)
        or any(
            t.value in {"StaticFiles", "STATIC_URL", "STATICFILES_STORAGE", "STORAGES"}
            for t in module.tokens
        )
    ]
    whitenoise = facts.uses("whitenoise")
    # A bare hash counts only in a module about static files: one that merely links to
    # STATIC_URL may hash a password or a token.
    fingerprints = (
        facts.code.find_tokens(
            r"(Manifest\w*Storage|fingerprint|content_?hash)", modules=static_modules, limit=3
        )
        + facts.code.find_tokens(
            r"(hashed|sha256|md5|blake2|hashlib)",
            modules=[m for m in static_modules if re.search(r"static", m.path, re.IGNORECASE)],
            limit=3,
        )
        + whitenoise
        + _bundler_fingerprints(facts)
    )
    immutable = facts.code.find_tokens(
        r"immutable", kinds=("string",), modules=static_modules, limit=3
    )
    immutable += whitenoise
    # A setting named for it, or the `CDN_` prefix of a settings group that holds one: a whole
    # word, for a third party's CDN in a page's text (`<script src="https://cdn.jsdelivr...`)
    # is where someone else's assets come from, not a setting for this service's.
    # A function is no setting: jumpserver's `get_asset_urls()` links the hosts it manages.
    cdn = [
        evidence
        for evidence in facts.code.find_tokens(r"^\w*(cdn|asset_?url|static_?host)\w*$")
        if evidence.detail not in _function_names(facts, evidence.path)
    ][:3]
    return [
        found(
            "fingerprinted file names",
            fingerprints,
            met="asset names carry a hash of their content",
            missing="assets keep their plain names: a new release cannot be cached safely",
            fix="serve assets under content-hashed names (ManifestStaticFilesStorage, or hash at "
            "start-up)",
            where=serving,
        ),
        found(
            "immutable cache headers",
            immutable,
            met="hashed assets are cached for a year, immutable",
            missing="no long-lived immutable Cache-Control on assets",
            fix="send Cache-Control: public, max-age=31536000, immutable for hashed assets",
            where=serving,
        ),
        found(
            "CDN base URL setting",
            cdn,
            met="asset URLs can point at a CDN",
            missing="no setting to serve assets from a CDN",
            fix="add a CDN_BASE_URL setting that asset URLs start with",
            where=serving,
        ),
    ]


def _function_names(facts: Facts, path: str) -> frozenset[str]:
    """The names the module at `path` defines as functions or calls."""
    module = next((m for m in facts.code.modules if m.path == path), None)
    if module is None:
        return frozenset()
    defined = {
        node.name
        for node in module.nodes
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef)
    }
    return frozenset(defined | {last_name(call.func) or "" for call in module.calls()})
