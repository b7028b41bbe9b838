"""Stored free text printed by the commands (`api-keys list`, `jobs list-failed`): one line.

A tab or line break in a value would start a new column or row for the script reading the
output; an escape sequence (ESC, other C0 and C1 controls) would reach the operator's terminal;
a bidirectional override (U+202E) would make the row read differently from what it holds.
Such characters are refused where a value is made (`unsafe_character`), and escaped wherever a
stored value is printed (`one_line`), so rows made before a check cannot spoof either.

The characters are the Unicode categories of controls (Cc), formatting characters (Cf: the
bidirectional controls, zero-width characters), lone surrogates (Cs: undecodable bytes of a
command line) and the line and paragraph separators (Zl, Zp, which `str.splitlines` splits on).
"""

from __future__ import annotations

import unicodedata

UNSAFE_CATEGORIES = frozenset({"Cc", "Cf", "Cs", "Zl", "Zp"})
_NAMED = {"\t": "\\t", "\n": "\\n", "\r": "\\r", "\\": "\\\\"}


def _is_unsafe(character: str) -> bool:
    return unicodedata.category(character) in UNSAFE_CATEGORIES


def _escaped(character: str) -> str:
    named = _NAMED.get(character)
    if named is not None:
        return named
    code = ord(character)
    if code <= 0xFF:
        return f"\\x{code:02x}"
    if code <= 0xFFFF:
        return f"\\u{code:04x}"
    return f"\\U{code:08x}"


def one_line(text: str) -> str:
    """`text` with every unsafe character as a Python-style escape (and `\\` doubled, so that an
    escape printed is never confused with the same characters stored)."""
    if text.isprintable() and "\\" not in text:  # the common case; isprintable is stricter
        return text
    return "".join(
        _escaped(character) if character == "\\" or _is_unsafe(character) else character
        for character in text
    )


def unsafe_character(text: str) -> str | None:
    """The first unsafe character of `text` as `U+XXXX`, or None when it has none."""
    for character in text:
        if _is_unsafe(character):
            return f"U+{ord(character):04X}"
    return None
