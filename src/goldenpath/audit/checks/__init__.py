"""One check per standard, grouped by area; importing this package registers them all."""

from __future__ import annotations

# Imported for their @check registrations.
from . import (
    api,
    architecture,
    authorization,
    configuration,
    data,
    devops,
    infrastructure,
    observability,
    performance,
    resilience,
    security,
    template,
    testing,
)
from ._base import REGISTRY, Assessment, NotApplicable

AREA_MODULES = (
    infrastructure, security, authorization, observability, data, performance, testing,
    configuration, resilience, api, devops, architecture, template,
)  # fmt: skip

__all__ = ["AREA_MODULES", "REGISTRY", "Assessment", "NotApplicable"]
