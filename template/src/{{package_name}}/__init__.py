"""The service package: `app.create_app` builds the ASGI app, `python -m` on it serves it.

Importing it loads nothing: `python -m` runs this before `__main__`, whose first statement makes
SIGTERM stop the process (INF-3). `__version__` is read from the installed metadata on first use.
"""


def __getattr__(name: str) -> str:
    if name != "__version__":
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    from importlib.metadata import PackageNotFoundError, version  # noqa: PLC0415

    try:
        found = version(__name__)
    except PackageNotFoundError:  # running from a source tree that was never installed
        found = "0.0.0"
    globals()["__version__"] = found  # once: the next lookup finds it without this function
    return found
