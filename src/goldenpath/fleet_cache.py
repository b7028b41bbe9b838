"""Update outcomes the fleet view worked out before, kept across runs.

Trying a service's update (a private clone, `copier update`, a render of the release) takes
seconds, and a fleet inspected every night is mostly services nobody committed to since the
last run, against a template that did not move. The outcome is a function of the service's
last commit, the target release's commit and this tool (its code and Copier's version), so it
is kept under a hash of those and reused while all of them hold. A failed try is never kept:
its cause may be passing (the network, a full disk).

Entries are small JSON files, one per key, written whole or not at all; one unused for
`MAX_AGE_DAYS` is removed when a run opens the folder.
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import json
import os
import tempfile
import threading
import time
from dataclasses import dataclass
from importlib.metadata import version
from pathlib import Path

MAX_AGE_DAYS = 30
# The outcomes worth keeping (fleet.py's CLEAN and CONFLICTS): a failed try is never kept.
KEPT_OUTCOMES = frozenset({"clean", "conflicts"})
# Bumped when an entry's shape changes, so an older tool's entries are never read as new ones.
FORMAT = 1
_PACKAGE = Path(__file__).resolve().parent


@dataclass(frozen=True)
class UpdateOutcome:
    """What trying the update found: "clean" or "conflicts", and the paths a person must see."""

    update: str
    conflicts: tuple[str, ...]
    deleted: tuple[str, ...]


def default_folder() -> Path:
    """`$GOLDENPATH_CACHE_DIR`, else `goldenpath/fleet` in the user's cache folder (XDG)."""
    chosen = os.environ.get("GOLDENPATH_CACHE_DIR")
    if chosen:
        return Path(chosen).expanduser()
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "goldenpath" / "fleet"


@functools.cache
def tool_fingerprint() -> str:
    """This tool's code, file by file, and Copier's version: what else decides an outcome."""
    digest = hashlib.sha256(f"copier {version('copier')}\nformat {FORMAT}\n".encode())
    for path in sorted(_PACKAGE.rglob("*.py")):
        digest.update(path.relative_to(_PACKAGE).as_posix().encode() + b"\0")
        digest.update(path.read_bytes() + b"\0")
    return digest.hexdigest()


def _outcome(stored: object) -> UpdateOutcome:
    """An entry read back, or ValueError when it is not one this tool wrote."""
    if not isinstance(stored, dict) or stored.get("update") not in KEPT_OUTCOMES:
        raise ValueError("not an outcome")
    return UpdateOutcome(
        str(stored["update"]), _paths(stored.get("conflicts")), _paths(stored.get("deleted"))
    )


def _paths(stored: object) -> tuple[str, ...]:
    if not isinstance(stored, list) or not all(isinstance(path, str) for path in stored):
        raise ValueError("not a list of paths")
    return tuple(stored)


def outcome_key(service_commit: str, target_commit: str) -> str:
    """The key of an outcome: the service's last commit, the release's, and this tool."""
    parts = f"{service_commit}\n{target_commit}\n{tool_fingerprint()}"
    return hashlib.sha256(parts.encode()).hexdigest()


class OutcomeCache:
    """A folder of outcomes by key, shared by the fleet view's threads; counts its hits."""

    def __init__(self, folder: Path, *, max_age_days: float = MAX_AGE_DAYS) -> None:
        try:
            folder.mkdir(parents=True, exist_ok=True)
        except OSError as error:
            raise OSError(f"cannot use {folder} as the fleet's cache folder: {error}") from error
        if not folder.is_dir():
            raise OSError(f"cannot use {folder} as the fleet's cache folder: not a folder")
        self.folder = folder
        self.hits = 0
        self._lock = threading.Lock()
        self._forget_older_than(time.time() - max_age_days * 86_400)

    def _path(self, key: str) -> Path:
        return self.folder / f"{key}.json"

    def _forget_older_than(self, cutoff: float) -> None:
        # Entries, and what a run stopped mid-write left behind.
        for entry in [*self.folder.glob("*.json"), *self.folder.glob(".*.tmp")]:
            try:
                if entry.stat().st_mtime < cutoff:
                    entry.unlink()
            except OSError:
                continue  # another run removed it first, or it is not ours to remove

    def get(self, key: str) -> UpdateOutcome | None:
        path = self._path(key)
        try:
            found = _outcome(json.loads(path.read_text(encoding="utf-8")))
            os.utime(path)  # used: it stays another MAX_AGE_DAYS
        except FileNotFoundError:
            return None
        except (OSError, ValueError):
            with contextlib.suppress(OSError):
                path.unlink(missing_ok=True)  # unreadable: worked out again, and written anew
            return None
        with self._lock:
            self.hits += 1
        return found

    def put(self, key: str, outcome: UpdateOutcome) -> bool:
        """Keep `outcome`; False when it could not be written (the run goes on without it)."""
        document = {
            "update": outcome.update,
            "conflicts": list(outcome.conflicts),
            "deleted": list(outcome.deleted),
        }
        # Written beside the entry, then renamed over it: a reader sees all of it or none.
        try:
            handle, temporary = tempfile.mkstemp(dir=self.folder, prefix=".", suffix=".tmp")
        except OSError:
            return False
        try:
            with os.fdopen(handle, "w", encoding="utf-8") as file:
                json.dump(document, file)
            Path(temporary).replace(self._path(key))
        except OSError:
            Path(temporary).unlink(missing_ok=True)
            return False
        return True
