"""Test helpers for a chassis service's own suite, and for the chassis's.

`goldenpath_chassis.testing.fixtures` is a pytest plugin: a suite that lists it in
`pytest_plugins` and defines a session fixture `service` (its `Service`) gets real PostgreSQL
and Redis servers from the local binaries (or `TEST_DATABASE_URL`/`TEST_REDIS_URL`), a migrated
database per session, settings that accept the session's test tokens, the app with its lifespan
running, and clients with and without credentials. The modules beside it hold the parts:
`servers`, `databases`, `auth`, `asgi`, `processes`, `live`, `otlp`, `openapi_diff`,
`loopback_http`, `jobs` (run the queued jobs as the worker would) and `races` (hold one
request at a statement while another overtakes it).
"""
