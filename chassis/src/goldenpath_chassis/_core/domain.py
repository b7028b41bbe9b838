"""A domain, declared once: its routes, tables, scopes, jobs and commands (ARCH-1).

A service lists its domains in one place; the API's routes, the migrations' metadata, the
scopes that tokens and API keys may carry, the worker's job handlers and the command line are
all derived from that list, as Django derives them from its installed apps. Adding a domain is
its own package, one line in that list, and one migration.
"""

from __future__ import annotations

import argparse
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # a declaration imports nothing heavy: `--help` and the health check stay fast
    from fastapi import APIRouter

    from .models import Base
    from .service import Service
    from .worker import JobHandler

type Subcommands = argparse._SubParsersAction[argparse.ArgumentParser]
type CommandRegistrar = Callable[[Subcommands, "Service"], None]
"""Adds one subcommand (and its handler) to `python -m <package>`."""

# The same rule as `security.scopes.SCOPE_PATTERN` (kept here so that it imports nothing).
SCOPE_PATTERN = re.compile(r"[a-z][a-z0-9_.-]*(:[a-z0-9_.-]+)*")
_NAME = re.compile(r"[a-z][a-z0-9_-]*")


@dataclass(frozen=True, kw_only=True)
class Domain:
    """What one domain contributes to the service. Everything but `name` is optional."""

    name: str
    routers: Sequence[APIRouter] = ()
    # Its tables: importing them registers them in the shared metadata that migrations compare.
    models: Sequence[type[Base]] = ()
    # Scope name -> what it allows, for the docs and `dev-token --help`.
    scopes: Mapping[str, str] = field(default_factory=dict)
    # Job kind -> handler, run by the worker (ARCH-3).
    jobs: Mapping[str, JobHandler] = field(default_factory=dict)
    commands: Sequence[CommandRegistrar] = ()

    def __post_init__(self) -> None:
        if not _NAME.fullmatch(self.name):
            raise ValueError(f"{self.name!r} is not a domain name (lower case, e.g. items)")
        for scope in self.scopes:
            if not SCOPE_PATTERN.fullmatch(scope):
                raise ValueError(f"domain {self.name}: {scope!r} is not a scope (e.g. items:read)")


def check_domains(domains: Iterable[Domain]) -> tuple[Domain, ...]:
    """The domains in order, refusing two of one name, one scope or one job kind."""
    listed = tuple(domains)
    for what, keys in (
        ("domain", [domain.name for domain in listed]),
        ("scope", [scope for domain in listed for scope in domain.scopes]),
        ("job kind", [kind for domain in listed for kind in domain.jobs]),
    ):
        repeated = sorted({key for key in keys if keys.count(key) > 1})
        if repeated:
            raise ValueError(f"{what} declared twice: {', '.join(repeated)}")
    return listed
