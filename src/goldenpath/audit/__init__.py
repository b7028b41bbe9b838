"""The standards audit: score any Python service repository against the standards catalogue.

    from goldenpath.audit import audit
    report = audit(Path("../acme-orders"))
    report.score, report.result("SEC-3").status

The command line is `goldenpath audit PATH` (see `goldenpath audit --help` and docs/audit.md).
"""

from __future__ import annotations

from .model import Report, StandardResult, Status
from .runner import audit

__all__ = ["Report", "StandardResult", "Status", "audit"]
