"""The development key as a key source, read (or made) when a token first needs it.

The API opens its key source at start-up; the worker's listener opens one too, for `/metrics`,
but its jobs must not depend on it. A worker in a container whose root is read-only (compose's,
in development) cannot write `var/dev-keys/`: read at start-up, that stopped the worker before
it claimed a job. Read on first use, only a token sent to the worker finds the key missing.
"""

from __future__ import annotations

from pathlib import Path

import jwt

from ..logging import get_logger
from .dev_keys import DEVELOPMENT_ALGORITHM, DEVELOPMENT_KEY_DIR, load_or_create_development_key
from .jwt import KeySetUnavailableError, StaticKeySource

_log = get_logger(__name__)


class DevelopmentKeySourceOnFirstUse:
    """`StaticKeySource` of the development key, loaded by the first `resolve`."""

    def __init__(self, directory: Path = DEVELOPMENT_KEY_DIR) -> None:
        self._directory = directory
        self._keys: StaticKeySource | None = None

    async def resolve(self, kid: str | None, algorithm: str) -> jwt.PyJWK:
        if self._keys is None:
            try:
                key = load_or_create_development_key(self._directory)
            except OSError as error:
                _log.error(
                    "development_signing_key_unavailable",
                    directory=str(self._directory),
                    error=type(error).__name__,
                )
                raise KeySetUnavailableError from None
            _log.warning("development_signing_key", directory=str(self._directory))
            self._keys = StaticKeySource(key.public_pem, algorithms=(DEVELOPMENT_ALGORITHM,))
        return await self._keys.resolve(kid, algorithm)
