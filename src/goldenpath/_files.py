"""Reading a repository's file without being led out of it by a symbolic link.

A repository is someone else's to write: a link in it can point at the reader's own files
(`/proc/self/environ`, a key) or at `/dev/zero`, and what a tool reads of it may reach its
output. The audit and the update tools read through here.
"""

from __future__ import annotations

import os
from pathlib import Path


class OutsideError(OSError):
    """A path that leads, through a symbolic link, out of the tree being read."""


class LinkError(OSError):
    """A file that must be a file of its own is a symbolic link."""


def read_inside(root: Path, full: Path, limit: int, *, follow_links: bool = True) -> bytes | None:
    """The bytes of `full`, a file under `root` (None: over `limit` bytes). A link out of
    `root` is an OutsideError; with `follow_links` False, any link is a LinkError (for a file
    that is never a link where it comes from, like the answers file Copier writes)."""
    if not follow_links and full.is_symlink():
        raise LinkError(f"a symbolic link (to {os.readlink(full)}), not a file")
    target = full.resolve()
    if not target.is_relative_to(root):
        raise OutsideError(f"a symbolic link to {target}, outside the repository")
    if full.stat().st_size > limit:
        return None
    return full.read_bytes()
