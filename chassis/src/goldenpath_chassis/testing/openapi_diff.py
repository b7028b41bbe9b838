"""Find the changes between two OpenAPI documents that would break an existing client (TEST-3).

Breaking, for a client built against `old`:
- a path or an operation is gone;
- a response field the client reads is gone;
- a request field or parameter it never sent is now required;
- a type it sends or reads is narrower: another type, fewer enum values, a lower maximum or
  higher minimum, a shorter maxLength or longer minLength, fewer allowed items.
Additions (paths, operations, optional fields, response fields) are not breaking.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

Schema = dict[str, Any]
Document = dict[str, Any]

METHODS = ("get", "put", "post", "delete", "patch", "head", "options", "trace")
# For each bound: whether a higher value allows more (maximum) or less (minimum).
_UPPER_BOUNDS = ("maximum", "exclusiveMaximum", "maxLength", "maxItems", "maxProperties")
_LOWER_BOUNDS = ("minimum", "exclusiveMinimum", "minLength", "minItems", "minProperties")


def _resolve(document: Document, schema: Schema | None, depth: int = 0) -> Schema:
    """Follow `$ref`s and fold `allOf`/nullable `anyOf` so schemas compare structurally."""
    if not schema or depth > 20:
        return schema or {}
    if "$ref" in schema:
        name = schema["$ref"].rsplit("/", 1)[-1]
        target = document.get("components", {}).get("schemas", {}).get(name, {})
        return _resolve(
            document, {**target, **{k: v for k, v in schema.items() if k != "$ref"}}, depth + 1
        )
    if "allOf" in schema and len(schema["allOf"]) == 1:
        rest = {k: v for k, v in schema.items() if k != "allOf"}
        return _resolve(document, {**schema["allOf"][0], **rest}, depth + 1)
    return schema


def _types(document: Document, schema: Schema) -> set[str]:
    schema = _resolve(document, schema)
    if "anyOf" in schema or "oneOf" in schema:
        variants = schema.get("anyOf", []) + schema.get("oneOf", [])
        return set().union(*(_types(document, variant) for variant in variants))
    kind = schema.get("type")
    if isinstance(kind, list):
        return set(kind)
    return {kind} if kind else {"any"}


def _narrowed(
    document_old: Document, old: Schema, document_new: Document, new: Schema, where: str
) -> Iterator[str]:
    old, new = _resolve(document_old, old), _resolve(document_new, new)
    old_types, new_types = _types(document_old, old), _types(document_new, new)
    if "any" not in new_types and not old_types <= new_types:
        yield f"{where}: type narrowed from {sorted(old_types)} to {sorted(new_types)}"
    if "enum" in new:
        old_values: list[Any] = old.get("enum") or new["enum"]
        removed = sorted(set(map(str, old_values)) - set(map(str, new["enum"])))
        if removed:
            yield f"{where}: enum values removed {removed}"
    for bound in _UPPER_BOUNDS:
        if bound in new and (bound not in old or new[bound] < old[bound]):
            yield f"{where}: {bound} lowered from {old.get(bound, 'unbounded')} to {new[bound]}"
    for bound in _LOWER_BOUNDS:
        if bound in new and (bound not in old or new[bound] > old[bound]):
            yield f"{where}: {bound} raised from {old.get(bound, 'unbounded')} to {new[bound]}"
    if old.get("format") != new.get("format") and new.get("format"):
        yield f"{where}: format changed from {old.get('format')} to {new['format']}"


def _request_changes(
    old_doc: Document, old: Schema, new_doc: Document, new: Schema, where: str
) -> Iterator[str]:
    """Request bodies: new required fields, and narrower types for fields clients send."""
    old, new = _resolve(old_doc, old), _resolve(new_doc, new)
    yield from _narrowed(old_doc, old, new_doc, new, where)
    old_props, new_props = old.get("properties", {}), new.get("properties", {})
    for name in sorted(set(new.get("required", [])) - set(old.get("required", []))):
        yield f"{where}.{name}: newly required"
    for name in sorted(set(old_props) & set(new_props)):
        yield from _request_changes(
            old_doc, old_props[name], new_doc, new_props[name], f"{where}.{name}"
        )


def _response_changes(
    old_doc: Document, old: Schema, new_doc: Document, new: Schema, where: str
) -> Iterator[str]:
    """Response bodies: fields clients read must stay, with the same (or a narrower) type."""
    old, new = _resolve(old_doc, old), _resolve(new_doc, new)
    old_types, new_types = _types(old_doc, old), _types(new_doc, new)
    if "any" not in old_types and not new_types <= old_types:
        yield f"{where}: type widened from {sorted(old_types)} to {sorted(new_types)}"
    old_props, new_props = old.get("properties", {}), new.get("properties", {})
    for name in sorted(set(old_props) - set(new_props)):
        yield f"{where}.{name}: removed from the response"
    for name in sorted(set(old_props) & set(new_props)):
        yield from _response_changes(
            old_doc, old_props[name], new_doc, new_props[name], f"{where}.{name}"
        )
    if "items" in old and "items" in new:
        yield from _response_changes(old_doc, old["items"], new_doc, new["items"], f"{where}[]")


def _json_schema(operation_part: Schema | None) -> Schema | None:
    content = (operation_part or {}).get("content", {})
    for media_type in ("application/json", "application/problem+json"):
        if media_type in content:
            schema: Schema | None = content[media_type].get("schema")
            return schema
    return None


def _parameter_changes(
    old_doc: Document, old_op: Schema, new_doc: Document, new_op: Schema, where: str
) -> Iterator[str]:
    def index(op: Schema) -> dict[tuple[str, str], Schema]:
        return {(p["in"], p["name"]): p for p in op.get("parameters", [])}

    old_params, new_params = index(old_op), index(new_op)
    for key, parameter in sorted(new_params.items()):
        if parameter.get("required") and not old_params.get(key, {}).get("required"):
            yield f"{where} parameter {key[1]!r} ({key[0]}): newly required"
    for key in sorted(set(old_params) & set(new_params)):
        yield from _narrowed(
            old_doc, old_params[key].get("schema", {}), new_doc, new_params[key].get("schema", {}),
            f"{where} parameter {key[1]!r}",
        )  # fmt: skip


def breaking_changes(old: Document, new: Document) -> list[str]:
    """Every change from `old` to `new` that an existing client could trip over."""
    problems: list[str] = []
    new_paths = new.get("paths", {})
    for path, old_item in sorted(old.get("paths", {}).items()):
        if path not in new_paths:
            problems.append(f"{path}: path removed")
            continue
        for method in METHODS:
            if method not in old_item:
                continue
            where = f"{method.upper()} {path}"
            if method not in new_paths[path]:
                problems.append(f"{where}: operation removed")
                continue
            old_op, new_op = old_item[method], new_paths[path][method]
            problems += _parameter_changes(old, old_op, new, new_op, where)
            old_body = _json_schema(old_op.get("requestBody"))
            new_body = _json_schema(new_op.get("requestBody"))
            if new_body is not None and old_body is None and new_op["requestBody"].get("required"):
                problems.append(f"{where}: request body newly required")
            if old_body is not None and new_body is not None:
                problems += _request_changes(old, old_body, new, new_body, f"{where} body")
            for status, old_response in old_op.get("responses", {}).items():
                if not str(status).startswith("2"):
                    continue
                new_response = new_op.get("responses", {}).get(status)
                if new_response is None:
                    problems.append(f"{where}: response {status} removed")
                    continue
                old_schema, new_schema = _json_schema(old_response), _json_schema(new_response)
                if old_schema is not None and new_schema is not None:
                    problems += _response_changes(
                        old, old_schema, new, new_schema, f"{where} response {status}"
                    )
    return problems
