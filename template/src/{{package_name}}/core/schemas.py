"""What every request model shares (SEC-1): unknown fields refused, text the database can store.

The JSON Schema of each field is the contract (contract tests hold the service to it), so
rules live in it as far as JSON Schema can say them: no NUL characters (PostgreSQL text cannot
hold them), names without surrounding whitespace. What it cannot say, lone UTF-16 surrogates
(valid in a JSON string, not encodable as UTF-8), is refused by a validator with a clear error.
"""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, field_validator

# No ASCII whitespace first or last, no NUL anywhere, one line. Explicit classes, not `\s`:
# regex dialects disagree on which Unicode characters `\s` matches, and clients must not.
NAME_PATTERN = r"^[^ \t\n\r\f\v\x00](?:[^\x00\n\r]*[^ \t\n\r\f\v\x00])?$"
# Free text: anything but NUL.
TEXT_PATTERN = r"^[^\x00]*$"


def name_field(max_length: int, example: str) -> Any:
    return Field(min_length=1, max_length=max_length, pattern=NAME_PATTERN, examples=[example])


Text = Annotated[str, Field(pattern=TEXT_PATTERN)]


def omit_null(schema: dict[str, Any]) -> None:
    """`json_schema_extra` for optional fields and headers: "may be omitted", not "may be null"."""
    variants = schema.pop("anyOf", [])
    schema.update(next((v for v in variants if v.get("type") != "null"), {}))
    schema.pop("default", None)


class RequestModel(BaseModel):
    # A typo in a field name must be an error, not silently ignored.
    model_config = ConfigDict(extra="forbid")

    @field_validator("*", mode="after")
    @classmethod
    def _encodable(cls, value: object) -> object:
        if isinstance(value, str):
            try:
                value.encode("utf-8")
            except UnicodeEncodeError:
                raise ValueError("contains characters that are not valid Unicode") from None
        return value
