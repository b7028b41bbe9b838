"""SEC-3: verified API keys are remembered briefly, so revocation shows within that time."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from goldenpath_chassis._core.security.api_keys import (
    ApiKeyRecord,
    ApiKeyRejectedError,
    ApiKeyVerifier,
    generate_api_key,
)

pytestmark = pytest.mark.unit


class CountingStore:
    def __init__(self, record: ApiKeyRecord) -> None:
        self.record = record
        self.lookups = 0

    async def find(self, key_id: str) -> ApiKeyRecord | None:
        self.lookups += 1
        return self.record if key_id == self.record.key_id else None


async def test_sec3_revocation_takes_effect_when_the_cache_entry_ages_out() -> None:
    new = generate_api_key()
    now = datetime.now(UTC)
    store = CountingStore(
        ApiKeyRecord(
            key_id=new.key_id,
            name="svc",
            secret_hash=new.secret_hash,
            scopes=frozenset({"widgets:read"}),
            created_at=now,
            expires_at=now + timedelta(days=1),
        )
    )
    clock = [0.0]
    verifier = ApiKeyVerifier(store, cache_seconds=5, clock=lambda: clock[0])

    assert (await verifier.verify(new.plaintext)).key_id == new.key_id
    await verifier.verify(new.plaintext)
    assert store.lookups == 1  # the second use came from the cache

    store.record = replace(store.record, revoked_at=now)
    clock[0] = 4.9
    await verifier.verify(new.plaintext)  # still trusted inside the cache window
    clock[0] = 5.1
    with pytest.raises(ApiKeyRejectedError, match="revoked"):
        await verifier.verify(new.plaintext)
    assert store.lookups == 2
