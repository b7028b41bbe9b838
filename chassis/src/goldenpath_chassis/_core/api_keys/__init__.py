"""API keys for service-to-service callers: created and revoked with the management command
(`python -m <package> api-keys ...`), verified by `core.security.api_keys` on every request.
"""
