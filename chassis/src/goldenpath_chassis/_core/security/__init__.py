"""Security concerns (SEC-1 to SEC-5, CFG-2), one module each; `install` wires them into the app.

Nothing here imports a domain package: domains plug in through the protocols defined here (for
example `api_keys.ApiKeyStore`).
"""
