"""Parsing Python the running interpreter may not fully understand, and saying what was lost.

`ast.parse` understands only its own Python's grammar. Services move faster than the audit's
interpreter: polar's server uses Python 3.14's `except A, B:` (PEP 758) and template strings
(PEP 750), which Python 3.13 refuses. Rather than skip such a file, the audit rewrites those two
forms into their 3.13 equivalents with the same meaning for its purposes (`except (A, B):`, an
f-string) and parses the result.

A file that still does not parse (a Python 2 leftover, a Jinja template, a 10,000-term
expression that exhausts the parser's recursion) is parsed one top-level statement at a time:
what parses is kept, and the report lists the file with the lines it could not read.
"""

from __future__ import annotations

import ast
import io
import itertools
import sys
import tokenize
import warnings
from dataclasses import dataclass

_CLAUSES = frozenset({"else", "elif", "except", "finally"})
_T_PREFIXES = frozenset({"t", "tr", "rt"})


@dataclass(frozen=True)
class Parsed:
    tree: ast.Module | None
    rewritten: bool = False  # read through the Python 3.14 rewrite
    problem: str | None = None  # what could not be read, for the report


def _why(error: BaseException, *, line: bool = True) -> str:
    if isinstance(error, RecursionError):
        return "nested too deeply for Python's parser"
    if isinstance(error, SyntaxError):
        where = f" (line {error.lineno})" if error.lineno and line else ""
        return f"unparseable: {error.msg}{where}"
    return f"unparseable: {type(error).__name__}"


def parse_quietly(text: str, path: str = "<unknown>") -> ast.Module:
    """`ast.parse` without the SyntaxWarnings (an invalid escape like "\\d") that Python would
    print for the audited service's code: they are the service's to fix, not the audit's
    output, and on a large repository they bury the report's own lines."""
    # Under -W error they would also turn a readable file into a syntax error.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", SyntaxWarning)
        return ast.parse(text, filename=path)


def _tokens(text: str) -> list[tokenize.TokenInfo] | None:
    try:
        return list(tokenize.generate_tokens(io.StringIO(text).readline))
    except (tokenize.TokenError, SyntaxError, ValueError):
        return None


def _splice(text: str, edits: list[tuple[int, int, int, str]]) -> str:
    """Apply (row, column, length, replacement) edits, rows 1-based, from the end backwards."""
    lines = text.splitlines(keepends=True)
    for row, column, length, replacement in sorted(edits, reverse=True):
        line = lines[row - 1]
        lines[row - 1] = line[:column] + replacement + line[column + length :]
    return "".join(lines)


def _except_groups(tokens: list[tokenize.TokenInfo]) -> list[tuple[int, int, int, str]]:
    """Parentheses around `except A, B:` (and `except* A, B:`), as Python 3.14 allows."""
    edits = []
    significant = [t for t in tokens if t.type not in {tokenize.NL, tokenize.COMMENT}]
    for index, token in enumerate(significant):
        if token.type != tokenize.NAME or token.string != "except":
            continue
        before = significant[index - 1] if index else None
        if before is not None and before.type not in {
            tokenize.NEWLINE,
            tokenize.INDENT,
            tokenize.DEDENT,
        }:
            continue
        start = index + 1
        if start < len(significant) and significant[start].string == "*":
            start += 1
        depth, comma, end = 0, False, None
        for position in range(start, len(significant)):
            item = significant[position]
            if item.type == tokenize.OP and item.string in "([{":
                depth += 1
            elif item.type == tokenize.OP and item.string in ")]}":
                depth -= 1
            elif depth == 0 and item.string == ",":
                comma = True
            elif depth == 0 and item.type == tokenize.NAME and item.string == "as":
                break  # 3.14 still needs parentheses with `as`: nothing to rewrite
            elif depth == 0 and item.string == ":":
                end = position
                break
            elif item.type == tokenize.NEWLINE:
                break
        if comma and end is not None and end > start:
            first, colon = significant[start], significant[end]
            edits.append((first.start[0], first.start[1], 0, "("))
            edits.append((colon.start[0], colon.start[1], 0, ")"))
    return edits


