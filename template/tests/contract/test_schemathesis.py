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
from hypothesis import HealthCheck, settings
from schemathesis.checks import CHECKS, load_all_checks

from tests.contract.conftest import CONTRACT, STATS

pytestmark = [pytest.mark.contract, pytest.mark.database]

schema = schemathesis.openapi.from_path(CONTRACT)
load_all_checks()
ALL_CHECKS: list[Any] = CHECKS.get_all()
_SEEN_OPERATIONS: set[str] = set()


@schema.parametrize()
@settings(
    max_examples=30,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
def test_test3_every_operation_honours_its_contract(case: Any, contract_app: FastAPI) -> None:
    STATS.cases += 1
    if case.operation.label not in _SEEN_OPERATIONS:
        _SEEN_OPERATIONS.add(case.operation.label)
        STATS.operations += 1
    case.call_and_validate(app=contract_app, checks=ALL_CHECKS)


def test_test3_stateful_item_lifecycle_follows_links(contract_app: FastAPI) -> None:
    stateful = schemathesis.openapi.from_path(CONTRACT)
    stateful.app = contract_app
    machine = stateful.as_state_machine()
    machine.run(
        settings=settings(
            max_examples=15,
            stateful_step_count=6,
            deadline=None,
            suppress_health_check=list(HealthCheck),
        )
    )
