"""TEST-3: the breaking-change detector finds each kind of break, and nothing else."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from goldenpath_chassis.testing.openapi_diff import breaking_changes

pytestmark = pytest.mark.unit

BASE: dict[str, Any] = {
    "openapi": "3.1.0",
    "info": {"title": "t", "version": "1.0.0"},
    "paths": {
        "/v1/things": {
            "post": {
                "requestBody": {
                    "required": True,
                    "content": {
                        "application/json": {"schema": {"$ref": "#/components/schemas/ThingCreate"}}
                    },
                },
                "responses": {
                    "201": {
                        "content": {
                            "application/json": {
                                "schema": {"$ref": "#/components/schemas/ThingRead"}
                            }
                        }
                    }
                },
            },
            "get": {
                "parameters": [
                    {
                        "in": "query",
                        "name": "limit",
                        "required": False,
                        "schema": {"type": "integer", "maximum": 100},
                    }
                ],
                "responses": {
                    "200": {
                        "content": {
                            "application/json": {
                                "schema": {
                                    "type": "array",
                                    "items": {"$ref": "#/components/schemas/ThingRead"},
                                }
                            }
                        }
                    }
                },
            },
        }
    },
    "components": {
        "schemas": {
            "ThingCreate": {
                "type": "object",
                "required": ["name"],
                "properties": {
                    "name": {"type": "string", "maxLength": 100},
                    "kind": {"type": "string", "enum": ["a", "b"]},
                    "size": {"type": "integer"},
                },
            },
            "ThingRead": {
                "type": "object",
                "properties": {"id": {"type": "string"}, "name": {"type": "string"}},
            },
        }
    },
}


def changed(edit: Any) -> list[str]:
    new = copy.deepcopy(BASE)
    edit(new)
    return breaking_changes(BASE, new)


def test_test3_identical_documents_have_no_breaking_change() -> None:
    assert breaking_changes(BASE, copy.deepcopy(BASE)) == []


def test_test3_additions_are_not_breaking() -> None:
    def add(doc: dict[str, Any]) -> None:
        doc["paths"]["/v1/others"] = {"get": {"responses": {}}}
        doc["components"]["schemas"]["ThingRead"]["properties"]["colour"] = {"type": "string"}
        doc["components"]["schemas"]["ThingCreate"]["properties"]["colour"] = {"type": "string"}
        doc["components"]["schemas"]["ThingCreate"]["properties"]["name"]["maxLength"] = 200

    assert changed(add) == []


@pytest.mark.parametrize(
    ("edit", "expected"),
    [
        (lambda d: d["paths"].pop("/v1/things"), "path removed"),
        (lambda d: d["paths"]["/v1/things"].pop("get"), "operation removed"),
        (
            lambda d: d["components"]["schemas"]["ThingRead"]["properties"].pop("name"),
            "removed from the response",
        ),
        (
            lambda d: d["components"]["schemas"]["ThingCreate"]["required"].append("size"),
            "newly required",
        ),
        (
            lambda d: d["components"]["schemas"]["ThingCreate"]["properties"]["size"].update(
                type="string"
            ),
            "type narrowed",
        ),
        (
            lambda d: d["components"]["schemas"]["ThingCreate"]["properties"]["kind"].update(
                enum=["a"]
            ),
            "enum values removed",
        ),
        (
            lambda d: d["components"]["schemas"]["ThingCreate"]["properties"]["name"].update(
                maxLength=50
            ),
            "maxLength lowered",
        ),
        (
            lambda d: d["paths"]["/v1/things"]["get"]["parameters"][0].update(required=True),
            "newly required",
        ),
        (
            lambda d: d["paths"]["/v1/things"]["get"]["parameters"][0]["schema"].update(maximum=10),
            "maximum lowered",
        ),
    ],
)
def test_test3_each_kind_of_break_is_found(edit: Any, expected: str) -> None:
    problems = changed(edit)
    assert any(expected in problem for problem in problems), problems