def _template_strings(tokens: list[tokenize.TokenInfo]) -> list[tuple[int, int, int, str]]:
    """`t"..."` (a template string, 3.14) read as the f-string it renders like."""
    edits = []
    for token, following in itertools.pairwise(tokens):
        if (
            token.type == tokenize.NAME
            and token.string.lower() in _T_PREFIXES
            and following.type == tokenize.STRING
            and following.start == token.end
        ):
            prefix = token.string.lower().replace("t", "f")
            edits.append((token.start[0], token.start[1], len(token.string), prefix))
    return edits


def rewrite_314(text: str) -> str | None:
    """`text` with the Python 3.14 forms this interpreter lacks rewritten, or None if none."""
    tokens = _tokens(text)
    if tokens is None:
        return None
    edits = _except_groups(tokens) + _template_strings(tokens)
    return _splice(text, edits) if edits else None


def _statements(text: str) -> list[tuple[int, int]] | None:
    """(first, last) lines of each top-level statement, a decorator or clause kept with its
    statement; None when the text cannot even be tokenized."""
    tokens = _tokens(text)
    if tokens is None:
        return None
    starts: list[tuple[int, str]] = []
    depth = 0
    at_start = True
    for token in tokens:
        if token.type == tokenize.INDENT:
            depth += 1
        elif token.type == tokenize.DEDENT:
            depth -= 1
        elif token.type == tokenize.NEWLINE:
            at_start = True
        elif token.type in {tokenize.NL, tokenize.COMMENT, tokenize.ENDMARKER}:
            continue
        elif at_start:
            at_start = False
            if depth == 0:
                starts.append((token.start[0], token.string))
    merged: list[int] = []
    previous = ""
    for line, word in starts:
        if merged and (word in _CLAUSES or previous == "@"):
            previous = word
            continue
        merged.append(line)
        previous = word
    total = text.count("\n") + 1
    return [
        (first, (merged[index + 1] - 1) if index + 1 < len(merged) else total)
        for index, first in enumerate(merged)
    ]


def _tolerant(text: str, path: str) -> tuple[ast.Module | None, list[str]]:
    """Parse statement by statement; (the statements that parse, what was skipped)."""
    spans = _statements(text)
    if not spans:
        return None, []
    lines = text.splitlines(keepends=True)
    body: list[ast.stmt] = []
    skipped: list[str] = []
    for first, last in spans:
        chunk = "".join(lines[first - 1 : last])
        try:
            tree = parse_quietly(chunk, path)
        except (SyntaxError, ValueError, RecursionError, MemoryError) as error:
            span = f"line {first}" if first == last else f"lines {first}-{last}"
            skipped.append(f"{span} {_why(error, line=False)}")
            continue
        ast.increment_lineno(tree, first - 1)
        body.extend(tree.body)
    if not body:
        return None, skipped
    return ast.Module(body=body, type_ignores=[]), skipped


def parse_source(text: str, path: str) -> Parsed:
    """Parse `text`, with the 3.14 rewrite and the statement-by-statement fallback."""
    try:
        return Parsed(parse_quietly(text, path))
    except (SyntaxError, ValueError, RecursionError, MemoryError) as error:
        first_error: BaseException = error
    rewritten = rewrite_314(text) if sys.version_info < (3, 14) else None
    if rewritten is not None:
        try:
            return Parsed(parse_quietly(rewritten, path), rewritten=True)
        except (SyntaxError, ValueError, RecursionError, MemoryError):
            pass
    tree, skipped = _tolerant(rewritten or text, path)
    if tree is None:
        return Parsed(None, problem=_why(first_error))
    shown = "; ".join(skipped[:3]) + (f"; +{len(skipped) - 3} more" if len(skipped) > 3 else "")
    return Parsed(
        tree,
        rewritten=rewritten is not None,
        problem=f"partly read: {shown}; the other statements were read",
    )
