"""What every request model shares (SEC-1): unknown fields refused, text every store can hold.

PostgreSQL cannot store NUL in a text column (the insert fails, which would be a 500), control
characters forge log lines and garble terminals, and bidirectional overrides make a name
display as something else ("Trojan Source", CVE-2021-42574). Names refuse all of them and
surrounding spaces; free text refuses the same except tabs and line breaks. Emoji, combining
marks and right-to-left scripts are ordinary text and pass.

The rules are JSON Schema patterns, so the OpenAPI document states them and contract tests
generate only text the service accepts. Explicit character classes, never a whitespace class:
regex dialects disagree on which Unicode characters it matches, and clients must not. What a
pattern cannot say, lone UTF-16 surrogates (valid in a JSON string, not encodable as UTF-8), a
validator refuses with a clear error.
"""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, field_validator

# C0 controls, DEL and C1 controls; then the bidi embeddings, overrides and isolates.
_CONTROLS = r"\x00-\x1f\x7f-\x9f"
_CONTROLS_EXCEPT_TAB_AND_NEWLINES = r"\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f"
_BIDI_CONTROLS = r"\u202a-\u202e\u2066-\u2069"
_EDGE = rf"[^ {_CONTROLS}{_BIDI_CONTROLS}]"

NAME_PATTERN = rf"^{_EDGE}(?:[^{_CONTROLS}{_BIDI_CONTROLS}]*{_EDGE})?$"
"""One line of plain text, no controls, not starting or ending with a space."""
TEXT_PATTERN = rf"^[^{_CONTROLS_EXCEPT_TAB_AND_NEWLINES}]*$"
"""Free text: tabs and line breaks allowed, other control characters not."""


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
