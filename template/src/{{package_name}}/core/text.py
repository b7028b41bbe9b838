"""Text that every store, log and screen can hold (SEC-1): patterns for request schemas.

PostgreSQL cannot store NUL in a text column (the insert fails, which would be a 500), control
characters forge log lines and garble terminals, and bidirectional overrides make a name
display as something else ("Trojan Source", CVE-2021-42574). Names and other one-line fields
refuse all of them; free text refuses the same except tabs and line breaks. Emoji, combining
marks and right-to-left scripts are ordinary text and pass. Lone surrogates never get this far:
pydantic refuses a string that is not valid Unicode.

They are JSON Schema patterns (`Field(pattern=...)`), so the OpenAPI document states the rule
and contract tests generate only text the service accepts.
"""

from __future__ import annotations

# C0 controls, DEL and C1 controls; then the bidi embeddings, overrides and isolates.
_CONTROLS = r"\x00-\x1f\x7f-\x9f"
_CONTROLS_EXCEPT_TAB_AND_NEWLINES = r"\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f"
_BIDI_CONTROLS = r"\u202a-\u202e\u2066-\u2069"

SINGLE_LINE = rf"^[^{_CONTROLS}{_BIDI_CONTROLS}]*$"
"""One line of plain text: no control characters, no bidirectional controls."""

MULTI_LINE = rf"^[^{_CONTROLS_EXCEPT_TAB_AND_NEWLINES}]*$"
"""Free text: tabs and line breaks allowed, other control characters not."""
