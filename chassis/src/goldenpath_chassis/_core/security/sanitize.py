"""HTML sanitizing for free-text fields that may hold markup (SEC-1), with nh3.

nh3 binds ammonia (Rust), an allow-list sanitizer built on html5ever, the parser browsers use:
what it keeps is parsed the way a browser would parse it. bleach, the old Python choice, is
deprecated. Sanitizing on the way in means every reader of the stored text (this API, a web
page, an e-mail) gets inert markup, whether or not it escapes on output.

Kept: basic formatting and links (http, https and mailto `href`, and `title`). Every link gets
`rel="noopener noreferrer nofollow"` (a `rel` the client sent is replaced): a page that renders
it opens no link with access to itself, sends no `Referer`, and lends no ranking to what users
post. Removed: scripts and styles with their content, event handlers, every other tag and
attribute (`target` among them), and comments. Text is escaped (`<` becomes `&lt;`) and links
gain their `rel`, so the stored form may be longer than what was sent; `sanitized_html` checks
the stored form's length.
"""

from __future__ import annotations

from typing import Annotated

import nh3
from pydantic import AfterValidator

ALLOWED_TAGS = frozenset(
    {"a", "b", "blockquote", "br", "code", "em", "i", "li", "ol", "p", "pre", "strong", "ul"}
)
_CLEANER = nh3.Cleaner(
    tags=set(ALLOWED_TAGS),
    clean_content_tags={"script", "style"},
    attributes={"a": {"href", "title"}},
    url_schemes={"http", "https", "mailto"},
    link_rel="noopener noreferrer nofollow",
    strip_comments=True,
)


def sanitize_html(value: str) -> str:
    return _CLEANER.clean(value)


def sanitized_html(max_length: int) -> AfterValidator:
    """A validator that sanitizes, then checks the length of what will be stored."""

    def clean(value: str) -> str:
        cleaned = sanitize_html(value)
        if len(cleaned) > max_length:
            raise ValueError(f"is longer than {max_length} characters once sanitized")
        return cleaned

    return AfterValidator(clean)


SanitizedHtml = Annotated[str, AfterValidator(sanitize_html)]
