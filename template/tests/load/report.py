"""Read what Locust measured (its CSV statistics) and judge it against the thresholds file."""

from __future__ import annotations

import csv
import tomllib
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

AGGREGATE = "Aggregated"


@dataclass(frozen=True)
class RequestStats:
    """One row of Locust's statistics: a request name, or the aggregate of all of them."""

    name: str
    requests: int
    failures: int
    requests_per_second: float
    p50_ms: float | None
    p95_ms: float | None
    p99_ms: float | None

    @property
    def error_rate(self) -> float:
        return self.failures / self.requests if self.requests else 0.0

    def summary(self) -> str:
        def ms(value: float | None) -> str:
            return "n/a" if value is None else f"{value:.0f} ms"

        return (
            f"{self.requests_per_second:.1f} req/s, p50 {ms(self.p50_ms)}, p95 {ms(self.p95_ms)}, "
            f"p99 {ms(self.p99_ms)}, errors {self.error_rate:.2%} "
            f"({self.failures} of {self.requests})"
        )


@dataclass(frozen=True)
class Limits:
    max_error_rate: float | None = None
    max_p95_ms: float | None = None
    min_requests: int | None = None


@dataclass(frozen=True)
class Thresholds:
    aggregate: Limits
    requests: Mapping[str, Limits] = field(default_factory=dict)


def _limits(table: Mapping[str, Any], where: str) -> Limits:
    known = {"max_error_rate", "max_p95_ms", "min_requests"}
    unknown = set(table) - known
    if unknown:
        raise ValueError(f"{where}: unknown thresholds {sorted(unknown)}; known: {sorted(known)}")
    return Limits(**table)


def load_thresholds(path: Path) -> Thresholds:
    """The thresholds file; a typo in a key is an error, never a silently absent threshold."""
    document = tomllib.loads(path.read_text())
    requests = document.get("requests", {})
    return Thresholds(
        aggregate=_limits(document.get("aggregate", {}), f"{path} [aggregate]"),
        requests={
            name: _limits(table, f"{path} [requests.{name!r}]") for name, table in requests.items()
        },
    )


def _number(text: str) -> float | None:
    try:
        return float(text)
    except ValueError:
        return None  # Locust writes "N/A" for a request that was never answered


def read_stats(csv_path: Path) -> dict[str, RequestStats]:
    """Locust's `<prefix>_stats.csv`, keyed "<METHOD> <name>" (and "Aggregated")."""
    stats: dict[str, RequestStats] = {}
    with csv_path.open(newline="") as file:
        for row in csv.DictReader(file):
            key = AGGREGATE if row["Name"] == AGGREGATE else f"{row['Type']} {row['Name']}"
            stats[key] = RequestStats(
                name=key,
                requests=int(row["Request Count"]),
                failures=int(row["Failure Count"]),
                requests_per_second=float(row["Requests/s"]),
                p50_ms=_number(row["50%"]),
                p95_ms=_number(row["95%"]),
                p99_ms=_number(row["99%"]),
            )
    return stats


def read_failures(csv_path: Path, *, limit: int = 5) -> list[str]:
    """The most frequent failures from Locust's `<prefix>_failures.csv`."""
    if not csv_path.exists():
        return []
    with csv_path.open(newline="") as file:
        rows = sorted(csv.DictReader(file), key=lambda row: -int(row["Occurrences"]))
    return [
        f"{row['Occurrences']} x {row['Method']} {row['Name']}: {row['Error']}"
        for row in rows[:limit]
    ]


def _check(stats: RequestStats, limits: Limits) -> list[str]:
    violations = []
    if limits.min_requests is not None and stats.requests < limits.min_requests:
        violations.append(
            f"{stats.name}: {stats.requests} requests, fewer than the {limits.min_requests} "
            "a run needs to mean anything"
        )
    if limits.max_error_rate is not None and stats.error_rate > limits.max_error_rate:
        violations.append(
            f"{stats.name}: error rate {stats.error_rate:.2%} > {limits.max_error_rate:.2%}"
        )
    if limits.max_p95_ms is not None and (stats.p95_ms or 0) > limits.max_p95_ms:
        violations.append(f"{stats.name}: p95 {stats.p95_ms:.0f} ms > {limits.max_p95_ms:.0f} ms")
    return violations


def evaluate(stats: Mapping[str, RequestStats], thresholds: Thresholds) -> list[str]:
    """Every threshold the run passed, as sentences; empty when the run is within all of them."""
    aggregate = stats.get(AGGREGATE)
    if aggregate is None:
        return ["Locust reported no statistics: no request was made"]
    violations = _check(aggregate, thresholds.aggregate)
    for name, limits in thresholds.requests.items():
        if name not in stats:
            violations.append(f"{name}: never requested; the scenario and thresholds disagree")
        else:
            violations += _check(stats[name], limits)
    return violations


def as_json(stats: Mapping[str, RequestStats]) -> dict[str, dict[str, Any]]:
    return {name: asdict(row) | {"error_rate": row.error_rate} for name, row in stats.items()}
