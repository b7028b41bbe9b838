"""Object-level authorization (SEC-6, OWASP API1): every object has an owner, and every query a
repository runs is filtered by it.

An owner is a string, `Principal.owner`: `user:<sub>` for a user (its bearer tokens and its
browser session share it), `key:<key id>` for an API key, and `tenant:<claim>` when
`AUTH_JWT_TENANT_CLAIM` is set, so that every user of a tenant shares the tenant's objects. A
domain states once which scope may cross owners:

    ITEMS = Ownership(domain="items", admin_scope="items:admin")

its service asks, for each operation, what a principal may reach:

    access = ITEMS.access(principal, "update")

and its repository adds `access.criterion(Item.owner)` to every query's WHERE clause: the
caller's own rows, or every row when the caller holds the admin scope. Filtering in the query,
never checking after loading, makes another owner's object a 404 like a missing one (its
existence is not leaked), and leaves nothing to forget between the load and the check. The
repository hands what it found to `access.reached(...)`, which logs each object of another owner
that the admin scope reached: one line per object, at warning level, so that no log level hides
it.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Protocol

from sqlalchemy import ColumnElement, true
from sqlalchemy.orm import QueryableAttribute

from ..domain import SCOPE_PATTERN
from ..logging import get_logger
from .principal import Principal

# Room for every owner: "tenant:" or "user:" and up to 255 characters (see jwt.py).
OWNER_MAX_LENGTH = 300

_log = get_logger(__name__)


class Owned(Protocol):
    """What `OwnerAccess.reached` reads of an object: a model with `id` and `owner` columns."""

    @property
    def id(self) -> object: ...

    @property
    def owner(self) -> str: ...


@dataclass(frozen=True, slots=True)
class Ownership:
    """Who may reach one domain's objects: their owner, or a principal holding `admin_scope`."""

    domain: str
    admin_scope: str

    def __post_init__(self) -> None:
        if not self.domain:
            raise ValueError("an Ownership needs the domain's name")
        if not SCOPE_PATTERN.fullmatch(self.admin_scope):
            raise ValueError(f"{self.admin_scope!r} is not a scope name (e.g. items:admin)")

    def access(self, principal: Principal, action: str) -> OwnerAccess:
        """What `principal` may reach for `action` (read, list, update, delete, ...)."""
        return OwnerAccess(
            principal=principal,
            ownership=self,
            action=action,
            all_owners=self.admin_scope in principal.scopes,
        )


@dataclass(frozen=True, slots=True)
class OwnerAccess:
    """One operation's reach: the principal's own objects, or all of them under the admin scope."""

    principal: Principal
    ownership: Ownership
    action: str
    all_owners: bool

    @property
    def owner(self) -> str:
        """The principal's owner: what it creates belongs to it."""
        return self.principal.owner

    def criterion(
        self, column: QueryableAttribute[str] | ColumnElement[str]
    ) -> ColumnElement[bool]:
        """The owner filter for a query's `where(...)`, on the table's owner column."""
        if self.all_owners:
            return true()
        return column == self.owner

    def own_only(self) -> OwnerAccess:
        """The same operation without the admin scope's reach (for a per-owner cache)."""
        return dataclasses.replace(self, all_owners=False)

    def reached(self, objects: Iterable[Owned]) -> None:
        """Log every object of another owner among `objects` (only the admin scope reaches one)."""
        for found in objects:
            if found.owner != self.owner:
                _log.warning(
                    "ownership_crossed",
                    domain=self.ownership.domain,
                    action=self.action,
                    object_id=str(found.id),
                    object_owner=found.owner,
                    principal=self.principal.subject,
                    method=self.principal.method,
                    tenant=self.principal.tenant,
                    scope=self.ownership.admin_scope,
                )
