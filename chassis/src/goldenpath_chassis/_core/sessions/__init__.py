"""Browser sessions (SEC-2): a backend-for-frontend exchanges a bearer token for an HttpOnly
session cookie plus a CSRF token, so browser code never stores the token. The verification
itself lives in `core.security`.
"""
