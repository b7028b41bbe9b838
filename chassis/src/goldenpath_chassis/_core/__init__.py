"""Cross-cutting concerns, one module each. Nothing here imports a domain package."""
