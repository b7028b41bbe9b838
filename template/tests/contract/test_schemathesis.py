"""TEST-3: property-based tests of every operation in the OpenAPI document, all checks on.

Schemathesis generates valid and invalid requests from the contract and checks each response:
no server error, status code documented, content type and headers as documented, body valid
against the documented schema, valid data accepted and invalid data rejected. The stateful
run follows the document's links (create an item, then read, change and delete it).
"""

from __future__ import annotations

from typing import Any

import pytest
import schemathesis
from fastapi import FastAPI
from goldenpath_chassis import Service
from goldenpath_chassis.testing.databases import empty_database
from hypothesis import HealthCheck, settings
from schemathesis.checks import CHECKS, load_all_checks

from tests.contract.conftest import CONTRACT, STATS

pytestmark = [pytest.mark.contract, pytest.mark.database]

schema = schemathesis.openapi.from_path(CONTRACT)
load_all_checks()
ALL_CHECKS: list[Any] = CHECKS.get_all()
_SEEN_OPERATIONS: set[str] = set()


# Cases per operation, valid and invalid: a few seconds for the whole document, so the contract
# runs in every `uv run pytest`. The cases differ from run to run (a failure is kept in
# .hypothesis/ and replayed first), so the runs of every branch and CI add up to far more.
EXAMPLES_PER_OPERATION = 15


@schema.parametrize()
@settings(
    max_examples=EXAMPLES_PER_OPERATION,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
def test_test3_every_operation_honours_its_contract(
    case: Any, contract_app: FastAPI, contract_headers: dict[str, str]
) -> None:
    # Explicit credentials: the `ignored_auth` check also replays each case without them and
    # with invalid ones, and expects a refusal (SEC-3); its replays go to the same app.
    case.operation.schema.app = contract_app
    STATS.cases += 1
    if case.operation.label not in _SEEN_OPERATIONS:
        _SEEN_OPERATIONS.add(case.operation.label)
        STATS.operations += 1
    case.call_and_validate(app=contract_app, headers=contract_headers, checks=ALL_CHECKS)


def test_test3_stateful_item_lifecycle_follows_links(
    contract_app: FastAPI, contract_headers: dict[str, str], service: Service, database_url: str
) -> None:
    stateful = schemathesis.openapi.from_path(CONTRACT)
    stateful.app = contract_app

    class ItemLifecycle(stateful.as_state_machine()):  # type: ignore[misc]
        def get_call_kwargs(self, case: Any) -> dict[str, Any]:
            # The same explicit credentials as above, so `ignored_auth` can test without them.
            return {"headers": contract_headers}

        def teardown(self) -> None:
            # Every sequence starts from empty tables, so Hypothesis can replay it exactly.
            super().teardown()
            empty_database(service, database_url)

    ItemLifecycle.run(
        settings=settings(
            max_examples=10,
            stateful_step_count=6,
            deadline=None,
            database=None,
            suppress_health_check=list(HealthCheck),
        )
    )
