"""The example domain: items. Every domain package has the same files:

router (HTTP) -> service (rules, owns the transaction) -> repository (queries only),
with schemas (API models), exceptions (domain errors) and dependencies (wiring).
"""
